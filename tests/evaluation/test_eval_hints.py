"""`funreason eval --hints`: the model is shown the tools as the hints file describes them, checked as elsewhere."""

from starlette.requests import Request
from starlette.responses import JSONResponse

from evaluation import AttemptStore
from simulator import Store
from tests.conftest import funreason, http_server
from tests.evaluation.conftest import ScriptedModel

SEND = "Send a message to one of your contacts; the receiver's id comes from get_user_id."
HINTS = f"""
[tools.send_message]
description = "{SEND}"

[tools.list_contacts]
read_only = true
description = "The contacts of the user logged in."
"""


class ToolsSeen(ScriptedModel):
    """The scripted model, remembering the tool descriptions each request offered."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seen: dict[str, set[str]] = {}

    async def complete(self, request: Request) -> JSONResponse:
        for tool in (await request.json()).get("tools") or []:
            self.seen.setdefault(tool["function"]["name"], set()).add(tool["function"]["description"])
        return await super().complete(request)


def eval_with(store_path, url, *extra):
    return funreason(
        "eval", "--db", str(store_path), "--llm", "openai", "--model", "hinted", "--base-url", f"{url}/v1", *extra
    )  # fmt: skip


def test_eval_hints_shows_the_file_s_descriptions_and_replays_attempts_shown_otherwise(store_path, tasks, tmp_path):
    hints = tmp_path / "messaging.toml"
    hints.write_text(HINTS, encoding="utf-8")
    model = ToolsSeen(tasks, "truth")
    with http_server(model.app) as url:
        plain = eval_with(store_path, url)
        assert plain.returncode == 0, plain.stderr
        assert model.seen["send_message"] and "get_user_id." not in next(iter(model.seen["send_message"]))
        model.seen.clear()
        hinted = eval_with(store_path, url, "--hints", str(hints), "--json", str(tmp_path / "hinted.json"))
    assert hinted.returncode == 0, hinted.stderr
    assert "turn accuracy 100.0%" in hinted.stderr
    # the attempts played without the hints were shown other tools: played again, with the file's words
    assert model.seen["send_message"] == {SEND}
    assert model.seen["list_contacts"] == {"The contacts of the user logged in."}
    assert len(model.seen) > 2, "the tools the file does not describe are offered as before"
    with Store(store_path) as store:
        attempts = list(AttemptStore(store).iter_attempts("hinted"))
    assert len(attempts) == len(tasks)
    described = {
        tool["function"]["description"]
        for attempt in attempts
        for tool in attempt.task.tools
        if tool["function"]["name"] == "send_message"
    }
    assert described == {SEND}


def test_eval_with_a_hints_file_naming_a_tool_no_task_s_server_lists_is_one_line_and_exit_2(store_path, tmp_path):
    hints = tmp_path / "bad.toml"
    hints.write_text('[tools.book_flight]\nasks = ["Book {flight}."]\n', encoding="utf-8")
    outcome = funreason("eval", "--db", str(store_path), "--hints", str(hints))
    lines = outcome.stderr.strip().splitlines()
    assert outcome.returncode == 2 and len(lines) == 1, outcome.stderr
    assert lines[0].startswith(f"error: {hints}: tools.book_flight: the server lists no tool 'book_flight'")
