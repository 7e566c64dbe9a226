"""2. Sandbox lifecycle: create, snapshot, restore, diff, hash, and the bookkeeping share of a step.

Absolute times per operation (medians) for every environment's default scenario and the
largest shipped ones.  "State bookkeeping" is what keeps calls transactional and recorded:
for a state-changing call, what `Sandbox.execute` adds (snapshot, dump, diff), measured
exactly as `execute` of a do-nothing write tool minus calling that tool directly, in
alternating batches on the scenario's real state; for a refused one, the same with a write
tool that refuses before changing anything (snapshot, then the undo: a dump compared with
the snapshot); per trajectory, creating the sandbox and hashing its final state.

"A step" is one executed call of the explorer: each default scenario is explored
in-process with recording on, in this run, and its wall time per call is the step.  The
bookkeeping of that very run (its writes, refused writes and trajectories, at the
operation times above) spread over its calls, divided by the step, is the share.

Also reported, stricter: the share of a bare in-process call to the do-nothing write
(the cheapest step there is), for the default and the large scenarios.
"""

import contextlib
import functools
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from bench.common import median
from servers import (
    PreconditionFailed,
    Sandbox,
    build_mcp_server,
    create_sandbox,
    diff_states,
    environment_names,
    get_environment,
    load_scenario,
    tool,
)
from simulator import ExploreConfig, ServerTarget, Store, explore

__all__ = ["LARGE_SCENARIOS", "run"]

LARGE_SCENARIOS = [("filesystem", "large_share"), ("tickets", "busy_helpdesk"), ("social", "community")]


def run(quick: bool, workdir: Path) -> dict[str, Any]:
    repeat, trajectories = (60, 60) if quick else (200, 200)
    figures: dict[str, Any] = {}
    for env in environment_names():
        figures[f"{env}/default"] = _scenario(env, "default", repeat)
        figures[f"{env}/default"] |= _explored_share(env, figures[f"{env}/default"], trajectories, workdir)
    for env, scenario in LARGE_SCENARIOS:
        figures[f"{env}/{scenario}"] = _scenario(env, scenario, repeat)
    defaults = [figures[f"{env}/default"] for env in environment_names()]
    return {
        "scenarios": figures,
        "bookkeeping_share_max": max(row["explored_share"] for row in defaults),
        "bookkeeping_share_median": median([row["explored_share"] for row in defaults]),
        "strict_share_default_max": max(row["strict_share"] for row in defaults),
        "strict_share_default_median": median([row["strict_share"] for row in defaults]),
    }


def _scenario(env_name: str, scenario: str, repeat: int) -> dict[str, Any]:
    create_ms = _median_time(lambda: create_sandbox(env_name, scenario), max(10, repeat // 4)) * 1e3
    sandbox = create_sandbox(env_name, scenario)
    env = sandbox.environments[env_name]
    snapshot = sandbox.snapshot()
    before = env.state_data()
    figures = {
        "state_kb": len(str(before)) / 1024,
        "create_ms": create_ms,
        "snapshot_us": _median_time(sandbox.snapshot, repeat) * 1e6,
        "restore_us": _median_time(lambda: sandbox.restore(snapshot), repeat) * 1e6,
        "diff_us": _median_time(lambda: diff_states(before, env.state_data()), repeat) * 1e6,
        "hash_us": _median_time(sandbox.state_hash, repeat) * 1e6,
    }
    bench_sandbox = _noop_sandbox(env_name, scenario)
    bench_env = bench_sandbox.environments[env_name]
    execute_s, direct_s = _alternate(
        lambda: bench_sandbox.execute("bench_noop_write", {}), bench_env.bench_noop_write, repeat
    )
    bookkeeping = max(execute_s - direct_s, 0.0)
    refused_s, refused_direct_s = _alternate(
        functools.partial(_refused, bench_sandbox.execute, "bench_refused_write", {}),
        functools.partial(_refused, bench_env.bench_refused_write),
        repeat,
    )
    step = anyio.run(_mcp_step, bench_sandbox, repeat)
    figures |= {
        "bookkeeping_us": bookkeeping * 1e6,
        "refused_bookkeeping_us": max(refused_s - refused_direct_s, 0.0) * 1e6,
        "bare_step_us": step * 1e6,
        "strict_share": bookkeeping / step,
    }
    return figures


def _refused(call: Any, *arguments: Any) -> None:
    with contextlib.suppress(PreconditionFailed):
        call(*arguments)


def _explored_share(env_name: str, ops: dict[str, Any], trajectories: int, workdir: Path) -> dict[str, Any]:
    """Explore the default scenario and charge its bookkeeping, at the measured operation times, to its steps."""
    store_path = workdir / f"lifecycle-{env_name}.db"
    started = time.perf_counter()
    explore(ServerTarget(envs=(env_name,)), store_path, ExploreConfig(trajectories=trajectories))
    elapsed = time.perf_counter() - started
    specs = get_environment(env_name).tool_specs()
    with Store(store_path) as store:
        steps = store.db.execute("SELECT tool, is_error FROM steps").fetchall()
    writes = [bool(is_error) for tool, is_error in steps if not specs[tool].read_only]
    bookkeeping_us = (
        writes.count(False) * ops["bookkeeping_us"]
        + writes.count(True) * ops["refused_bookkeeping_us"]
        + trajectories * (ops["create_ms"] * 1e3 + ops["hash_us"])
    )
    step_us = elapsed / len(steps) * 1e6
    return {
        "explored_steps": len(steps),
        "explored_writes": len(writes),
        "explored_step_us": step_us,
        "explored_bookkeeping_per_step_us": bookkeeping_us / len(steps),
        "explored_share": bookkeeping_us / len(steps) / step_us,
    }


def _noop_sandbox(env_name: str, scenario: str) -> Sandbox:
    """A sandbox of the real environment and state, plus one write tool that does nothing."""
    env_class = get_environment(env_name)

    class WithNoop(env_class):  # type: ignore[valid-type, misc]
        @tool()
        def bench_noop_write(self) -> dict[str, str]:
            """Change nothing (declared as a write, so the sandbox treats it as one)."""
            return {}

        @tool()
        def bench_refused_write(self) -> dict[str, str]:
            """Refuse, as a write refuses when its precondition fails: before changing anything."""
            raise PreconditionFailed("refused")

    loaded = load_scenario(env_class, scenario)
    return Sandbox([WithNoop(loaded.state, 0)], sandbox_id="bench", scenario={env_name: scenario}, seed=0)


async def _mcp_step(sandbox: Sandbox, repeat: int) -> float:
    server = build_mcp_server([type(env) for env in sandbox.environments.values()], lambda request: sandbox)
    async with Client(server) as client:
        for _ in range(10):
            await client.call_tool("bench_noop_write", {})
        samples = []
        for _ in range(max(repeat // 10, 5)):
            started = time.perf_counter()
            for _ in range(10):
                await client.call_tool("bench_noop_write", {})
            samples.append((time.perf_counter() - started) / 10)
    return median(samples)


def _median_time(call: Any, repeat: int) -> float:
    call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return median(samples)


def _alternate(first: Any, second: Any, repeat: int) -> tuple[float, float]:
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for samples, call in zip(times, (first, second), strict=True):
            started = time.perf_counter()
            for _ in range(5):
                call()
            samples.append((time.perf_counter() - started) / 5)
    return median(times[0]), median(times[1])
