"""The OpenAI backend through the real `openai` client, against a scripted local server on 127.0.0.1."""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

import anyio
import pytest

from simulator import ServerTarget, Store, ToolInfo, Trajectory, replay
from synthesizer.errors import EndpointError
from synthesizer.llm import ChatModel, ResponseCache
from synthesizer.plan import Variants
from synthesizer.roles import ModelBackend, query_problem
from synthesizer.samples import SampleStore
from synthesizer.synthesize import SynthesisConfig, synthesize
from tests.conftest import funreason, http_server
from tests.synthesizer.fake_llm import QUERY, ScriptedModel

CONFIG = SynthesisConfig(turns=(2, 2), variants=Variants(0, 0, 0), max_attempts=3)
CALLS = [
    ("log_in", {"user_id": "USR001"}, {"user_id": {"source": "pool", "pool": "user_id"}}),
    ("get_user_id", {"user_name": "Bob"}, {"user_name": {"source": "pool", "pool": "user_name"}}),
    (
        "send_message",
        {"receiver_id": "USR002", "message": "Lunch at noon?"},
        {
            "receiver_id": {"source": "result", "step": 1, "tool": "get_user_id", "field": "user_id"},
            "message": {"source": "pool", "pool": "message"},
        },
    ),
    ("get_user_id", {"user_name": "Catherine"}, {"user_name": {"source": "pool", "pool": "user_name"}}),
    (
        "send_message",
        {"receiver_id": "USR003", "message": "Running late."},
        {
            "receiver_id": {"source": "result", "step": 3, "tool": "get_user_id", "field": "user_id"},
            "message": {"source": "pool", "pool": "message"},
        },
    ),
]


def store_with_one_trajectory(path):
    """A really executed trajectory: log in, look Bob up, message him; look Catherine up, message her."""

    async def execute():
        async with ServerTarget(envs=("messaging",)).connect() as connection:
            return await replay(connection, [(tool, arguments) for tool, arguments, _ in CALLS], seed=0)

    steps, final_hash = anyio.run(execute)
    for step, (_, _, provenance) in zip(steps, CALLS, strict=True):
        step.provenance = provenance
    trajectory = Trajectory(
        id="run-test-000000",
        run_id="run-test",
        index=0,
        env="messaging",
        scenario="default",
        seed=0,
        target="send_message",
        reached=True,
        steps=steps,
        final_state_hash=final_hash,
    )
    with Store(path) as store:
        store.ensure_run("run-test", kind="explore", target="messaging", config={}, seed=0)
        store.save_trajectory(trajectory)
    return path


def run_synthesis(path, base_url, config=CONFIG, **options):
    with Store(path) as cache_store:
        samples = SampleStore(cache_store)
        chat = ChatModel(
            "scripted",
            base_url=base_url,
            api_key="test",
            backoff_s=0.01,
            cache=ResponseCache(samples.cache_get, samples.cache_put),
            **options,
        )
        counts = synthesize(path, config, ModelBackend(chat))
    return counts


def free_port():
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


VERIFIED = {"samples": 1, "verified": 1, "rejected": 0, "pending": 0}


def synthesize_scripted(tmp_path, mode):
    """One trajectory synthesised against a `ScriptedModel(mode)` served on 127.0.0.1: (model, store path, counts)."""
    model = ScriptedModel(mode)
    path = store_with_one_trajectory(tmp_path / "t.db")
    with http_server(model.app) as base:
        counts = run_synthesis(path, f"{base}/v1")
    return model, path, counts


def conversations(model, role_prompt):
    """The messages of every request made to one role, known by the start of its system prompt."""
    return [body["messages"] for body in model.bodies if body["messages"][0]["content"].startswith(role_prompt)]


def only(path, kind):
    with Store(path) as store:
        found = list(getattr(SampleStore(store), f"iter_{kind}")())
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize(
    "mode", ["right", "flaky", "text_only", "needs_jinja", "fenced_json", "python_calls", "thinking"]
)
def test_a_model_that_is_right_gives_a_verified_sample(tmp_path, mode):
    model, path, counts = synthesize_scripted(tmp_path, mode)
    assert counts == VERIFIED
    sample = only(path, "samples")
    assert sample.model == "scripted" and [turn.attempts for turn in sample.dialogue.turns] == [1, 1]
    calls = [c["function"]["name"] for m in sample.messages for c in m.get("tool_calls") or []]
    assert calls == ["get_user_id", "log_in", "send_message"]
    assert sample.dialogue.turns[1].request.startswith(QUERY)
    if mode == "flaky":
        assert model.requests > 3  # two 429s and a 500 were retried
    if mode in ("text_only", "needs_jinja"):
        assert not model.bodies[-1].get("tools")  # after the refusal the tools went into the prompt
    if mode == "thinking":
        reasoning = [m["reasoning"] for m in sample.messages if m.get("reasoning")]
        assert reasoning and all("<think>" not in (m.get("content") or "") for m in sample.messages)


def test_a_missing_tool_turn_is_written_and_offered_later(tmp_path):
    """Regression: its withheld value is a tool name, which write_query split on "." (IndexError)."""
    path = store_with_one_trajectory(tmp_path / "t.db")
    config = SynthesisConfig(turns=(2, 2), variants=Variants(0, 1, 0), max_attempts=3)
    with http_server(ScriptedModel("right").app) as base:
        counts = run_synthesis(path, f"{base}/v1", config)
    assert counts == VERIFIED
    sample = only(path, "samples")
    assert sample.dialogue.turns[0].variant == "missing_tool" and sample.dialogue.turns[0].withheld == "get_user_id"
    assert [tool["function"]["name"] for tool in sample.extra_tools] == ["get_user_id"]
    assert any(m["role"] == "system" and "get_user_id" in m["content"] for m in sample.messages)


def test_a_query_that_is_json_is_refused_and_written_again(tmp_path):
    model, path, counts = synthesize_scripted(tmp_path, "json_query")
    assert counts == VERIFIED
    writes = conversations(model, "You write")
    retries = [messages for messages in writes if len(messages) > 2]
    assert retries and "JSON" in retries[0][-1]["content"]
    assert not any("composes" in messages[1]["content"] for messages in writes)


def test_a_request_wrapped_in_json_is_read_as_the_request_and_the_draft_is_offered(tmp_path):
    model, path, counts = synthesize_scripted(tmp_path, "wrapped_query")
    assert counts == VERIFIED
    writes = conversations(model, "You write")
    assert all(len(messages) == 2 for messages in writes)  # no retry: the fenced object was unwrapped
    assert all(json.loads(messages[1]["content"])["draft"] for messages in writes)
    assert only(path, "samples").dialogue.turns[0].request.startswith(QUERY)
    assert only(path, "samples").dialogue.turns[0].source == "model"


def test_when_every_rewrite_fails_the_draft_stands_and_says_so(tmp_path):
    model, path, counts = synthesize_scripted(tmp_path, "stubborn_query")
    writes = conversations(model, "You write")
    assert len(writes) == 3 and counts["samples"] + counts["rejected"] == 1
    draft = json.loads(writes[0][1]["content"])["draft"]
    acting = conversations(model, "You are an assistant")
    assert acting and acting[0][1] == {"role": "user", "content": draft}  # the model acts on the draft
    if counts["rejected"]:  # this scripted model acts only on its own queries: the reject is its answer's
        assert "query writer" not in only(path, "rejects").reason
    else:
        assert only(path, "samples").dialogue.turns[0].source == "phrasing"


def test_the_endpoint_options_reach_every_request(tmp_path):
    model = ScriptedModel("right")
    path = store_with_one_trajectory(tmp_path / "t.db")
    extra = {"chat_template_kwargs": {"enable_thinking": False}}
    with http_server(model.app) as base:
        run_synthesis(path, f"{base}/v1", max_tokens=256, temperature=0.3, extra_body=extra)
    assert model.bodies and all(
        (b["max_tokens"], b["temperature"], b["chat_template_kwargs"]) == (256, 0.3, {"enable_thinking": False})
        for b in model.bodies
    )


def test_a_wrong_answer_is_corrected_by_the_critics_hint(tmp_path):
    _, path, counts = synthesize_scripted(tmp_path, "wrong_then_right")
    assert counts["verified"] == 1
    sample = only(path, "samples")
    assert [turn.attempts for turn in sample.dialogue.turns] == [1, 2]
    sent = [c["function"]["arguments"] for m in sample.messages for c in m.get("tool_calls") or []]
    assert [call["message"] for call in sent if "message" in call] == ["Running late."]


def test_garbage_is_rejected_with_a_reason_and_the_run_completes(tmp_path):
    _, path, counts = synthesize_scripted(tmp_path, "garbage")
    assert counts == {"samples": 0, "verified": 0, "rejected": 1, "pending": 0}
    reject = only(path, "rejects")
    assert "invalid arguments for send_message" in reject.reason and reject.attempts == 3


def test_the_cache_makes_a_second_run_send_no_request(tmp_path):
    model = ScriptedModel("right")
    path = store_with_one_trajectory(tmp_path / "t.db")
    with http_server(model.app) as base:
        run_synthesis(path, f"{base}/v1")
        first = model.requests
        with Store(path) as store:
            store.db.execute("DELETE FROM samples")
            store.db.conn.commit()
        counts = run_synthesis(path, f"{base}/v1")
    assert counts["verified"] == 1 and first > 0 and model.requests == first


def test_another_endpoint_or_model_is_new_work_not_a_finished_run(tmp_path):
    path = store_with_one_trajectory(tmp_path / "t.db")
    first, second = ScriptedModel("right"), ScriptedModel("right")
    with http_server(first.app) as one, http_server(second.app) as two:
        run_synthesis(path, f"{one}/v1")
        run_synthesis(path, f"{one}/v1")
        assert first.requests > 0 and second.requests == 0
        requests = first.requests
        counts = run_synthesis(path, f"{two}/v1")
    assert first.requests == requests and second.requests > 0
    assert counts["samples"] + counts["rejected"] == 2  # the second is a near-duplicate of the first: rejected


@pytest.mark.parametrize(
    ("mode", "path_part", "advice"),
    [
        (None, "/v1", "is the server running"),
        ("unauthorized", "/v1", "--api-key"),
        ("no_such_model", "/v1", "--model"),
        ("right", "", "--base-url"),
    ],
)
def test_a_misconfigured_endpoint_stops_the_run_and_rejects_nothing(tmp_path, mode, path_part, advice):
    path = store_with_one_trajectory(tmp_path / "t.db")
    if mode is None:
        base = f"http://127.0.0.1:{free_port()}"
        with pytest.raises(EndpointError) as raised:
            run_synthesis(path, base + path_part)
    else:
        with http_server(ScriptedModel(mode).app) as base, pytest.raises(EndpointError) as raised:
            run_synthesis(path, base + path_part)
    message = str(raised.value)
    assert base in message and "scripted" in message and advice in message and "\n" not in message
    with Store(path) as store:
        assert SampleStore(store).counts() == {"samples": 0, "verified": 0, "rejected": 0}


def test_the_command_exits_non_zero_on_a_down_endpoint_and_stores_no_reject(tmp_path):
    path = store_with_one_trajectory(tmp_path / "t.db")
    base = f"http://127.0.0.1:{free_port()}/v1"
    outcome = funreason("synthesize", "--db", str(path), "--llm", "openai", "--model", "m", "--base-url", base)
    assert outcome.returncode == 1
    assert outcome.stderr.startswith(f"error: {base} (model m)") and "Traceback" not in outcome.stderr
    stats = funreason("stats", "--db", str(path), "--json")
    assert '"rejected": 0' in stats.stdout and '"samples": 0' in stats.stdout


def test_a_busy_endpoint_leaves_the_trajectory_pending_for_the_next_run(tmp_path):
    path = store_with_one_trajectory(tmp_path / "t.db")
    with http_server(ScriptedModel("down").app) as base:
        counts = run_synthesis(path, f"{base}/v1", max_retries=2)
    assert counts == {"samples": 0, "verified": 0, "rejected": 0, "pending": 1}
    with http_server(ScriptedModel("right").app) as base:
        assert run_synthesis(path, f"{base}/v1") == VERIFIED


TOOLS = [
    ToolInfo("send_message", "Send a message.", {"type": "object", "properties": {"receiver_id": {}, "message": {}}}),
    ToolInfo("get_user_id", "Look a user up.", {"type": "object", "properties": {"user_name": {}}}),
]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ('{"user_name": "Bob", "message": "Lunch at noon?"}', "JSON"),
        ("1. Look up Bob\n2. Send him Lunch at noon?", "steps"),
        ("Sure! I will send Bob the message Lunch at noon?", "assistant's voice"),
        ("Use send_message to tell Bob: Lunch at noon?", "names the tool send_message"),
        ("Tell Bob I'd like to have lunch.", 'leaves out "Lunch at noon?"'),
        ("Message Bob: Lunch at noon? My id is USR001.", "should have forgotten"),
    ],
)
def test_the_query_check_says_what_is_wrong(query, problem):
    found = query_problem(query, ["Bob", "Lunch at noon?"], TOOLS, "USR001")
    assert found is not None and problem in found


def test_the_query_check_accepts_a_request_in_the_users_words():
    query = "Could you send Bob a note saying Lunch at noon? for 3 people, today."
    assert query_problem(query, ["Bob", "Lunch at noon?", True, 3.0], TOOLS, "USR001") is None


def test_the_endpoint_options_are_config_keys_of_run(tmp_path):
    model = ScriptedModel("generic")
    config = tmp_path / "run.toml"
    with http_server(model.app) as base:
        config.write_text(
            f'llm = "openai"\nmodel = "scripted"\nbase_url = "{base}/v1"\ntimeout = 30\nmax_tokens = 64\n'
            "temperature = 0.5\nconcurrency = 2\nextra_body = {chat_template_kwargs = {enable_thinking = false}}\n"
        )
        outcome = funreason(
            "run", "--config", str(config), "--out", str(tmp_path / "out"), "--envs", "messaging", "--trajectories", "3"
        )
    assert outcome.returncode == 0, outcome.stderr
    assert f"{len(model.bodies)} requests, " in outcome.stderr and "completion tokens/s" in outcome.stderr
    assert model.bodies and all(
        (b["max_tokens"], b["temperature"], b["chat_template_kwargs"]) == (64, 0.5, {"enable_thinking": False})
        for b in model.bodies
    )


def test_extra_body_must_be_a_json_object(tmp_path):
    path = store_with_one_trajectory(tmp_path / "t.db")
    outcome = funreason("synthesize", "--db", str(path), "--llm", "openai", "--model", "m", "--extra-body", "[1]")
    assert outcome.returncode == 2 and "must be a JSON object" in outcome.stderr


@pytest.mark.heavy
def test_a_real_llama_server_drives_a_run_to_the_end(tmp_path):
    """A real model server when this machine has one: llama-server on PATH and FUNREASON_GGUF naming weights."""
    server, weights = shutil.which("llama-server"), os.environ.get("FUNREASON_GGUF")
    if not server or not weights:
        pytest.skip("needs llama-server on PATH and FUNREASON_GGUF=/path/to/model.gguf (README: a local model)")
    port = free_port()
    process = subprocess.Popen(
        [server, "-m", weights, "--jinja", "-c", "8192", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/health") as answer:
                if answer.status == 200:
                    break
            assert process.poll() is None and time.monotonic() < deadline, "llama-server did not come up"
            time.sleep(1)
        flags = ["--llm", "openai", "--model", "local", "--base-url", f"http://127.0.0.1:{port}/v1"]
        command = ["run", "--out", str(tmp_path / "out"), "--envs", "messaging", "--trajectories", "2"]
        outcome = funreason(*command, *flags, "--concurrency", "1", "--timeout", "900", "--max-tokens", "512")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert outcome.returncode == 0, outcome.stderr
    with Store(tmp_path / "out" / "store.db") as store:
        counts = SampleStore(store).counts()
    assert counts["samples"] + counts["rejected"] == 2
