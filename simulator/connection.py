"""One interface over in-process, stdio and streamable-HTTP MCP servers, ours or anyone's."""

import contextlib
import json
import logging
import shlex
import time
from abc import ABC, abstractmethod
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
from mcp import Client, MCPError, StdioServerParameters
from mcp_types import CONNECTION_CLOSED, CallToolResult, TextContent

from servers import (
    HINTS_META_KEY,
    Sandbox,
    build_mcp_server,
    create_sandbox,
    get_environment,
    load_combined_scenario,
)
from simulator.errors import ConnectionFailed, ServerDied
from simulator.records import Step, ToolInfo, step_from_result

__all__ = ["Connection", "ServerTarget"]

logger = logging.getLogger(__name__)

CALL_TIMEOUT_S = 60.0
"""A call that takes longer than this is treated as a dead server."""


@dataclass(frozen=True)
class ServerTarget:
    """Where tools come from: built-in environments, a stdio command, or an HTTP URL.

    A URL ending in `/mcp` is used as it is (one shared state).  Any other URL is taken
    as the base of `funreason serve --transport http`, which gives every trajectory a
    fresh sandbox through `POST /sandboxes`.
    """

    envs: tuple[str, ...] = ()
    scenario: str | dict[str, str] | None = None
    command: str | None = None
    url: str | None = None
    token: str | None = None

    def __post_init__(self) -> None:
        given = [bool(self.envs), self.command is not None, self.url is not None]
        if sum(given) != 1 and not (self.scenario and not any(given)):
            raise ConnectionFailed("give exactly one of: environments, a server command, a server URL")

    @property
    def label(self) -> str:
        """A short name recorded with every trajectory; `from_record` reads it back."""
        if self.command is not None:
            return f"cmd:{self.command}"
        if self.url is not None:
            return self.url
        envs = self.envs or tuple(load_combined_scenario(str(self.scenario)) or ())
        return "+".join(envs)

    @property
    def scenario_label(self) -> str:
        if isinstance(self.scenario, dict):
            return json.dumps(self.scenario, sort_keys=True)
        return self.scenario or "default"

    @classmethod
    def from_record(cls, env: str, scenario: str, token: str | None = None) -> "ServerTarget":
        """The target a stored trajectory came from, from its `env` and `scenario` labels."""
        if env.startswith("cmd:"):
            return cls(command=env.removeprefix("cmd:"))
        if env.startswith(("http://", "https://")):
            return cls(url=env, token=token)
        chosen = json.loads(scenario) if scenario.startswith("{") else scenario
        return cls(envs=tuple(env.split("+")), scenario=chosen)

    def connect(self) -> "Connection":
        if self.command is not None:
            return _StdioConnection(self)
        if self.url is not None:
            return _HttpConnection(self)
        return _InProcessConnection(self)


class Connection(ABC):
    """An open connection: list tools, start fresh sandboxes, call tools, read state.

    Use as `async with target.connect() as connection:`; call `reset(seed)` before
    each trajectory.  `fresh_state` says whether a reset really restores the
    scenario's initial state (it cannot for a third-party server over a plain URL).
    """

    fresh_state = True
    call_timeout_s: float | None = CALL_TIMEOUT_S
    """A call that takes longer is a dead server (None: no timer)."""

    def __init__(self, target: ServerTarget) -> None:
        self.target = target
        self.tools: list[ToolInfo] = []
        self._client: Client | None = None
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> "Connection":
        await self.reset(0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

    @abstractmethod
    async def reset(self, seed: int) -> None:
        """Start the next trajectory from the scenario's initial state."""

    async def state(self) -> dict[str, Any] | None:
        """The server's state as JSON, when it exposes one; None otherwise."""
        return None

    async def call(self, tool: str, arguments: dict[str, Any]) -> Step:
        """Execute one call for real and record what came back (`index` is set by the caller)."""
        assert self._client is not None, "call reset() first"
        started = time.perf_counter()
        timer = anyio.fail_after(self.call_timeout_s) if self.call_timeout_s is not None else contextlib.nullcontext()
        try:
            with timer:
                result = await self._client.call_tool(tool, arguments)
        except TimeoutError as error:
            raise ServerDied(f"{tool} did not answer within {self.call_timeout_s:.0f} s") from error
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError) as error:
            raise ServerDied(f"the server went away during {tool}: {type(error).__name__}") from error
        except MCPError as error:
            if error.error.code == CONNECTION_CLOSED:
                raise ServerDied(f"the server went away during {tool}: {error}") from error
            result = CallToolResult(content=[TextContent(type="text", text=str(error))], is_error=True)
        latency_ms = (time.perf_counter() - started) * 1000
        return step_from_result(tool, arguments, result, latency_ms)

    async def _open_client(self, target: Any) -> None:
        """(Re)connect the MCP client and list the tools; a dead previous connection is just dropped."""
        try:
            await self._stack.aclose()
        except Exception as error:
            logger.info("closing the previous connection to %s failed: %s", self.target.label, error)
        self._stack = AsyncExitStack()
        try:
            self._client = await self._stack.enter_async_context(Client(target))
            listed = await self._client.list_tools()
        except Exception as error:
            await self._stack.aclose()
            raise ConnectionFailed(f"cannot connect to {self.target.label}: {error}") from error
        self.tools = [_tool_info(tool) for tool in listed.tools]


class _InProcessConnection(Connection):
    """Built-in environments in this process: one MCP server, a new sandbox per reset."""

    call_timeout_s = None
    """Tools run synchronously in this event loop, so a hung one would block the timer too;
    the timer's cancel scope cost a tenth of an in-process call for nothing."""

    def __init__(self, target: ServerTarget) -> None:
        super().__init__(target)
        self.sandbox: Sandbox | None = None
        self._server = None

    async def reset(self, seed: int) -> None:
        self.sandbox = create_sandbox(list(self.target.envs), self.target.scenario, seed)
        if self._server is None:
            env_classes = [get_environment(name) for name in self.sandbox.env_names]
            self._server = build_mcp_server(env_classes, lambda ctx: self._current())
            await self._open_client(self._server)

    def _current(self) -> Sandbox:
        assert self.sandbox is not None
        return self.sandbox

    async def state(self) -> dict[str, Any] | None:
        return self._current().state()


class _StdioConnection(Connection):
    """A server started as a subprocess; a reset starts a new process (the only generic way)."""

    async def reset(self, seed: int) -> None:
        command, *args = shlex.split(self.target.command or "")
        await self._open_client(StdioServerParameters(command=command, args=args))

    async def state(self) -> dict[str, Any] | None:
        return await _read_state_resource(self._client)


class _HttpConnection(Connection):
    """Streamable HTTP: a fresh sandbox per reset from our sandbox service, or a plain MCP URL."""

    def __init__(self, target: ServerTarget) -> None:
        super().__init__(target)
        url = (target.url or "").rstrip("/")
        self.plain = url.endswith("/mcp")
        self.fresh_state = not self.plain
        self.base = url
        self.headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
        self._http = httpx2.AsyncClient(headers=self.headers, timeout=30)
        self._sandbox_id: str | None = None

    async def reset(self, seed: int) -> None:
        if self.plain:
            if self._client is None:
                await self._open_client(self.base)
            return
        await self._delete_sandbox()
        body: dict[str, Any] = {"seed": seed, "scenario": self.target.scenario}
        if self.target.envs:
            body["env"] = list(self.target.envs)
        try:
            response = await self._http.post(f"{self.base}/sandboxes", json=body)
        except httpx2.TransportError as error:
            raise ConnectionFailed(f"cannot reach {self.base}: {error}") from error
        if response.status_code != 201:
            raise ConnectionFailed(f"{self.base}/sandboxes answered {response.status_code}: {response.text[:200]}")
        created = response.json()
        self._sandbox_id = created["id"]
        await self._open_client(self.base + created["mcp"])

    async def state(self) -> dict[str, Any] | None:
        if self._sandbox_id is None:
            return None
        response = await self._http.get(f"{self.base}/sandboxes/{self._sandbox_id}/state")
        return response.json() if response.status_code == 200 else None

    async def __aexit__(self, *exc_info: object) -> None:
        await super().__aexit__(*exc_info)
        await self._delete_sandbox()
        await self._http.aclose()

    async def _delete_sandbox(self) -> None:
        if self._sandbox_id is not None:
            await self._http.delete(f"{self.base}/sandboxes/{self._sandbox_id}")
            self._sandbox_id = None


def _tool_info(tool: Any) -> ToolInfo:
    meta = tool.meta or {}
    annotations = tool.annotations
    return ToolInfo(
        name=tool.name,
        description=tool.description or "",
        input_schema=dict(tool.input_schema or {}),
        output_schema=dict(tool.output_schema) if tool.output_schema else None,
        read_only=annotations.read_only_hint if annotations is not None else None,
        hints=meta.get(HINTS_META_KEY),
    )


async def _read_state_resource(client: Client | None) -> dict[str, Any] | None:
    """Our servers publish `sandbox://all/state`; anyone else's state stays unknown."""
    if client is None:
        return None
    try:
        contents = (await client.read_resource("sandbox://all/state")).contents
    except Exception:
        return None
    return json.loads(contents[0].text) if contents and hasattr(contents[0], "text") else None
