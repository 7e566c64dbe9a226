"""One interface over in-process, stdio and streamable-HTTP MCP servers, ours or anyone's."""

import contextlib
import dataclasses
import json
import logging
import os
import re
import shlex
import tempfile
import time
from abc import ABC, abstractmethod
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import IO, Any

import anyio
import httpx2
from anyio.abc import TaskGroup, TaskStatus
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
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
from simulator.hints import load_hints
from simulator.records import Step, ToolInfo, step_from_result

__all__ = ["DEFAULT_ERROR_SHAPE", "DEFAULT_ERROR_TEXT", "ERROR_SHAPES", "Connection", "ServerTarget", "error_shape"]

logger = logging.getLogger(__name__)

CALL_TIMEOUT_S = 60.0
"""A call that takes longer than this is treated as a dead server."""

START_TIMEOUT_S = 30.0
"""A server that has not listed its tools this long after its start is treated as hung."""

DEFAULT_ERROR_TEXT = r"^\W*(error|failed|failure|exception|traceback|cannot|could not|unable to|invalid)\b"
"""Text results matching this (case-insensitive) count as errors even when the server does not set
`isError`: many servers answer "Error: ..." as a plain result.  `--error-text` overrides it; '' turns it off."""


ERROR_SHAPES = {
    "error": "an `error` (or non-empty `errors`) key, or `isError: true`",
    "status": "a `status` of error, failed, not_found, invalid, denied, ... (`task_not_found` too)",
    "success": "`success` or `ok` false",
    "http": "an HTTP-like `status`/`statusCode`/`status_code` of 400 or more",
}
"""The shapes of structured results (JSON, or JSON inside text) that say a call failed, whatever the language
of its message: many servers answer `{"status": "error", "message": "..."}` without setting `isError`."""

DEFAULT_ERROR_SHAPE = ",".join(ERROR_SHAPES)
"""Every shape; `--error-shape` names a subset (comma-separated), '' turns the rule off."""

_FAILED_STATUS = re.compile(
    r"(?:^|[_\s-])(?:error|errored|fail|failed|failure|not[_\s-]?found|invalid|denied|forbidden|unauthori[sz]ed|"
    r"rejected|refused)(?:$|[_\s-])",
    re.IGNORECASE,
)


def error_shape(result: Any, shapes: str | None = DEFAULT_ERROR_SHAPE) -> str | None:
    """Why a structured result reads as a failure under the `shapes` named (see `ERROR_SHAPES`), or None.

    Only the top level is read: a list of tasks some of which have `status: failed` is a success.
    """
    if not isinstance(result, dict) or not shapes:
        return None
    wanted = set(shapes.split(","))
    lowered = {str(key).lower(): value for key, value in result.items()}
    if "error" in wanted:
        if lowered.get("error") not in (None, False, "", {}, []):
            return "error key"
        if lowered.get("errors") not in (None, "", {}, []) or lowered.get("iserror") is True:
            return "errors key"
    status = lowered.get("status")
    if "status" in wanted and isinstance(status, str) and _FAILED_STATUS.search(status):
        return f"status {status}"
    if "success" in wanted and (lowered.get("success") is False or lowered.get("ok") is False):
        return "success false"
    if "http" in wanted:
        for key in ("status", "statuscode", "status_code", "http_status"):
            value = lowered.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:
                return f"{key} {value}"
    return None


@dataclass(frozen=True)
class ServerTarget:
    """Where tools come from: built-in environments, a stdio command, or an HTTP URL.

    A URL ending in `/mcp` is used as it is (one shared state).  Any other URL is taken
    as the base of `funreason serve --transport http`, which gives every trajectory a
    fresh sandbox through `POST /sandboxes`.  `server_env` is added to the caller's
    environment for a stdio server; `reset_cmd` (a shell command) runs before every
    fresh start, to restore what the server keeps outside its process (a folder, a file).
    """

    envs: tuple[str, ...] = ()
    scenario: str | dict[str, str] | None = None
    command: str | None = None
    url: str | None = None
    token: str | None = None
    server_env: tuple[tuple[str, str], ...] = ()
    reset_cmd: str | None = None
    error_text: str | None = DEFAULT_ERROR_TEXT
    error_shape: str | None = DEFAULT_ERROR_SHAPE
    hints: str | None = None
    """A hints file (`simulator.hints`) merged over the tools the server lists."""

    def __post_init__(self) -> None:
        given = [bool(self.envs), self.command is not None, self.url is not None]
        if sum(given) != 1 and not (self.scenario and not any(given)):
            raise ConnectionFailed("give exactly one of: environments, a server command, a server URL")
        if self.error_text:
            try:
                re.compile(self.error_text)
            except re.error as error:
                message = f"error-text rule {self.error_text!r} is not a regular expression: {error}"
                raise ConnectionFailed(message) from None
        unknown = sorted(set((self.error_shape or "").split(",")) - set(ERROR_SHAPES) - {""})
        if unknown:
            raise ConnectionFailed(f"unknown error shape {unknown[0]!r}: use any of {', '.join(ERROR_SHAPES)} or ''")

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

    def options(self) -> dict[str, Any]:
        """What a run records besides the label so that synthesis reconnects the same way."""
        return {
            "server_env": dict(self.server_env),
            "reset_cmd": self.reset_cmd,
            "error_text": self.error_text,
            "error_shape": self.error_shape,
            "hints": self.hints,
        }

    @classmethod
    def from_record(
        cls, env: str, scenario: str, token: str | None = None, options: dict[str, Any] | None = None
    ) -> "ServerTarget":
        """The target a stored trajectory came from, from its `env` and `scenario` labels
        and the run's recorded `options()`."""
        options = options or {}
        extra = {
            "server_env": tuple(sorted((options.get("server_env") or {}).items())),
            "reset_cmd": options.get("reset_cmd"),
            "error_text": options.get("error_text", DEFAULT_ERROR_TEXT),
            "error_shape": options.get("error_shape", DEFAULT_ERROR_SHAPE),
            "hints": options.get("hints"),
        }
        if env.startswith("cmd:"):
            return cls(command=env.removeprefix("cmd:"), **extra)
        if env.startswith(("http://", "https://")):
            return cls(url=env, token=token, **extra)
        chosen = json.loads(scenario) if scenario.startswith("{") else scenario
        return cls(envs=tuple(env.split("+")), scenario=chosen, hints=extra["hints"])

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
    scenario's initial state; when it cannot (a plain URL with no `reset_cmd`),
    `unfresh_reason` says why.

    The MCP client runs in a task of its own, so that two connections opened in one
    task can each be reset (closed and reopened) in any order: a client entered and
    exited in the caller's task would exit cancel scopes out of order.
    """

    fresh_state = True
    unfresh_reason: str | None = None
    call_timeout_s: float | None = CALL_TIMEOUT_S
    """A call that takes longer is a dead server (None: no timer)."""

    def __init__(self, target: ServerTarget) -> None:
        self.target = target
        self.scenario = target.scenario
        """The scenario the next reset starts from: the target's, unless `use_scenario` chose another."""
        self.tools: list[ToolInfo] = []
        self._client: Client | None = None
        self._stop: anyio.Event | None = None
        self._stopped: anyio.Event | None = None
        self._group: TaskGroup | None = None
        self._stack = AsyncExitStack()
        third_party = target.command is not None or target.url is not None  # ours set the error flag
        self._error_text = re.compile(target.error_text, re.IGNORECASE) if target.error_text and third_party else None
        self._error_shape = target.error_shape if third_party else None
        self._watch_leaks = third_party
        self._lost = False
        self._first_answers: list[str] | None = None

    async def __aenter__(self) -> "Connection":
        self._group = await self._stack.enter_async_context(anyio.create_task_group())
        try:
            await self.reset(0)
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._close_client()
        await self._stack.aclose()

    def use_scenario(self, scenario: str | dict[str, str] | None) -> None:
        """Start later resets from `scenario` (a run spread over several worlds), over the same client.

        A stdio server or a plain URL has one world, its own: there the choice changes nothing.
        """
        self.scenario = scenario

    async def reset(self, seed: int) -> None:
        """Start the next trajectory from the scenario's initial state (and check that it is)."""
        await self._restart(seed)
        if self._watch_leaks:
            try:
                await self._check_leak()
            except ServerDied:  # a probe that kills the server says nothing of leaks: off, and start again
                self._watch_leaks = False
                await self._restart(seed)

    async def confirmed_fresh(self, seed: int) -> bool:
        """Whether a reset still restores a fresh state after what the last trajectory changed.

        A leak shows only once something was changed, so the first dialogue on a leaking server would
        pass for verified: while leaks are watched, one more fresh start checks before a sample is kept
        as verified.
        """
        if self._watch_leaks:
            await self.reset(seed)
        return self.fresh_state

    def known_to_leak(self, reason: str) -> None:
        """What an earlier connection to the same server found (`Store.leak_of`): nothing on this
        one is fresh, whatever its own first starts show."""
        self.fresh_state, self._watch_leaks, self.unfresh_reason = False, False, reason

    @abstractmethod
    async def _restart(self, seed: int) -> None:
        """Whatever makes the server fresh: a new sandbox, a new process, the user's reset command."""

    async def _check_leak(self) -> None:
        """Compare what the server shows right after this fresh start with what it showed after the first.

        The probes are tools that look read-only and need no argument (`list_requests`); their answers
        after every fresh start must be those of the first one.  When they differ, state survived the
        restart (a file the server keeps and no `--reset-cmd` restores): samples are unverified from then
        on, and the user is told once, with the fix.  Probes that answer differently twice in a row
        (a clock) say nothing, and the check is off.
        """
        probes = [tool.name for tool in sorted(self.tools, key=lambda tool: tool.name) if _looks_like_a_probe(tool)][:3]
        if not probes:
            self._watch_leaks = False
            return
        answers = [(await self.call(name, {})).text for name in probes]
        if self._first_answers is None:
            if answers != [(await self.call(name, {})).text for name in probes]:
                self._watch_leaks = False
            self._first_answers = answers
            return
        changed = next(
            (name for name, old, new in zip(probes, self._first_answers, answers, strict=True) if old != new), None
        )
        if changed is not None:
            self.fresh_state, self._watch_leaks = False, False
            self.unfresh_reason = (
                f"state leaks across fresh starts of {self.target.label} ({changed} answered differently after a "
                "restart): give --reset-cmd to restore what the server keeps outside its process"
            )
            if self.target.label not in _WARNED:
                _WARNED.add(self.target.label)
                logger.warning("samples are unverified: %s", self.unfresh_reason)

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
            raise ServerDied(f"{tool} did not answer within {self.call_timeout_s:.0f} s{self._last_words()}") from error
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError) as error:
            raise ServerDied(
                f"the server went away during {tool}: {type(error).__name__}{self._last_words()}"
            ) from error
        except MCPError as error:
            if error.error.code == CONNECTION_CLOSED or _SESSION_LOST.search(str(error)):
                self._lost = True  # the next reset opens a new session
                raise ServerDied(f"the server went away during {tool}: {error}{self._last_words()}") from error
            result = CallToolResult(content=[TextContent(type="text", text=str(error))], is_error=True)
        latency_ms = (time.perf_counter() - started) * 1000
        step = step_from_result(tool, arguments, result, latency_ms)
        if not step.is_error and (
            error_shape(step.result, self._error_shape)
            or (self._error_text is not None and self._error_text.search(step.text))
        ):
            step.is_error, step.result = True, None  # the one place a call's outcome is decided
        return step

    async def _open_client(self, target: Any) -> None:
        """(Re)connect the MCP client in a task of its own and list the tools."""
        await self._close_client()
        assert self._group is not None, "use the connection as an async context manager"
        try:
            with anyio.fail_after(START_TIMEOUT_S):
                self._client, tools, self._stop, self._stopped = await self._group.start(self._serve, target)
        except TimeoutError as error:
            raise ConnectionFailed(
                f"{self.target.label} did not list its tools within {START_TIMEOUT_S:.0f} s{self._last_words()}"
            ) from error
        except Exception as error:
            raise ConnectionFailed(
                f"cannot connect to {self.target.label}: {_leaf(error)}{self._last_words()}"
            ) from error
        self.tools = [_tool_info(tool) for tool in tools]
        if self.target.command is not None or self.target.url is not None:
            self.tools = [_unwrapped(tool) for tool in self.tools]
        if self.target.hints is not None:  # the one point where a hints file meets a server's tools
            self.tools = load_hints(self.target.hints).apply(self.tools)

    async def _serve(self, target: Any, *, task_status: TaskStatus[Any]) -> None:
        """The client's own task: open it, hand it over, keep it open until told to stop."""
        stop, stopped = anyio.Event(), anyio.Event()
        started = False
        try:
            async with Client(target) as client:
                listed = await client.list_tools()
                task_status.started((client, listed.tools, stop, stopped))
                started = True
                await stop.wait()
        except Exception as error:
            if not started:
                raise
            logger.info("closing the connection to %s: %s", self.target.label, _leaf(error))
        finally:
            stopped.set()

    async def _close_client(self) -> None:
        if self._stop is not None and self._stopped is not None:
            self._stop.set()
            await self._stopped.wait()
        self._client = self._stop = self._stopped = None

    def _last_words(self) -> str:
        """The server's last stderr line, for error messages (stdio servers only)."""
        return ""


class _InProcessConnection(Connection):
    """Built-in environments in this process: one MCP server, a new sandbox per reset."""

    call_timeout_s = None
    """Tools run synchronously in this event loop, so a hung one would block the timer too;
    the timer's cancel scope cost a tenth of an in-process call for nothing."""

    def __init__(self, target: ServerTarget) -> None:
        super().__init__(target)
        self.sandbox: Sandbox | None = None
        self._server = None

    async def _restart(self, seed: int) -> None:
        self.sandbox = create_sandbox(list(self.target.envs), self.scenario, seed)
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
    """A server started as a subprocess; a reset runs `reset_cmd` (if any) and starts a new process.

    A new process is the only generic way to forget what a server holds in memory; what it
    keeps elsewhere (files) only `reset_cmd` can restore.  The caller's environment and
    `server_env` reach the process; its stderr goes to a file whose last line explains failures.
    """

    def __init__(self, target: ServerTarget) -> None:
        super().__init__(target)
        self._errlog: IO[str] | None = None

    async def _restart(self, seed: int) -> None:
        command, *args = shlex.split(self.target.command or "")
        await self._close_client()
        await _run_reset(self.target.reset_cmd)
        if self._errlog is not None:
            self._errlog.close()
        self._errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        environment = {**os.environ, **dict(self.target.server_env)}
        parameters = StdioServerParameters(command=command, args=args, env=environment)
        await self._open_client(stdio_client(parameters, errlog=self._errlog))

    async def state(self) -> dict[str, Any] | None:
        return await _read_state_resource(self._client)

    async def __aexit__(self, *exc_info: object) -> None:
        await super().__aexit__(*exc_info)
        if self._errlog is not None:
            self._errlog.close()
            self._errlog = None

    def _last_words(self) -> str:
        if self._errlog is None or self._errlog.closed:
            return ""
        self._errlog.flush()
        self._errlog.seek(0)
        lines = [line.strip() for line in self._errlog.read()[-4000:].splitlines() if line.strip()]
        return f" (command {self.target.command!r}; last stderr line: {lines[-1]})" if lines else ""


class _HttpConnection(Connection):
    """Streamable HTTP: a fresh sandbox per reset from our sandbox service, or a plain MCP URL.

    A plain URL is fresh only when `reset_cmd` restores it before each trajectory.
    """

    def __init__(self, target: ServerTarget) -> None:
        super().__init__(target)
        url = (target.url or "").rstrip("/")
        self.plain = url.endswith("/mcp")
        self.fresh_state = not self.plain or target.reset_cmd is not None
        self._watch_leaks = self.plain and self.fresh_state  # our sandbox service is fresh by construction
        if not self.fresh_state:
            self.unfresh_reason = f"{url} offers no reset and no --reset-cmd was given"
        self.base = url
        self.headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
        self._http = httpx2.AsyncClient(headers=self.headers, timeout=30)
        self._sandbox_id: str | None = None

    async def _restart(self, seed: int) -> None:
        if self.plain:
            await _run_reset(self.target.reset_cmd)
            if self._client is None or self.target.reset_cmd or self._lost:
                await self._reconnect()  # a reset may restart the server: its MCP session died with it
                self._lost = False
            return
        await self._delete_sandbox()
        body: dict[str, Any] = {"seed": seed, "scenario": self.scenario}
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

    async def _reconnect(self) -> None:
        """A new MCP session on the plain URL, waiting (up to the start timeout) for a restarted server."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                await self._open_client(self.base)
                return
            except ConnectionFailed:
                if time.monotonic() > deadline:
                    raise
                await anyio.sleep(0.2)

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


async def _run_reset(command: str | None) -> None:
    """Run the user's reset command in a shell; a failure is one line naming it and its last stderr line."""
    if not command:
        return
    result = await anyio.run_process(command, check=False)
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines() or ["(no stderr)"]
        raise ConnectionFailed(f"--reset-cmd {command!r} failed with exit code {result.returncode}: {lines[-1]}")


_SESSION_LOST = re.compile(
    r"^(?:session (?:terminated|not found|expired)|server returned an error response|"
    r"bad request: no valid session|no valid session)",
    re.IGNORECASE,
)
"""Protocol errors that say the MCP session (or the server behind it) is gone, not that a tool failed."""

_WARNED: set[str] = set()
"""Targets whose leaking state this process has warned of (once each)."""

_PROBE_VERBS = {"list", "get", "read", "count", "show", "view", "describe", "status", "stats", "summary"}


def _looks_like_a_probe(tool: ToolInfo) -> bool:
    """A tool that shows state without changing it and takes no argument: `list_requests`, `read_graph`."""
    if tool.required or tool.read_only is False:
        return False
    first = re.split(r"[^a-z]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", tool.name).lower())[0]
    return tool.read_only is True or first in _PROBE_VERBS


def _leaf(error: BaseException) -> str:
    """The innermost message of an exception group ("unhandled errors in a TaskGroup" says nothing)."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return str(error) or type(error).__name__


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


def _unwrapped(tool: ToolInfo) -> ToolInfo:
    """A third-party tool whose output schema names no field of its results: an open object, or only
    FastMCP's `{"result": ...}` wrapper (whose JSON text `step_from_result` reads as the structure inside).
    Such a schema is dropped: kept, it would say that the results have no fields to feed other tools."""
    if tool.output_schema is not None and set(tool.output_schema.get("properties", {})) <= {"result"}:
        return dataclasses.replace(tool, output_schema=None)
    return tool


async def _read_state_resource(client: Client | None) -> dict[str, Any] | None:
    """Our servers publish `sandbox://all/state`; anyone else's state stays unknown."""
    if client is None:
        return None
    try:
        contents = (await client.read_resource("sandbox://all/state")).contents
    except Exception:
        return None
    return json.loads(contents[0].text) if contents and hasattr(contents[0], "text") else None
