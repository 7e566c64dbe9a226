"""Recording any client: calls made to our servers, or through a proxy to anyone's, become trajectories."""

import hashlib
import math
import os
import shlex
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
from mcp import Client, StdioServerParameters
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, CallToolRequestParams, CallToolResult, ListToolsResult, TextContent

from servers import Sandbox, hash_state
from simulator.connection import ServerTarget
from simulator.errors import ConnectionFailed, ServerDied
from simulator.records import Trajectory, step_from_result
from simulator.sampler import ValueMemory
from simulator.store import Store

__all__ = ["Recorder", "run_proxy"]


class Recorder:
    """Writes each call into the store as it happens: one trajectory per sandbox (or proxy session).

    Steps are appended one by one, so a killed server keeps every call made before.  An
    argument equal to a value an earlier result held is recorded as taken from it, so
    a recorded session yields hard queries just as an explored one does.
    """

    def __init__(self, store_path: Path, *, label: str) -> None:
        self.store = Store(store_path)
        self.run_id = "rec-" + hashlib.sha256(f"{label}:{time.time_ns()}".encode()).hexdigest()[:12]
        self.store.ensure_run(self.run_id, kind="record", target=label, config={"label": label}, seed=0)
        self._sessions: dict[str, Trajectory] = {}
        self._memories: dict[str, ValueMemory] = {}

    def __call__(
        self, sandbox: Sandbox, tool: str, arguments: dict[str, Any], result: CallToolResult, latency_ms: float
    ) -> None:
        """A `servers.CallObserver`: record one call made to one of our sandboxes."""
        label = ServerTarget(envs=tuple(sandbox.env_names), scenario=sandbox.scenario).scenario_label
        if len(set(sandbox.scenario.values())) == 1:
            label = next(iter(sandbox.scenario.values()))
        trajectory = self._session(sandbox.id, "+".join(sandbox.env_names), sandbox.seed, label)
        trajectory.final_state_hash = hash_state(sandbox.state())
        self.record(trajectory, tool, arguments, result, latency_ms)

    def session(self, key: str, label: str) -> Trajectory:
        """The trajectory of a session that is not one of our sandboxes (a proxied server)."""
        return self._session(key, label, 0, "unknown")

    def record(
        self, trajectory: Trajectory, tool: str, arguments: dict[str, Any], result: CallToolResult, latency_ms: float
    ) -> None:
        step = step_from_result(tool, arguments, result, latency_ms)
        step.index = len(trajectory.steps)
        memory = self._memories.setdefault(trajectory.id, ValueMemory())
        step.provenance = {name: memory.origin_of(value) for name, value in arguments.items()}
        if not step.is_error:
            memory.remember(step.index, tool, step.result)
        trajectory.steps.append(step)
        self.store.append_step(trajectory, step)

    def close(self) -> None:
        self.store.close()

    def _session(self, key: str, env: str, seed: int, scenario: str) -> Trajectory:
        if key not in self._sessions:
            index = len(self._sessions)
            self._sessions[key] = Trajectory(
                id=f"{self.run_id}-{index:06d}",
                run_id=self.run_id,
                index=index,
                env=env,
                scenario=scenario,
                seed=seed,
                target=None,
                source="record",
            )
        return self._sessions[key]


async def run_proxy(command: str, store_path: Path, server_env: Mapping[str, str] | None = None) -> None:
    """Serve, over stdio, the tools of the stdio server `command`, recording every call.

    The client talks to the proxy as if it were the server; the server sees the
    proxy as its client.  Nothing is changed on the way through.  The server gets
    the caller's environment plus `server_env`.  When it goes away the proxy stops
    too, with `ServerDied`, rather than answer "Connection closed" for ever (and
    record those answers as steps).
    """
    executable, *args = shlex.split(command)
    parameters = StdioServerParameters(command=executable, args=args, env={**os.environ, **(server_env or {})})
    recorder = Recorder(store_path, label=f"cmd:{command}")
    gone = False
    try:
        async with Client(parameters) as downstream:
            listed = await downstream.list_tools()
            trajectory = recorder.session("proxy", f"cmd:{command}")
            stopping = anyio.CancelScope()

            async def list_tools(ctx: Any, params: Any) -> ListToolsResult:
                return ListToolsResult(tools=listed.tools)

            async def call_tool(ctx: Any, params: CallToolRequestParams) -> CallToolResult:
                nonlocal gone
                started = time.perf_counter()
                arguments = dict(params.arguments or {})
                try:
                    result = await downstream.call_tool(params.name, arguments)
                except MCPError as error:
                    if error.error.code == CONNECTION_CLOSED:
                        gone = True
                        stopping.cancel()
                        raise
                    result = _refused(error)  # the downstream refused at the protocol level
                except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
                    gone = True
                    stopping.cancel()
                    raise
                recorder.record(trajectory, params.name, arguments, result, (time.perf_counter() - started) * 1000)
                return result

            server = Server("funreason-proxy", on_list_tools=list_tools, on_call_tool=call_tool)
            with stopping:
                async with stdio_server(stdin=_StdinLines()) as (read_stream, write_stream):  # type: ignore[arg-type]
                    await server.run(read_stream, write_stream, server.create_initialization_options())
    except (OSError, MCPError) as error:
        gone = True
        if not isinstance(error, MCPError) or error.error.code != CONNECTION_CLOSED:
            raise ConnectionFailed(f"the server {command!r} could not be started: {error}") from error
    finally:
        recorder.close()
    if gone:
        raise ServerDied(f"the server {command!r} exited or stopped answering; the proxy stopped too")


class _StdinLines:
    """The client's lines, read by a daemon thread, so the proxy can stop while the client keeps stdin open.

    The SDK reads stdin on a worker thread that a blocked read keeps alive, which the
    event loop then waits for on the way out: a proxy whose server died could never exit.
    """

    def __init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[bytes](math.inf)
        token = anyio.lowlevel.current_token()
        threading.Thread(target=self._read, args=(token,), daemon=True, name="proxy stdin").start()

    def _read(self, token: Any) -> None:
        """Raw reads of fd 0 (no buffered reader: its lock, held by a blocked daemon thread, stops shutdown)."""
        pending = b""
        try:
            while chunk := os.read(0, 1 << 16):
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    anyio.from_thread.run_sync(self._send.send_nowait, line, token=token)
            if pending:
                anyio.from_thread.run_sync(self._send.send_nowait, pending, token=token)
            anyio.from_thread.run_sync(self._send.close, token=token)
        except (RuntimeError, anyio.ClosedResourceError, anyio.BrokenResourceError):
            return  # the proxy has stopped: nobody reads any more

    def __aiter__(self) -> "_StdinLines":
        return self

    async def __anext__(self) -> str:
        try:
            return (await self._receive.receive()).decode("utf-8", errors="replace")
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


def _refused(error: MCPError) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=error.error.message)], is_error=True)
