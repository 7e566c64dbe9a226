"""The one adapter from environments to an `MCPServer`: schemas, hints, error results.

Nothing else in the code base knows how MCP tools are built.  Each tool is a thin
async function with the environment method's own signature (so the SDK derives the
input and output schemas from it) that finds its sandbox through a resolver, runs
the call transactionally and returns the result with the state diff in `_meta`.
"""

import functools
import inspect
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import anyio.to_thread
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError as MCPToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, TypeAdapter
from starlette.requests import Request

from servers.classes import PassThrough
from servers.environment import Environment
from servers.errors import SandboxError
from servers.sandboxes import Sandbox
from servers.state import canonical_json

__all__ = ["DIFF_META_KEY", "HINTS_META_KEY", "CallObserver", "SandboxResolver", "build_mcp_server", "serve_sandbox"]

logger = logging.getLogger(__name__)

HINTS_META_KEY = "funreason/hints"
"""Tool `_meta` key holding the dependency hints (`ToolSpec.hints()`)."""

DIFF_META_KEY = "funreason/diff"
"""Result `_meta` key holding the state diff of a successful call."""

SandboxResolver = Callable[[Request | None], Sandbox]
"""Finds the sandbox a request is for: a constant for stdio, the URL's id for HTTP (None: no HTTP request)."""

CallObserver = Callable[[Sandbox, str, dict[str, Any], CallToolResult, float], None]
"""Sees every `tools/call` (sandbox, tool, arguments, result, latency in ms), refused ones included."""


def build_mcp_server(
    env_classes: Sequence[type[Environment]],
    resolve: SandboxResolver,
    *,
    name: str | None = None,
    on_call: CallObserver | None = None,
    call_timeout: float | None = None,
) -> MCPServer:
    """An `MCPServer` exposing every tool of `env_classes`, each call run in `resolve(request)`.

    Tool schemas carry no sandbox plumbing: they go into training data as they are.
    `on_call` observes every call, including those refused before the tool ran.
    With `call_timeout` (seconds), every call, state read and observation runs on a
    worker thread, so a slow one holds up no other client (what HTTP needs); without,
    calls run inline, which is fastest for one client (stdio, in-process).
    """
    tools: dict[str, Tool] = {}
    for env_class in env_classes:
        for tool_name in env_class.tool_specs():
            if tool_name in tools:  # the first definition wins, as with `MCPServer.add_tool`
                logger.warning("Tool already exists: %s", tool_name)
                continue
            function = _tool_function(env_class, tool_name, resolve, call_timeout)
            tools[tool_name] = _tool_template(env_class, tool_name).model_copy(update={"fn": function})
    server = MCPServer(
        name or "+".join(env.name for env in env_classes),
        instructions=" ".join(env.description for env in env_classes),
        version=",".join(f"{env.name}-{env.version}" for env in env_classes),
        log_level="WARNING",
        middleware=[_ObserveCalls(resolve, on_call, threaded=call_timeout is not None)] if on_call else None,
        tools=list(tools.values()),
    )
    server.resource(
        "sandbox://{env}/state",
        name="state",
        description="The current state of one environment of this sandbox as JSON ('all': every environment).",
        mime_type="application/json",
    )(_state_reader(resolve, threaded=call_timeout is not None))
    return server


def serve_sandbox(sandbox: Sandbox, *, on_call: CallObserver | None = None) -> MCPServer:
    """An `MCPServer` bound to one sandbox: for stdio and in-process clients."""
    return build_mcp_server(
        [type(env) for env in sandbox.environments.values()], lambda request: sandbox, on_call=on_call
    )


class _ObserveCalls:
    """Server middleware handing each `tools/call` and its outcome to an observer."""

    def __init__(self, resolve: SandboxResolver, observe: CallObserver, *, threaded: bool) -> None:
        self.resolve = resolve
        self.observe = observe
        # one at a time, in order: an observer (a store) need not be thread-safe, only movable off the loop
        self._limiter = anyio.CapacityLimiter(1) if threaded else None

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        started = time.perf_counter()
        params = ctx.params or {}
        try:
            result = await call_next(ctx)
        except MCPError as error:
            result = CallToolResult(content=[TextContent(type="text", text=error.error.message)], is_error=True)
            await self._observe(ctx, params, result, started)
            raise
        if isinstance(result, dict):
            result = CallToolResult.model_validate(result)
        if isinstance(result, CallToolResult):
            await self._observe(ctx, params, result, started)
        return result

    async def _observe(self, ctx: Any, params: dict[str, Any], result: CallToolResult, started: float) -> None:
        latency_ms = (time.perf_counter() - started) * 1000
        arguments = params.get("arguments") or {}
        observe = functools.partial(
            self.observe, self.resolve(ctx.request), str(params.get("name")), dict(arguments), result, latency_ms
        )
        if self._limiter is None:
            observe()
        else:
            await anyio.to_thread.run_sync(observe, limiter=self._limiter)


@functools.cache
def _tool_template(env_class: type[Environment], tool_name: str) -> Tool:
    """The SDK's tool (schemas, argument and output models) for one environment tool, built once.

    Building it costs milliseconds per tool (pydantic models from the signature), which made
    every in-process connection cost as much as a hundred calls; a server copies the template
    with its own function, which has the same signature and differs only in its resolver.
    """
    spec = env_class.tool_specs()[tool_name]
    tool = Tool.from_function(
        _tool_function(env_class, tool_name, _no_resolver),
        name=tool_name,
        description=inspect.cleandoc(getattr(env_class, tool_name).__doc__ or ""),
        annotations=ToolAnnotations(read_only_hint=spec.read_only, destructive_hint=not spec.read_only),
        meta={HINTS_META_KEY: spec.hints()},
    )
    arguments = tool.fn_metadata.arg_model
    strict = type(arguments.__name__, (arguments,), {"__module__": arguments.__module__, "model_config": _STRICT})
    metadata = _StrictArguments(**(dict(tool.fn_metadata) | {"arg_model": strict}))
    return tool.model_copy(update={"fn_metadata": metadata, "parameters": strict.model_json_schema(by_alias=True)})


_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True)
"""Arguments a tool's schema does not name are refused (`additionalProperties: false`), and NaN is no number."""


class _StrictArguments(FuncMetadata):
    """Arguments validated as JSON in pydantic's strict mode: `"yes"` is no boolean, `"5"` no integer.

    The SDK validates leniently (any truthy string for a boolean); a model trained on our
    data must learn to send the types the schema states.  A JSON-in-a-string list is
    still parsed first (`pre_parse_json`), as clients send that.
    """

    def validate_arguments(self, arguments_to_validate: dict[str, Any]) -> dict[str, Any]:
        data = self.pre_parse_json(arguments_to_validate)
        try:
            text = json.dumps(data)
        except (TypeError, ValueError):  # not JSON data (an in-process caller's own objects): as they are
            return self.arg_model.model_validate(data, strict=True).model_dump_one_level()
        return self.arg_model.model_validate_json(text, strict=True).model_dump_one_level()


def _no_resolver(request: Request | None) -> Sandbox:
    raise AssertionError("a tool template is never called; servers call copies bound to their resolver")


def _tool_function(
    env_class: type[Environment], tool_name: str, resolve: SandboxResolver, call_timeout: float | None = None
) -> Callable[..., Any]:
    signature = env_class.tool_signature(tool_name)

    async def call_tool(ctx: Context, **arguments: Any) -> CallToolResult:
        try:
            sandbox = resolve(ctx.request_context.request)
            if call_timeout is None:
                execution = sandbox.execute(tool_name, arguments)
            else:
                execution = await sandbox.execute_in_thread(tool_name, arguments, call_timeout)
        except SandboxError as error:
            raise MCPToolError(str(error)) from error
        if isinstance(execution.result, PassThrough):
            return _passed_through(execution.result, execution.diff)
        data = _structured(execution.result)
        return CallToolResult(
            content=[TextContent(type="text", text=json.dumps(data, ensure_ascii=False))],
            structured_content=data,
            _meta={DIFF_META_KEY: execution.diff},
        )

    context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)
    # a passed-through result has no schema: annotated CallToolResult, the SDK publishes none and validates nothing
    returns = CallToolResult if signature.return_annotation is PassThrough else signature.return_annotation
    parameters = [*signature.parameters.values(), context]
    call_tool.__signature__ = signature.replace(parameters=parameters, return_annotation=returns)  # type: ignore[attr-defined]
    call_tool.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()} | {
        "ctx": Context,
        "return": returns,
    }
    call_tool.__name__ = tool_name
    return call_tool


def _structured(result: Any) -> dict[str, Any]:
    """The structured content the SDK publishes for this value: models and dicts as objects, the rest wrapped."""
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    data = TypeAdapter(Any).dump_python(result, mode="json")
    return data if isinstance(data, dict) else {"result": data}


def _passed_through(result: PassThrough, diff: Any) -> CallToolResult:
    """A JSON object as structured content (and its JSON as text), anything else as text only.

    A value JSON has no type for (a Decimal, mpmath's numbers) goes as its float when it has one, else as its text.
    """
    value = json.loads(json.dumps(result.value, ensure_ascii=False, default=_float_or_text))
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=value if isinstance(value, dict) else None,
        is_error=result.is_error,
        _meta={DIFF_META_KEY: diff},
    )


def _float_or_text(value: Any) -> float | str:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _state_reader(resolve: SandboxResolver, *, threaded: bool) -> Callable[..., Any]:
    async def read_state(env: str, ctx: Context) -> str:
        sandbox = resolve(ctx.request_context.request)
        if env != "all" and env not in sandbox.environments:
            raise ValueError(f"this sandbox has no environment {env!r} (it has: {', '.join(sandbox.env_names)})")
        dump = functools.partial(_state_json, sandbox, env)
        return await anyio.to_thread.run_sync(dump) if threaded else dump()

    return read_state


def _state_json(sandbox: Sandbox, env: str) -> str:
    with sandbox.lock:
        return canonical_json(sandbox.state() if env == "all" else sandbox.environments[env].state_data())
