"""The HTTP app: `/sandboxes` routes and one MCP endpoint per sandbox, addressed by URL.

MCP over streamable HTTP is stateless here, so a sandbox is named by its URL
(`/sandboxes/{id}/mcp`), never by a protocol session.  One `MCPServer` per set
of environments serves every sandbox of that set; its tools find their sandbox
from the id in the path.
"""

import contextlib
import hmac
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import anyio
import anyio.abc
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from servers.errors import SandboxError, SandboxLimitReached, UnknownEnvironment, UnknownSandbox
from servers.mcp import CallObserver, build_mcp_server
from servers.registry import environment_names, get_environment
from servers.sandboxes import Sandbox, SandboxManager, create_sandbox
from servers.scenarios import load_combined_scenario

__all__ = ["SandboxApp", "create_app"]

_MAX_BODY = 64 * 1024


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
        on_call: CallObserver | None = None,
    ) -> None:
        self.env_names = list(env_names) or environment_names()
        for name in self.env_names:
            get_environment(name)
        self.manager = manager if manager is not None else SandboxManager()
        self.default = create_sandbox(self.env_names, default_scenario, seed, sandbox_id="default")
        self.token = token
        self.host = host
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
        return app if self.token is None else _BearerAuth(app, self.token)  # type: ignore[return-value]

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as task_group:
            self._task_group = task_group
            yield
            task_group.cancel_scope.cancel()

    async def mcp_app_for(self, sandbox: Sandbox) -> ASGIApp:
        """The MCP handler for this sandbox's set of environments, started on first use."""
        key = tuple(sandbox.env_names)
        async with self._start_lock:
            if key not in self._mcp_apps:
                env_classes = [get_environment(name) for name in key]
                server = build_mcp_server(env_classes, self._resolve, on_call=self.on_call)
                server.streamable_http_app(host=self.host)
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
        combined = load_combined_scenario(scenario) if isinstance(scenario, str) else None
        envs = body.get("env", list(combined) if combined else self.env_names)
        envs = [envs] if isinstance(envs, str) else envs
        if not isinstance(envs, list) or not envs or not all(isinstance(name, str) for name in envs):
            return _error(400, "'env' must be an environment name or a non-empty list of names")
        for name in envs:
            get_environment(name)
            if name not in self.env_names:
                raise UnknownEnvironment(
                    f"environment {name!r} is not served here (served: {', '.join(self.env_names)})"
                )
        if scenario is not None and not isinstance(scenario, str | dict):
            return _error(400, "'scenario' must be a scenario name or an object of names by environment")
        seed = body.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            return _error(400, "'seed' must be an integer")
        sandbox = self.manager.create(envs, scenario, seed)
        return JSONResponse(sandbox.describe() | {"mcp": f"/sandboxes/{sandbox.id}/mcp"}, status_code=201)

    async def _fork(self, request: Request) -> Response:
        sandbox = self.manager.fork(request.path_params["sid"])
        return JSONResponse(sandbox.describe() | {"mcp": f"/sandboxes/{sandbox.id}/mcp"}, status_code=201)

    async def _list(self, request: Request) -> Response:
        return JSONResponse({"sandboxes": [sandbox.describe() for sandbox in self.manager.list()]})

    async def _describe(self, request: Request) -> Response:
        sandbox = self.manager.get(request.path_params["sid"])
        return JSONResponse(sandbox.describe() | {"mcp": f"/sandboxes/{sandbox.id}/mcp"})

    async def _delete(self, request: Request) -> Response:
        self.manager.delete(request.path_params["sid"])
        return Response(status_code=204)

    async def _state(self, request: Request) -> Response:
        return JSONResponse(self.manager.get(request.path_params["sid"]).state())


def create_app(env_names: Sequence[str] = (), **options: Any) -> Starlette:
    """A ready ASGI app serving sandboxes of `env_names` (all built-ins when empty)."""
    return SandboxApp(env_names, **options).starlette()


class _MCPEndpoint:
    """ASGI endpoint that hands a request to the MCP server of the addressed sandbox."""

    def __init__(self, owner: SandboxApp) -> None:
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            sandbox = self.owner.sandbox_for(scope)
        except UnknownSandbox as error:
            await _error(404, str(error))(scope, receive, send)
            return
        handler = await self.owner.mcp_app_for(sandbox)
        await handler(scope, receive, send)


class _BearerAuth:
    """Require `Authorization: Bearer <token>` on every request."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await _error(401, "missing or wrong bearer token")(scope, receive, send)
                return
        await self.app(scope, receive, send)


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
