"""6. Evaluation and RL plumbing: eval throughput against a delayed endpoint, and fork cost against create.

Eval: `run_attempts` with a `ChatPolicy` (concurrency 16) on tasks from a small offline store,
against `bench/llm_server.py` answering every completion after 100 ms (in words, so every turn
ends on its first reply; missing-parameter and missing-tool turns take two).  16 requests always
in flight would finish `16 / 0.1` per second; efficiency is the measured rate over that, with the
sandbox work (fresh sandbox per attempt, state hash per turn) inside the measured time.

Fork: `Sandbox.fork()` of a sandbox against `create_sandbox` of the same scenario (both give a
new live sandbox), alternating, medians; and the same over HTTP: `POST /sandboxes/{id}/fork`
against `POST /sandboxes` on one uvicorn server.  The figure is the worst ratio.
"""

import functools
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2

from bench.common import BENCH, FUNREASON, free_port, serving
from evaluation import ChatPolicy, load_tasks, run_attempts
from servers import create_sandbox
from simulator import ExploreConfig, ServerTarget, explore
from synthesizer import OfflineBackend, SynthesisConfig, synthesize
from synthesizer.llm import ChatModel

__all__ = ["run"]

LATENCY_S = 0.1
CONCURRENCY = 16
FORK_ENVS = ("filesystem", "trading", "travel", "vehicle")


def run(quick: bool, workdir: Path) -> dict[str, Any]:
    return {"eval": _eval_throughput(quick, workdir), "fork": _fork_cost(quick)}


def _eval_throughput(quick: bool, workdir: Path) -> dict[str, Any]:
    store = workdir / "eval-store.db"
    for env in ("messaging", "trading"):
        explore(ServerTarget(envs=(env,)), store, ExploreConfig(trajectories=6, seed=7, after_target_steps=3))
    synthesize(store, SynthesisConfig(seed=1), OfflineBackend())
    tasks = load_tasks(db=store)
    k = 8 if quick else 24
    port = free_port()
    command = [sys.executable, str(BENCH / "llm_server.py"), "--port", str(port), "--latency", str(LATENCY_S)]
    base_url = f"http://127.0.0.1:{port}/v1"
    with serving(command, f"http://127.0.0.1:{port}/health"):
        policy = _Recording(ChatPolicy(ChatModel("bench", base_url=base_url, concurrency=CONCURRENCY)))
        elapsed = anyio.run(_timed_eval, tasks, policy, k)
        bare = anyio.run(_timed_requests, base_url, policy.requests)
    requests = len(policy.requests)
    ideal = CONCURRENCY / LATENCY_S
    return {
        "tasks": len(tasks),
        "attempts": len(tasks) * k,
        "requests": requests,
        "seconds": elapsed,
        "requests_per_s": requests / elapsed,
        "ideal_per_s": ideal,
        "efficiency": requests / elapsed / ideal,
        "same_requests_chatmodel_only_per_s": requests / bare,
        "eval_vs_chatmodel_only": bare / elapsed,
    }


class _Recording:
    """A policy that keeps every request it sends, so the same requests can be timed without sandboxes."""

    def __init__(self, policy: ChatPolicy) -> None:
        self.policy = policy
        self.model = policy.model
        self.requests: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []

    async def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        self.requests.append((list(messages), list(tools)))
        return await self.policy.act(messages, tools)


async def _timed_eval(tasks: list[Any], policy: _Recording, k: int) -> float:
    started = time.perf_counter()
    await run_attempts(tasks, lambda task, number: policy, k=k, concurrency=CONCURRENCY)
    elapsed = time.perf_counter() - started
    await policy.policy.chat.aclose()
    return elapsed


async def _timed_requests(base_url: str, requests: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]) -> float:
    """The eval's requests again through `ChatModel` alone, 16 in flight: what the client allows here and now."""
    policy = ChatPolicy(ChatModel("bench", base_url=base_url, concurrency=CONCURRENCY))
    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for messages, tools in requests:
            group.start_soon(policy.act, messages, tools)
    elapsed = time.perf_counter() - started
    await policy.chat.aclose()
    return elapsed


def _fork_cost(quick: bool) -> dict[str, Any]:
    rounds = 300 if quick else 1500
    figures: dict[str, Any] = {}
    for env in FORK_ENVS:
        source = create_sandbox(env)
        create_times, fork_times = [], []
        fresh = functools.partial(create_sandbox, env)
        for number in range(rounds):
            steps = [(create_times, fresh), (fork_times, source.fork)]
            for times, make in steps if number % 2 == 0 else reversed(steps):
                started = time.perf_counter()
                make()
                times.append(time.perf_counter() - started)
        create_ms, fork_ms = statistics.median(create_times) * 1e3, statistics.median(fork_times) * 1e3
        figures[env] = {"create_ms": create_ms, "fork_ms": fork_ms, "ratio": fork_ms / create_ms}
    figures["http"] = _fork_over_http(100 if quick else 400)
    figures["worst_ratio"] = max(row["ratio"] for row in figures.values())
    return figures


def _fork_over_http(rounds: int) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [FUNREASON, "serve", "trading", "--transport", "http", "--port", str(port)]
    with serving(command, f"{base}/sandboxes"), httpx2.Client(timeout=30) as client:
        source = client.post(f"{base}/sandboxes", json={"env": "trading"}).json()["id"]
        create_times, fork_times = [], []
        for number in range(rounds):
            steps = [
                (create_times, lambda: client.post(f"{base}/sandboxes", json={"env": "trading"})),
                (fork_times, lambda: client.post(f"{base}/sandboxes/{source}/fork")),
            ]
            for times, make in steps if number % 2 == 0 else reversed(steps):
                started = time.perf_counter()
                response = make()
                times.append(time.perf_counter() - started)
                client.delete(f"{base}/sandboxes/{response.json()['id']}")
    create_ms, fork_ms = statistics.median(create_times) * 1e3, statistics.median(fork_times) * 1e3
    return {"create_ms": create_ms, "fork_ms": fork_ms, "ratio": fork_ms / create_ms}
