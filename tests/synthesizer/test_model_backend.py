"""The OpenAI backend through the real `openai` client, against a scripted local server on 127.0.0.1."""

import anyio
import pytest

from simulator import ServerTarget, Store, Trajectory, replay
from synthesizer.llm import ChatModel, ResponseCache
from synthesizer.plan import Variants
from synthesizer.roles import ModelBackend
from synthesizer.samples import SampleStore
from synthesizer.synthesize import SynthesisConfig, synthesize
from tests.conftest import http_server
from tests.synthesizer.fake_llm import ScriptedModel

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
]


def store_with_one_trajectory(path):
    """A really executed trajectory: log in, look Bob up, message him."""

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


def run_synthesis(path, base_url):
    with Store(path) as cache_store:
        samples = SampleStore(cache_store)
        chat = ChatModel(
            "scripted",
            base_url=base_url,
            api_key="test",
            backoff_s=0.01,
            cache=ResponseCache(samples.cache_get, samples.cache_put),
        )
        counts = synthesize(path, CONFIG, ModelBackend(chat))
    return counts


def only(path, kind):
    with Store(path) as store:
        found = list(getattr(SampleStore(store), f"iter_{kind}")())
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("mode", ["right", "flaky", "text_only"])
def test_a_model_that_is_right_gives_a_verified_sample(tmp_path, mode):
    model = ScriptedModel(mode)
    path = store_with_one_trajectory(tmp_path / "t.db")
    with http_server(model.app) as base:
        counts = run_synthesis(path, f"{base}/v1")
    assert counts == {"samples": 1, "verified": 1, "rejected": 0}
    sample = only(path, "samples")
    assert sample.model == "scripted" and [turn["attempts"] for turn in sample.turns] == [1, 1]
    calls = [c["function"]["name"] for m in sample.messages for c in m.get("tool_calls") or []]
    assert calls == ["log_in", "get_user_id", "send_message"]
    assert sample.turns[1]["query"].startswith("Please take care of this for me")
    if mode == "flaky":
        assert model.requests > 3  # two 429s and a 500 were retried


def test_a_wrong_answer_is_corrected_by_the_critics_hint(tmp_path):
    path = store_with_one_trajectory(tmp_path / "t.db")
    with http_server(ScriptedModel("wrong_then_right").app) as base:
        counts = run_synthesis(path, f"{base}/v1")
    assert counts["verified"] == 1
    sample = only(path, "samples")
    assert [turn["attempts"] for turn in sample.turns] == [1, 2]
    sent = [c["function"]["arguments"] for m in sample.messages for c in m.get("tool_calls") or []][-1]
    assert sent["message"] == "Lunch at noon?"


def test_garbage_is_rejected_with_a_reason_and_the_run_completes(tmp_path):
    path = store_with_one_trajectory(tmp_path / "t.db")
    with http_server(ScriptedModel("garbage").app) as base:
        counts = run_synthesis(path, f"{base}/v1")
    assert counts == {"samples": 0, "verified": 0, "rejected": 1}
    reject = only(path, "rejects")
    assert "unreadable tool call" in reject.reason and reject.attempts == 3


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


def test_an_unreachable_endpoint_is_a_reject_not_a_crash(tmp_path):
    path = store_with_one_trajectory(tmp_path / "t.db")
    counts = run_synthesis(path, "http://127.0.0.1:9/v1")
    assert counts["rejected"] == 1
    assert "failed" in only(path, "rejects").reason
