"""The failure profile: `funreason eval --json` says where a model fails, per tool, variant, pattern and kind."""

import json
from collections import Counter

from evaluation import FAILURE_KINDS, PATTERNS, Task, TaskTurn, tool_specs_of, turn_patterns
from tests.conftest import funreason, http_server
from tests.evaluation.conftest import ScriptedModel


def _targets(tasks):
    return Counter(turn.target for task in tasks for turn in task.turns if turn.target)


def test_a_model_failing_on_two_tools_fails_exactly_there_and_regrade_agrees(store_path, tasks, tmp_path):
    failing = frozenset(tool for tool, _ in _targets(tasks).most_common(2))
    with http_server(ScriptedModel(tasks, "truth", failing).app) as url:
        outcome = funreason(
            "eval", "--db", str(store_path), "--llm", "openai", "--model", "fails-on-two", "--base-url", f"{url}/v1",
            "--json", str(tmp_path / "eval.json"),
        )  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    profile = json.loads((tmp_path / "eval.json").read_text())["profile"]
    failed = {tool for tool, group in profile["per_tool"].items() if group["failures"]}
    assert failed == failing, "the scripted model catches up later, so only its two tools fail"
    turns = [(task, turn) for task in tasks for turn in task.turns]
    for tool in failing:
        group = profile["per_tool"][tool]
        wanted = sorted({task.id for task, turn in turns if turn.target == tool})
        assert group["attempts"] == group["failures"] == sum(1 for _, turn in turns if turn.target == tool)
        assert group["rate"] == 1.0 and group["failed_tasks"] == group["tasks"] == wanted
    assert profile["attempts"] == len(turns) and profile["failures"] == sum(
        profile["per_tool"][tool]["failures"] for tool in failing
    )
    assert set(profile["per_failure"]) == set(FAILURE_KINDS)
    assert profile["per_failure"]["no_call"]["failures"] == profile["failures"], "it answers in words, no call"
    assert set(profile["per_pattern"]) <= set(PATTERNS) and profile["per_pattern"], "the dialogues have patterns"
    assert sum(group["attempts"] for group in profile["per_variant"].values()) == len(turns)
    assert sorted(profile["held_out"]) == sorted(task.id for task in tasks)
    assert profile["held_out"][tasks[0].id]["queries"] == [turn.query for turn in tasks[0].turns]
    regraded = funreason(
        "eval", "--db", str(store_path), "--regrade", "--llm", "openai", "--model", "fails-on-two",
        "--json", str(tmp_path / "regraded.json"),
    )  # fmt: skip
    assert regraded.returncode == 0, regraded.stderr
    assert json.loads((tmp_path / "regraded.json").read_text())["profile"] == profile


def _task(*turns: TaskTurn) -> Task:
    return Task("t1", "messaging", "default", 0, [], list(turns))


def _call(tool, arguments, result=None):
    return {"tool": tool, "arguments": arguments, "result": result}


def test_each_dependency_pattern_is_found_where_the_turn_has_it_and_nowhere_else():
    specs = tool_specs_of(["messaging"])
    first = TaskTurn(
        "Log in as USR001 and tell Bob 'Lunch at noon?'",
        calls=[
            _call("log_in", {"user_id": "USR001"}, {"logged_in": True}),
            _call("get_user_id", {"user_name": "Bob"}, {"user_id": "USR002"}),
            _call("send_message", {"receiver_id": "USR002", "message": "Lunch at noon?"}, {"message_id": 17}),
        ],
        target="send_message",
    )
    again = TaskTurn(
        "Send him 'Running late.' too",
        calls=[_call("send_message", {"receiver_id": "USR002", "message": "Running late."}, {"message_id": 18})],
        target="send_message",
    )
    delete = TaskTurn(
        "Delete the first message I sent him", calls=[_call("delete_message", {"message_id": 17}, {})], target=None
    )
    said = TaskTurn("Message USR002: 'ok'", calls=[_call("send_message", {"receiver_id": "USR002", "message": "ok"})])
    task = _task(first, again, delete, said)
    assert turn_patterns(task, 0, specs) == ("implicit_state", "parallel_calls")
    assert turn_patterns(task, 1, specs) == ("carried_value",), "USR002 came from a look-up, the request says 'him'"
    assert turn_patterns(task, 2, specs) == ("earlier_object",), "message 17 is what an earlier turn made"
    assert turn_patterns(task, 3, specs) == (), "a value the request states is nothing carried"
    assert turn_patterns(_task(first), 0, {}) == ("parallel_calls",), "an unknown server: by values alone"
