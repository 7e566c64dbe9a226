"""4. LLM-bound synthesis: `ChatModel` requests per second against a local endpoint with a fixed latency.

The endpoint (`bench/llm_server.py`, uvicorn in a subprocess) answers every chat
completion after sleeping 100 ms, so `c` requests in flight can at best finish
`c / 0.1` per second.  `ChatModel(concurrency=c, cache=None)` is given many distinct
requests at once, as synthesis does; efficiency is the measured rate over that ideal.

Side by side, the same requests through the bare `openai.AsyncOpenAI` client under a
semaphore of the same size: what the SDK itself allows on this machine, so the cost
of `ChatModel` (retries, cache key, text protocol) shows apart from the SDK's.
"""

import sys
import time
from typing import Any

import anyio
import openai

from bench.common import BENCH, free_port, serving
from synthesizer.llm import ChatModel

__all__ = ["LATENCY_S", "run"]

LATENCY_S = 0.1
CONCURRENCY = (1, 8, 32, 64)


def run(quick: bool) -> dict[str, Any]:
    waves = 8 if quick else 20
    port = free_port()
    command = [sys.executable, str(BENCH / "llm_server.py"), "--port", str(port), "--latency", str(LATENCY_S)]
    figures: dict[str, Any] = {"latency_s": LATENCY_S, "waves": waves}
    with serving(command, f"http://127.0.0.1:{port}/health"):
        for concurrency in CONCURRENCY:
            base_url, requests = f"http://127.0.0.1:{port}/v1", concurrency * waves
            rate = anyio.run(_rate, base_url, concurrency, requests)
            raw = anyio.run(_raw_rate, base_url, concurrency, requests)
            ideal = concurrency / LATENCY_S
            figures[f"c{concurrency}"] = {
                "requests": requests,
                "requests_per_s": rate,
                "raw_openai_per_s": raw,
                "ideal_per_s": ideal,
                "efficiency": rate / ideal,
                "raw_openai_efficiency": raw / ideal,
                "chatmodel_vs_raw": rate / raw,
            }
    figures["efficiency_c32"] = figures["c32"]["efficiency"]
    return figures


async def _rate(base_url: str, concurrency: int, requests: int) -> float:
    model = ChatModel("bench", base_url=base_url, api_key="none", concurrency=concurrency, cache=None)
    try:
        async with anyio.create_task_group() as group:  # warm-up: open the connections
            for number in range(concurrency):
                group.start_soon(model.chat, [{"role": "user", "content": f"warm-up {number}"}])
        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for number in range(requests):
                group.start_soon(model.chat, [{"role": "user", "content": f"request {number}"}])
        return requests / (time.perf_counter() - started)
    finally:
        await model.aclose()


async def _raw_rate(base_url: str, concurrency: int, requests: int) -> float:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0)
    limit = anyio.Semaphore(concurrency)

    async def one(content: str) -> None:
        async with limit:
            await client.chat.completions.create(model="bench", messages=[{"role": "user", "content": content}])

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
