"""1. Tool-call overhead: our filesystem tools against a do-nothing `MCPServer`, per transport.

Both sides are called through the official `mcp.Client` in alternating batches; the
figure is the ratio of the median seconds per call (ours / trivial).  Two tools: `pwd`
(read-only: no snapshot) and `echo` into a file (a write: snapshot, state diff, diff in
`_meta`), each against a trivial tool of the same name, parameters and result shape.
A transport's figure is the worse of the two.
"""

import sys
from contextlib import AsyncExitStack
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from bench.common import BENCH, FUNREASON, alternate, free_port, serving
from bench.trivial_server import build_server
from servers import create_sandbox, serve_sandbox

__all__ = ["run"]

_CALLS: dict[str, Any] = {
    "pwd": lambda n: {},
    "echo": lambda n: {"content": f"line {n}", "file_name": "bench.txt"},
}


def run(quick: bool) -> dict[str, Any]:
    rounds, batch = (10, 30) if quick else (30, 60)
    results: dict[str, Any] = {"rounds": rounds, "batch": batch}
    sandbox = create_sandbox("filesystem")
    results["inprocess"] = anyio.run(_compare, serve_sandbox(sandbox), build_server(), rounds, batch)
    ours = StdioServerParameters(command=FUNREASON, args=["serve", "filesystem", "--transport", "stdio"])
    trivial = StdioServerParameters(command=sys.executable, args=[str(BENCH / "trivial_server.py")])
    results["stdio"] = anyio.run(_compare, ours, trivial, rounds, batch)
    ours_port, trivial_port = free_port(), free_port()
    ours_cmd = [FUNREASON, "serve", "filesystem", "--transport", "http", "--port", str(ours_port)]
    trivial_cmd = [sys.executable, str(BENCH / "trivial_server.py"), "--transport", "http", "--port", str(trivial_port)]
    with (
        serving(ours_cmd, f"http://127.0.0.1:{ours_port}/sandboxes"),
        serving(trivial_cmd, f"http://127.0.0.1:{trivial_port}/mcp"),
    ):
        results["http"] = anyio.run(
            _compare, f"http://127.0.0.1:{ours_port}/mcp", f"http://127.0.0.1:{trivial_port}/mcp", rounds, batch
        )
    return results


async def _compare(ours_target: Any, trivial_target: Any, rounds: int, batch: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    async with AsyncExitStack() as stack:
        ours = await stack.enter_async_context(Client(ours_target))
        trivial = await stack.enter_async_context(Client(trivial_target))
        for tool, arguments in _CALLS.items():

            async def call_ours(n: int, tool: str = tool, arguments: Any = arguments) -> None:
                result = await ours.call_tool(tool, arguments(n))
                assert not result.is_error, result

            async def call_trivial(n: int, tool: str = tool, arguments: Any = arguments) -> None:
                result = await trivial.call_tool(tool, arguments(n))
                assert not result.is_error, result

            ours_s, trivial_s = await alternate(call_ours, call_trivial, rounds=rounds, batch=batch)
            figures[tool] = {"ours_ms": ours_s * 1e3, "trivial_ms": trivial_s * 1e3, "ratio": ours_s / trivial_s}
    figures["ratio"] = max(figures[tool]["ratio"] for tool in _CALLS)
    return figures
