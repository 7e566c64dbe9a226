"""4. LLM-bound synthesis: `ChatModel` requests per second against a local endpoint with a fixed latency.

The endpoint (`bench/llm_server.py`, uvicorn in a subprocess) answers every chat
completion after sleeping 100 ms, so `c` requests in flight can at best finish
`c / 0.1` per second.  `ChatModel(concurrency=c, cache=None)` is given many distinct
requests at once, as synthesis does; efficiency is the measured rate over that ideal.

Side by side, the same requests through the bare `openai.AsyncOpenAI` client
(`chat.completions.create`) under a semaphore of the same size: what the SDK's usual
call allows on this machine, so the cost of `ChatModel` shows apart from the SDK's.
`c32_tools` repeats concurrency 32 with trading's 22 tool schemas (10 KB) in every
request, as synthesis and eval send them.
"""

import sys
import time
from typing import Any

import anyio
import openai

from bench.common import BENCH, free_port, serving
from simulator import ServerTarget
from synthesizer.chain import openai_tool
from synthesizer.llm import ChatModel

__all__ = ["LATENCY_S", "run"]

LATENCY_S = 0.1
CONCURRENCY = (1, 8, 32, 64)


def run(quick: bool) -> dict[str, Any]:
    waves = 8 if quick else 20
    port = free_port()
    command = [sys.executable, str(BENCH / "llm_server.py"), "--port", str(port), "--latency", str(LATENCY_S)]
    figures: dict[str, Any] = {"latency_s": LATENCY_S, "waves": waves}
    tools = anyio.run(_tools, "trading")
    with serving(command, f"http://127.0.0.1:{port}/health"):
        base_url = f"http://127.0.0.1:{port}/v1"
        for concurrency in CONCURRENCY:
            figures[f"c{concurrency}"] = _side_by_side(base_url, concurrency, concurrency * waves, [])
        figures["c32_tools"] = _side_by_side(base_url, 32, 32 * waves, tools)
    figures["efficiency_c32"] = figures["c32"]["efficiency"]
    return figures


def _side_by_side(base_url: str, concurrency: int, requests: int, tools: list[dict[str, Any]]) -> dict[str, Any]:
    rate = anyio.run(_rate, base_url, concurrency, requests, tools)
    raw = anyio.run(_raw_rate, base_url, concurrency, requests, tools)
    ideal = concurrency / LATENCY_S
    return {
        "requests": requests,
        "requests_per_s": rate,
        "raw_openai_per_s": raw,
        "ideal_per_s": ideal,
        "efficiency": rate / ideal,
        "raw_openai_efficiency": raw / ideal,
        "chatmodel_vs_raw": rate / raw,
    }


async def _tools(env: str) -> list[dict[str, Any]]:
    async with ServerTarget(envs=(env,)).connect() as connection:
        return [openai_tool(tool) for tool in connection.tools]


async def _rate(base_url: str, concurrency: int, requests: int, tools: list[dict[str, Any]]) -> float:
    model = ChatModel("bench", base_url=base_url, api_key="none", concurrency=concurrency, cache=None)
    try:
        async with anyio.create_task_group() as group:  # warm-up: open the connections
            for number in range(concurrency):
                group.start_soon(model.chat, [{"role": "user", "content": f"warm-up {number}"}], tools)
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for number in range(requests):
                group.start_soon(model.chat, [{"role": "user", "content": f"request {number}"}], tools)
        return requests / (time.perf_counter() - started)
    finally:
        await model.aclose()


async def _raw_rate(base_url: str, concurrency: int, requests: int, tools: list[dict[str, Any]]) -> float:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0)
    limit = anyio.Semaphore(concurrency)
    with_tools: dict[str, Any] = {"tools": tools} if tools else {}

    async def one(content: str) -> None:
        async with limit:
            messages = [{"role": "user", "content": content}]
            await client.chat.completions.create(model="bench", messages=messages, **with_tools)

    try:
        async with anyio.create_task_group() as group:
            for number in range(concurrency):
                group.start_soon(one, f"warm-up {number}")
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for number in range(requests):
                group.start_soon(one, f"request {number}")
        return requests / (time.perf_counter() - started)
    finally:
        await client.close()
