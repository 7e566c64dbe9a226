"""The HTTP app: `/sandboxes` routes and one MCP endpoint per sandbox, addressed by URL.

MCP over streamable HTTP is stateless here (the SDK's stateless mode: no protocol
sessions, so none to flood or to carry from one sandbox's URL to another's), and a
sandbox is named by its URL (`/sandboxes/{id}/mcp`).  One `MCPServer` per set of
environments serves every sandbox of that set; its tools find their sandbox from the
id in the path.  `servers.guard` checks Host, Origin, token and content type in
front of every route; scenarios are named, never read from a path a client gives;
tool calls, state reads and forks run on worker threads, so a slow one holds up no
other request.
"""

import contextlib
import json
import logging
import re
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from servers.errors import (
    SandboxError,
    SandboxLimitReached,
    ScenarioError,
    ServeRefused,
    UnknownEnvironment,
    UnknownSandbox,
)
from servers.guard import AccessGuard, AccessPolicy
from servers.mcp import CallObserver, build_mcp_server
from servers.registry import environment_names, get_environment
from servers.sandboxes import Sandbox, SandboxManager, create_sandbox
from servers.scenarios import combined_scenario_names, load_combined_scenario, load_scenario, scenario_names

__all__ = ["DEFAULT_CALL_TIMEOUT", "SandboxApp", "create_app"]

logger = logging.getLogger(__name__)

DEFAULT_CALL_TIMEOUT = 30.0
"""Seconds a tool call may run over HTTP before it is stopped (and undone)."""

_MAX_BODY = 64 * 1024
_SWITCH_INTERVAL = 0.001
_SCENARIO_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
"""What a scenario name over HTTP may be: a name, never a path."""


class SandboxApp:
    """Sandboxes of the environments `env_names`, created and served over HTTP."""

    def __init__(
        self,
        env_names: Sequence[str],
        *,
        manager: SandboxManager | None = None,
        default_scenario: str | None = None,
        seed: int = 0,
        token: str | None = None,
        host: str = "127.0.0.1",
        allowed_hosts: Sequence[str] = (),
        allowed_origins: Sequence[str] = (),
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        on_call: CallObserver | None = None,
    ) -> None:
        self.env_names = list(env_names) or environment_names()
        for name in self.env_names:
            get_environment(name)
        self.policy = AccessPolicy.for_bind(
            host, allowed_hosts=allowed_hosts, allowed_origins=allowed_origins, token=token
        )
        self.manager = manager if manager is not None else SandboxManager()
        self.scenarios = {name: _scenarios_of(name, self.manager.scenario_dir) for name in self.env_names}
        self.default = create_sandbox(
            self.env_names, default_scenario, seed, sandbox_id="default", scenario_dir=self.manager.scenario_dir
        )
        self.host = host
        self.call_timeout = call_timeout
        self.on_call = on_call
        self._mcp_apps: dict[tuple[str, ...], ASGIApp] = {}
        self._start_lock = anyio.Lock()
        self._task_group: anyio.abc.TaskGroup | None = None

    def starlette(self) -> Starlette:
        """The ASGI application to hand to a server such as uvicorn."""
        routes = [
            Route("/sandboxes", self._create, methods=["POST"]),
            Route("/sandboxes", self._list, methods=["GET"]),
            Route("/sandboxes/{sid}", self._describe, methods=["GET"]),
            Route("/sandboxes/{sid}", self._delete, methods=["DELETE"]),
            Route("/sandboxes/{sid}/state", self._state, methods=["GET"]),
            Route("/sandboxes/{sid}/fork", self._fork, methods=["POST"]),
            Route("/sandboxes/{sid}/mcp", _MCPEndpoint(self), methods=["GET", "POST", "DELETE"]),
            Route("/mcp", _MCPEndpoint(self), methods=["GET", "POST", "DELETE"]),
        ]
        app = Starlette(routes=routes, lifespan=self._lifespan)
        app.add_exception_handler(SandboxError, _sandbox_error)  # type: ignore[arg-type]
        app.add_middleware(AccessGuard, policy=self.policy)  # type: ignore[arg-type]
        return app

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        # A tool busy in pure Python holds the interpreter lock; the event loop gets it back after at
        # most this interval each time it asks, and it asks a few times per request (5 ms by default).
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, _SWITCH_INTERVAL))
        try:
            async with anyio.create_task_group() as task_group:
                self._task_group = task_group
                yield
                task_group.cancel_scope.cancel()
        finally:
            sys.setswitchinterval(interval)

    async def mcp_app_for(self, sandbox: Sandbox) -> ASGIApp:
        """The MCP handler for this sandbox's set of environments, started on first use."""
        key = tuple(sandbox.env_names)
        async with self._start_lock:
            if key not in self._mcp_apps:
                env_classes = [get_environment(name) for name in key]
                server = build_mcp_server(
                    env_classes, self._resolve, on_call=self.on_call, call_timeout=self.call_timeout
                )
                server.streamable_http_app(
                    host=self.host, stateless_http=True, transport_security=self.policy.transport_security()
                )
                assert self._task_group is not None, "the app's lifespan is not running"
                await self._task_group.start(_run_session_manager, server)
                self._mcp_apps[key] = server.session_manager.handle_request
        return self._mcp_apps[key]

    def sandbox_for(self, scope: Scope) -> Sandbox:
        sandbox_id = scope.get("path_params", {}).get("sid")
        return self.default if sandbox_id is None else self.manager.get(sandbox_id)

    def _resolve(self, request: Request | None) -> Sandbox:
        return self.sandbox_for(request.scope if request is not None else {})

    async def _create(self, request: Request) -> Response:
        body = await _json_body(request)
        scenario = body.get("scenario")
        if scenario is not None and not isinstance(scenario, str | dict):
            return _error(400, "'scenario' must be a scenario name or an object of names by environment")
        combined = self._combined(scenario) if isinstance(scenario, str) else None
        envs = body.get("env", list(combined) if combined else self.env_names)
        envs = [envs] if isinstance(envs, str) else envs
        if not isinstance(envs, list) or not envs or not all(isinstance(name, str) for name in envs):
            return _error(400, "'env' must be an environment name or a non-empty list of names")
        for name in envs:
            if name not in self.env_names:
                problem = "is not served here" if name in environment_names() else "is an unknown environment"
                raise UnknownEnvironment(f"{name!r} {problem} (served: {', '.join(self.env_names)})")
        if combined is None:
            self._check_scenarios(envs, scenario)
        seed = body.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            return _error(400, "'seed' must be an integer")
        self.manager.check_room()
        try:
            built = await anyio.to_thread.run_sync(
                lambda: create_sandbox(envs, scenario, seed, scenario_dir=self.manager.scenario_dir)
            )
        except ScenarioError as error:  # its text may quote the file: the server's log gets it, the client not
            logger.warning("a sandbox could not be built: %s", error)
            return _error(400, "the scenario could not be loaded (the server's log says why)")
        sandbox = self.manager.add(built)
        return JSONResponse(sandbox.describe() | {"mcp": f"/sandboxes/{sandbox.id}/mcp"}, status_code=201)

    def _combined(self, name: str) -> dict[str, str] | None:
        return load_combined_scenario(name) if name in combined_scenario_names() else None

    def _check_scenarios(self, envs: list[str], scenario: str | dict[str, Any] | None) -> None:
        """Only names the server knows, shipped or its own: no path, no file a client points at."""
        wanted = {name: scenario for name in envs} if isinstance(scenario, str | None) else scenario
        for env, name in wanted.items():
            if env not in envs:
                raise _BadRequest(f"'scenario' names {env!r}, which is not among this sandbox's environments")
            if name is None:
                continue
            if not isinstance(name, str) or not _SCENARIO_NAME.fullmatch(name):
                raise _BadRequest("a scenario is named by letters, digits, '_' and '-' (paths are for the CLI only)")
            if name not in self.scenarios[env]:
                known = ", ".join(sorted(self.scenarios[env]))
                raise _BadRequest(f"unknown scenario {name!r} for environment {env!r} (known: {known})")

    async def _fork(self, request: Request) -> Response:
        source = self.manager.get(request.path_params["sid"])
        self.manager.check_room()
        sandbox = self.manager.add(await anyio.to_thread.run_sync(source.fork))
        return JSONResponse(sandbox.describe() | {"mcp": f"/sandboxes/{sandbox.id}/mcp"}, status_code=201)

    async def _list(self, request: Request) -> Response:
        if self.policy.token is None:
            return _error(403, "listing sandboxes needs a server started with a token (--token or --token-file)")
        return JSONResponse({"sandboxes": [sandbox.describe() for sandbox in self.manager.list()]})

    async def _describe(self, request: Request) -> Response:
        sandbox = self.manager.get(request.path_params["sid"])
        return JSONResponse(sandbox.describe() | {"mcp": f"/sandboxes/{sandbox.id}/mcp"})

    async def _delete(self, request: Request) -> Response:
        self.manager.delete(request.path_params["sid"])
        return Response(status_code=204)

    async def _state(self, request: Request) -> Response:
        sandbox = self.manager.get(request.path_params["sid"])
        body = await anyio.to_thread.run_sync(_state_bytes, sandbox)  # a large state holds up no other request
        return Response(body, media_type="application/json")


def create_app(env_names: Sequence[str] = (), **options: Any) -> Starlette:
    """A ready ASGI app serving sandboxes of `env_names` (all built-ins when empty)."""
    return SandboxApp(env_names, **options).starlette()


class _MCPEndpoint:
    """ASGI endpoint that hands a request to the MCP server of the addressed sandbox."""

    def __init__(self, owner: SandboxApp) -> None:
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            # Stateless: no stream to open (GET would hold one open for ever), no session to end (DELETE)
            response = _error(405, "this MCP endpoint takes POST only (stateless: no stream, no session)")
            response.headers["Allow"] = "POST"
            await response(scope, receive, send)
            return
        if any(name == b"mcp-session-id" for name, _ in scope["headers"]):
            # Stateless: this server never hands out a session, so one sent is not ours (nor this sandbox's).
            message = "unknown session: this server is stateless, a sandbox is addressed by its URL"
            await _error(404, message)(scope, receive, send)
            return
        try:
            sandbox = self.owner.sandbox_for(scope)
        except UnknownSandbox as error:
            await _error(404, str(error))(scope, receive, send)
            return
        handler = await self.owner.mcp_app_for(sandbox)
        await handler(scope, receive, send)


async def _run_session_manager(server: MCPServer, *, task_status: anyio.abc.TaskStatus[None]) -> None:
    async with server.session_manager.run():
        task_status.started()
        await anyio.sleep_forever()


async def _json_body(request: Request) -> Mapping[str, Any]:
    """The request's JSON object, read at most `_MAX_BODY` bytes (a sandbox request is small)."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > _MAX_BODY:
            raise _TooLarge(f"request body too large (limit {_MAX_BODY} bytes)")
    try:
        body = json.loads(raw) if raw else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _BadRequest(f"request body is not valid JSON: {error}") from error
    if not isinstance(body, dict):
        raise _BadRequest("request body must be a JSON object")
    unknown = sorted(set(body) - {"env", "scenario", "seed"})
    if unknown:
        raise _BadRequest(f"unknown key {unknown[0]!r} (a sandbox takes 'env', 'scenario' and 'seed')")
    return body


class _BadRequest(SandboxError):
    pass


class _TooLarge(SandboxError):
    pass


_STATUS: dict[type[SandboxError], int] = {UnknownSandbox: 404, SandboxLimitReached: 429, _TooLarge: 413}
"""HTTP status by error; every other SandboxError is the client's mistake: 400."""


async def _sandbox_error(request: Request, error: SandboxError) -> Response:
    return _error(_STATUS.get(type(error), 400), str(error))


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _state_bytes(sandbox: Sandbox) -> bytes:
    return json.dumps(sandbox.state(), ensure_ascii=False, separators=(",", ":")).encode()


def _scenarios_of(env: str, scenario_dir: Path | None) -> frozenset[str]:
    """The scenario names a client may ask for: the shipped ones and the server's own, each checked now.

    A bad file of the server's own is one line at start, not a surprise for a client later.
    """
    names = set(scenario_names(env))
    folder = scenario_dir / env if scenario_dir is not None else None
    for path in sorted(folder.glob("*.json")) if folder is not None and folder.is_dir() else []:
        if not _SCENARIO_NAME.fullmatch(path.stem):
            raise ServeRefused(f"{path}: a scenario's file name must be letters, digits, '_' and '-' before .json")
        load_scenario(get_environment(env), path=path)
        names.add(path.stem)
    return frozenset(names)
