"""LLM endpoint faults: every one is retried or ends as a reject with its reason, and the run completes."""

import pytest

from simulator import Store
from synthesizer.llm import ChatModel, ResponseCache
from synthesizer.roles import ModelBackend
from synthesizer.samples import SampleStore
from synthesizer.synthesize import synthesize
from tests.conftest import http_server
from tests.synthesizer.fake_llm import ScriptedModel
from tests.synthesizer.test_model_backend import CONFIG, store_with_one_trajectory


def synthesize_against(model: ScriptedModel, path):
    with http_server(model.app) as base, Store(path) as cache_store:
        samples = SampleStore(cache_store)
        chat = ChatModel(
            "scripted",
            base_url=f"{base}/v1",
            api_key="test",
            backoff_s=0.01,
            max_retries=3,
            timeout_s=1.0,
            cache=ResponseCache(samples.cache_get, samples.cache_put),
        )
        counts = synthesize(path, CONFIG, ModelBackend(chat))
    with Store(path) as store:
        rejects = list(SampleStore(store).iter_rejects())
    return counts, rejects


@pytest.mark.parametrize("mode", ["slow_then_right", "dropped_then_right"])
def test_timeouts_and_dropped_connections_are_retried(tmp_path, mode):
    model = ScriptedModel(mode)
    counts, rejects = synthesize_against(model, store_with_one_trajectory(tmp_path / "t.db"))
    assert counts == {"samples": 1, "verified": 1, "rejected": 0}, rejects
    assert model.requests > 2


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("invalid_json", "the endpoint"),
        ("unknown_tool", "did not finish within the step limit"),
        ("garbage", "unreadable tool call"),
    ],
)
def test_faults_that_do_not_go_away_are_rejected_with_a_reason(tmp_path, mode, reason):
    counts, rejects = synthesize_against(ScriptedModel(mode), store_with_one_trajectory(tmp_path / "t.db"))
    assert counts == {"samples": 0, "verified": 0, "rejected": 1}
    assert reason in rejects[0].reason
