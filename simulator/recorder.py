"""Recording any client: calls made to our servers, or through a proxy to anyone's, become trajectories."""

import hashlib
import shlex
import time
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp_types import CallToolRequestParams, CallToolResult, ListToolsResult, TextContent

from servers import Sandbox, hash_state
from simulator.connection import ServerTarget
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


async def run_proxy(command: str, store_path: Path) -> None:
    """Serve, over stdio, the tools of the stdio server `command`, recording every call.

    The client talks to the proxy as if it were the server; the server sees the
    proxy as its client.  Nothing is changed on the way through.
    """
    executable, *args = shlex.split(command)
    recorder = Recorder(store_path, label=f"cmd:{command}")
    try:
        async with Client(StdioServerParameters(command=executable, args=args)) as downstream:
            listed = await downstream.list_tools()
            trajectory = recorder.session("proxy", f"cmd:{command}")

            async def list_tools(ctx: Any, params: Any) -> ListToolsResult:
                return ListToolsResult(tools=listed.tools)

            async def call_tool(ctx: Any, params: CallToolRequestParams) -> CallToolResult:
                started = time.perf_counter()
                arguments = dict(params.arguments or {})
                try:
                    result = await downstream.call_tool(params.name, arguments)
                except Exception as error:  # the downstream refused at the protocol level
                    result = CallToolResult(content=[TextContent(type="text", text=str(error))], is_error=True)
                recorder.record(trajectory, params.name, arguments, result, (time.perf_counter() - started) * 1000)
                return result

            server = Server("funreason-proxy", on_list_tools=list_tools, on_call_tool=call_tool)
            async with stdio_server() as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        recorder.close()
