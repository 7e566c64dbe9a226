"""Sharded runs on a local Ray: the same data as the plain run, with 1 or 2 workers, a worker killed, a shard lost."""

import asyncio
import os
import shutil
import signal
import sqlite3
import threading
import time
from dataclasses import astuple, replace
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from evaluation.evaluate import evaluate_tasks
from evaluation.runner import GroundTruthPolicy
from evaluation.sharded import EvalWork, evaluate_on_ray
from evaluation.tasks import load_tasks
from simulator import ExploreConfig, ServerTarget, SimulatorError, Store
from simulator.shards import Shard, finished_shards, plan_exploration, prepare_exploration
from synthesizer import RunConfig, run_pipeline
from synthesizer.cli import make_backend
from synthesizer.offline import OfflineBackend
from synthesizer.samples import SampleStore
from synthesizer.sharded import ClusterLimit, run_on_ray, shared_permits, synthesize_on_ray
from tests.conftest import http_server
from tests.synthesizer.fake_llm import ScriptedModel
from tests.synthesizer.test_model_backend import CONFIG, store_with_one_trajectory

pytestmark = [pytest.mark.heavy, pytest.mark.alone]  # a local Ray cluster takes every core

OFFLINE = partial(make_backend, llm="offline")
SHARD_TASK = "ray::_run_shard"


@pytest.fixture(scope="module")
def cluster():
    """`start(n)`: a local Ray with n CPUs (n worker processes at most), restarted only when n changes; returns `ray`.

    Ray is imported here, not at collection, so the default suite never loads it.
    """
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install -e '.[ray]'")
    current = {"cpus": 0}

    def start(cpus: int) -> Any:
        if current["cpus"] != cpus:
            ray.shutdown()
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
            current["cpus"] = cpus
        return ray

    yield start
    ray.shutdown()


@pytest.fixture(scope="module")
def plain_store(tmp_path_factory) -> Path:
    """The plain run's store."""
    config = _config(tmp_path_factory.mktemp("plain"))
    run_pipeline(config, OfflineBackend(), _no_stage)
    return config.store_path


@pytest.fixture(scope="module")
def plain(plain_store) -> dict[str, list[tuple]]:
    """The plain run's store contents: what every sharded run must equal."""
    return _contents(plain_store)


@pytest.mark.parametrize("workers", [1, 2])
def test_run_on_ray_gives_the_plain_runs_data(cluster, plain, tmp_path, workers):
    cluster(workers)
    config = _config(tmp_path)
    ran = run_on_ray(config, OFFLINE, "auto", _no_stage, shard_size=8)
    run_pipeline(config, OfflineBackend(), _no_stage)  # finds all done; drops near-duplicates; exports
    assert ran == 3
    assert _contents(config.store_path) == plain
    assert plain["samples"], "the plain run made no sample: the comparison would prove nothing"
    again = run_on_ray(config, OFFLINE, "auto", _no_stage, shard_size=8)
    assert again == 0, "a re-run must find every shard finished"


def test_a_worker_killed_mid_shard_is_retried_and_the_merge_is_exact(cluster, plain, tmp_path):
    cluster(2)
    config = _config(tmp_path)
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_first_shard_worker, args=(killed, stop), daemon=True)
    killer.start()
    try:
        run_on_ray(config, OFFLINE, "auto", _no_stage, shard_size=12)
    finally:
        stop.set()
        killer.join()
    run_pipeline(config, OfflineBackend(), _no_stage)
    assert killed, "no shard worker was seen running, so none was killed"
    with sqlite3.connect(config.store_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        for table in ("trajectories", "samples", "rejects"):
            total, distinct = db.execute(f"SELECT count(*), count(DISTINCT id) FROM {table}").fetchone()
            assert total == distinct, f"duplicate rows in {table}"
    assert _contents(config.store_path) == plain


def test_a_shard_that_fails_for_good_is_reported_and_the_rest_merges(cluster, tmp_path):
    cluster(2)
    from simulator.cluster import explore_shard, run_shards

    store_path = tmp_path / "store.db"
    target, config = ServerTarget(envs=("trading",)), ExploreConfig(trajectories=6, discovery=2, max_steps=6)
    prepare_exploration(target, store_path, config)
    good = plan_exploration(target, store_path, config, "explore", size=4)
    broken = Shard(
        "broken", "run-broken", 1, ServerTarget(command="/nonexistent/mcp-server"), config, good[0].graphs, (0,)
    )
    with pytest.raises(SimulatorError, match=r"1 of 3 shards failed.*broken: "):
        run_shards("auto", [*good, broken], explore_shard, store_path)
    with Store(store_path) as store:
        assert finished_shards(store) == {shard.id for shard in good}
        assert len(store.trajectory_indices(good[0].run_id)) == 6


def test_the_llm_limit_is_one_for_the_whole_cluster(cluster):
    ray = cluster(2)
    permits = shared_permits(ray, "http://127.0.0.1:1/v1", 1)
    hold = ray.remote(num_cpus=1)(_hold_permits)
    spans = ray.get([hold.remote(permits) for _ in range(2)])
    intervals = sorted(interval for span in spans for interval in span)
    assert len({pid for span in spans for _, _, pid in span}) == 2, "the tasks must run in two worker processes"
    for (_, end, _), (start, _, _) in zip(intervals, intervals[1:], strict=False):
        assert start >= end, "two requests held the endpoint's single permit at once"
    assert ray.get(permits.peak_in_use.remote()) == 1


def test_eval_on_ray_stores_the_plain_evals_attempts(cluster, plain_store, tmp_path):
    cluster(2)
    tasks = load_tasks(db=plain_store)
    work = EvalWork("offline", GroundTruthPolicy.model, None, None, 4, 2, 0.0)
    here, there = (shutil.copyfile(plain_store, tmp_path / name) for name in ("here.db", "there.db"))
    evaluate_tasks(here, tasks, *astuple(work))
    assert evaluate_on_ray(there, tasks, work, "auto", size=8) == 3
    rows = [_attempts(path) for path in (here, there)]
    assert len(rows[0]) == 2 * len(tasks) > 0
    assert rows[0] == rows[1]


def test_a_model_endpoint_gets_one_request_at_a_time_from_two_workers(cluster, tmp_path):
    cluster(2)
    path = store_with_one_trajectory(tmp_path / "store.db")
    # The same walk under three more indices, one per shard: four shards for two workers to compete over.
    with Store(path) as store:
        walk = next(store.iter_trajectories())
        for index in (1, 2, 3):
            store.save_trajectory(replace(walk, id=f"run-test-{index:06d}", index=index))
    endpoint = _CountingEndpoint(ScriptedModel("right"))
    with http_server(endpoint.app) as base:
        factory = partial(
            make_backend, llm="openai", model="scripted", base_url=f"{base}/v1", api_key="test", concurrency=1
        )
        assert synthesize_on_ray(path, CONFIG, factory, "auto", shard_size=1) == 4
    with Store(path) as store:  # every copy synthesized; a copy's story may pick targets the script does not know
        counts = SampleStore(store).counts()
        assert counts["samples"] + counts["rejected"] == 4 and counts["verified"] == counts["samples"] >= 1
    assert endpoint.requests >= 4 * 4, "every dialogue must have talked to the endpoint"
    assert endpoint.peak == 1, f"{endpoint.peak} requests were in flight at once; the cluster's limit is 1"


class _CountingEndpoint:
    """The scripted model behind a door that counts requests in flight and holds each a moment."""

    def __init__(self, model: ScriptedModel) -> None:
        self.model, self.requests, self.in_flight, self.peak = model, 0, 0, 0
        self.app = Starlette(routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])])

    async def _complete(self, request: Request) -> Response:
        self.requests += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await anyio.sleep(0.3)  # long enough that two workers' dialogues overlap without a shared limit
            return await self.model.complete(request)
        finally:
            self.in_flight -= 1


def _hold_permits(permits: Any) -> list[tuple[float, float, int]]:
    """Three concurrent 'requests' in this worker, each holding a permit for a moment."""
    limit = ClusterLimit(permits)

    async def request() -> tuple[float, float, int]:
        async with limit:
            started = time.time()
            await asyncio.sleep(0.05)
            return started, time.time(), os.getpid()

    async def all_requests() -> list[tuple[float, float, int]]:
        return list(await asyncio.gather(*(request() for _ in range(3))))

    time.sleep(0.5)  # both tasks start before either finishes, so they compete
    return asyncio.run(all_requests())


def _config(out: Path) -> RunConfig:
    return RunConfig(out=out, envs=("trading",), trajectories=24)


def _no_stage(name: str):
    return lambda done, total, note="": None


def _contents(store_path: Path) -> dict[str, list[tuple]]:
    """Every row that is data (not timing, not bookkeeping), in a fixed order."""
    queries = {
        "trajectories": "SELECT * FROM trajectories ORDER BY id",
        "steps": "SELECT trajectory_id, idx, tool, arguments, result, text, is_error, diff, provenance FROM steps "
        "ORDER BY trajectory_id, idx",
        "graphs": "SELECT * FROM graphs ORDER BY run_id, stage",
        "samples": "SELECT * FROM samples ORDER BY id",
        "rejects": "SELECT * FROM rejects ORDER BY id",
    }
    with sqlite3.connect(store_path) as db:
        return {table: db.execute(sql).fetchall() for table, sql in queries.items()}


def _attempts(store_path: Path) -> list[tuple]:
    with sqlite3.connect(store_path) as db:
        return db.execute("SELECT * FROM eval_attempts ORDER BY id").fetchall()


def _kill_first_shard_worker(killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first worker process seen running a shard, a moment after it started."""
    while not stop.is_set():
        for pid in _shard_workers():
            time.sleep(0.02)  # mid-shard: a shard of 12 trajectories takes a few tenths of a second
            if pid in _shard_workers():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.005)


def _shard_workers() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(SHARD_TASK.encode()):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids
