"""LLM endpoint faults: every one is retried, ends as a reject with its reason, or stops the command; runs through
the real command against a scripted endpoint complete, resume after a kill and send nothing when done.
"""

import itertools
import os
import signal
import subprocess
import time

import pytest

from simulator import ExploreConfig, ServerTarget, Store, explore
from synthesizer.errors import EndpointError
from synthesizer.llm import ChatModel, ResponseCache
from synthesizer.offline import OfflineBackend
from synthesizer.roles import Backend, ModelBackend
from synthesizer.samples import SampleStore
from synthesizer.synthesize import SynthesisConfig, synthesize
from tests.conftest import FUNREASON, funreason, http_server
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
    assert counts == {"samples": 1, "verified": 1, "rejected": 0, "pending": 0}, rejects
    assert model.requests > 2


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("invalid_json", "not JSON"),
        ("unknown_tool", "call to unknown tool 'teleport_user'"),
        ("garbage", "unreadable tool call"),
    ],
)
def test_faults_that_do_not_go_away_are_rejected_with_a_reason(tmp_path, mode, reason):
    counts, rejects = synthesize_against(ScriptedModel(mode), store_with_one_trajectory(tmp_path / "t.db"))
    assert counts == {"samples": 0, "verified": 0, "rejected": 1, "pending": 0}
    assert reason in rejects[0].reason


def llm_flags(base: str, concurrency: int = 2) -> list[str]:
    return ["--llm", "openai", "--model", "scripted", "--base-url", f"{base}/v1", "--concurrency", str(concurrency)]


def test_a_run_with_more_pending_trajectories_than_concurrency_completes_and_a_rerun_sends_nothing(tmp_path):
    """Regressions: "database is locked" (a read snapshot held open while the cache wrote through a second
    connection) and the IndexError of missing-tool turns, both hit by a default-shaped run."""
    model = ScriptedModel("generic")
    command = ["run", "--out", str(tmp_path / "out"), "--envs", "messaging,math", "--trajectories", "6"]
    with http_server(model.app) as base:
        first = funreason(*command, *llm_flags(base))
        sent = model.requests
        again = funreason(*command, *llm_flags(base))
    assert first.returncode == 0, first.stderr
    assert again.returncode == 0 and model.requests == sent > 12
    with Store(tmp_path / "out" / "store.db") as store:
        counts = SampleStore(store).counts()
    assert counts["samples"] + counts["rejected"] == 12


def test_a_killed_synthesis_resumes_without_hanging_and_then_sends_nothing(tmp_path):
    """Regression: the re-run of a crashed run hung at 100% CPU while closing its connections."""
    db = tmp_path / "store.db"
    explore(ServerTarget(envs=("messaging",)), db, ExploreConfig(trajectories=16, seed=0))
    model = ScriptedModel("generic")
    with http_server(model.app) as base:
        command = [FUNREASON, "synthesize", "--db", str(db), "--turns", "1-2", *llm_flags(base, concurrency=4)]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while model.requests < 10:
            assert process.poll() is None and time.monotonic() < deadline, "synthesis ended before it could be killed"
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        killed_at = model.requests
        resumed = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
        after = model.requests
        done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert resumed.returncode == 0 and done.returncode == 0, resumed.stderr + done.stderr
    assert after > killed_at and model.requests == after
    with Store(db) as store:
        counts = SampleStore(store).counts()
    assert counts["samples"] + counts["rejected"] == 16


class _FailsOnThirdDialogue(Backend):
    """The offline roles, but the third dialogue's roles cannot be had: the endpoint went away."""

    model = "fails-on-third"

    def __init__(self) -> None:
        self.inner = OfflineBackend()
        self.dialogues = itertools.count()

    def roles_for(self, tools, rng):
        if next(self.dialogues) == 2:
            raise EndpointError("http://127.0.0.1:9/v1 (model m): HTTP 401: no; check --api-key")
        return self.inner.roles_for(tools, rng)

    async def aclose(self) -> None:
        """Nothing to close."""


def test_a_worker_that_fails_stops_the_others_after_their_dialogue_and_the_error_comes_out_whole(tmp_path):
    """No sibling is cancelled mid-dialogue (where closing connections once spun forever), and the command
    gets the EndpointError itself, not an ExceptionGroup it cannot print as one line."""
    db = tmp_path / "t.db"
    explore(ServerTarget(envs=("messaging", "math")), db, ExploreConfig(trajectories=8, seed=0))
    with pytest.raises(EndpointError, match="check --api-key"):
        synthesize(db, SynthesisConfig(concurrency=4, turns=(1, 2)), _FailsOnThirdDialogue())
    with Store(db) as store:
        counts = SampleStore(store).counts()
    assert 2 <= counts["samples"] + counts["rejected"] <= 5  # the two before it and what the others held
