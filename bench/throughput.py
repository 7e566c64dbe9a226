"""3. Explorer throughput: executed calls per second with recording on, against the bare call rate.

Explorer: `simulator.explore` of built-in environments in-process into a fresh SQLite
store, timed whole (connection, graph, discovery, sampling, filling, store writes).
Bare: the very calls that run made, read back from its store, issued again through an
in-process `mcp.Client` on one server: a fresh sandbox of the same scenario and seed per
trajectory (the explorer needs one too), and no graph, no argument filling, no store.
Both are repeated alternately (after a warm-up run that imports and builds what any
first run in a process would), and the figure is the median of the paired ratios.

Workers: `ExploreConfig(workers=2)` against `workers=1` for the same trajectory count,
whole runs, each into a fresh store.  Only what follows the sequential discovery runs
in worker processes, and each worker pays a Python start-up (spawn), so the count is
chosen large enough for the parallel part to dominate.
"""

import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from bench.common import median
from servers import Sandbox, build_mcp_server, create_sandbox, get_environment
from simulator import ExploreConfig, ServerTarget, Store, explore

__all__ = ["ENVS", "run"]

ENVS = ("filesystem", "trading")


def run(quick: bool, workdir: Path) -> dict[str, Any]:
    trajectories, repeats = (200, 3) if quick else (500, 5)
    per_env: dict[str, Any] = {}
    for env in ENVS:
        explore(ServerTarget(envs=(env,)), workdir / f"warm-up-{env}.db", ExploreConfig(trajectories=20))
        explore_rates, bare_rates = [], []
        for attempt in range(repeats):
            store_path = workdir / f"explore-{env}-{attempt}.db"
            started = time.perf_counter()
            explore(ServerTarget(envs=(env,)), store_path, ExploreConfig(trajectories=trajectories))
            elapsed = time.perf_counter() - started
            calls = _calls(store_path)
            explore_rates.append(sum(len(steps) for _, steps in calls) / elapsed)
            bare_rates.append(anyio.run(_bare_rate, env, calls))
        per_env[env] = {
            "trajectories": trajectories,
            "calls": sum(len(steps) for _, steps in calls),
            "explore_calls_per_s": median(explore_rates),
            "bare_calls_per_s": median(bare_rates),
            "ratio": median([ours / bare for ours, bare in zip(explore_rates, bare_rates, strict=True)]),
        }
    workers = _workers(quick, workdir)
    return {
        "envs": per_env,
        "explore_vs_bare": min(row["ratio"] for row in per_env.values()),
        "workers": workers,
        "workers2_speedup": workers["speedup"],
    }


def _calls(store_path: Path) -> list[tuple[int, list[tuple[str, dict[str, Any]]]]]:
    """(seed, [(tool, arguments), ...]) per trajectory, as the explorer made them."""
    with Store(store_path) as store:
        return [
            (trajectory.seed, [(step.tool, step.arguments) for step in trajectory.steps])
            for trajectory in store.iter_trajectories()
        ]


async def _bare_rate(env: str, calls: list[tuple[int, list[tuple[str, dict[str, Any]]]]]) -> float:
    current: list[Sandbox] = [create_sandbox(env)]
    server = build_mcp_server([get_environment(env)], lambda request: current[0])
    async with Client(server) as client:
        started = time.perf_counter()
        count = 0
        for seed, steps in calls:
            current[0] = create_sandbox(env, None, seed)
            for tool, arguments in steps:
                await client.call_tool(tool, arguments)
                count += 1
        return count / (time.perf_counter() - started)


def _workers(quick: bool, workdir: Path) -> dict[str, Any]:
    env = "trading"
    trajectories = 3000 if quick else 8000
    seconds: dict[int, float] = {}
    calls = 0
    for workers in (1, 2):
        store_path = workdir / f"workers-{workers}.db"
        started = time.perf_counter()
        explore(ServerTarget(envs=(env,)), store_path, ExploreConfig(trajectories=trajectories, workers=workers))
        seconds[workers] = time.perf_counter() - started
        with Store(store_path) as store:
            calls = store.stats()["steps"]
    discovery_path = workdir / "workers-discovery.db"
    started = time.perf_counter()
    explore(ServerTarget(envs=(env,)), discovery_path, ExploreConfig(trajectories=ExploreConfig().discovery))
    sequential = time.perf_counter() - started
    return {
        "env": env,
        "trajectories": trajectories,
        "calls": calls,
        "one_worker_s": seconds[1],
        "two_workers_s": seconds[2],
        "discovery_s": sequential,
        "speedup": seconds[1] / seconds[2],
        "parallel_part_speedup": (seconds[1] - sequential) / max(seconds[2] - sequential, 1e-9),
    }


if __name__ == "__main__":
    import json

    with tempfile.TemporaryDirectory() as folder:
        print(json.dumps(run(True, Path(folder)), indent=1))
