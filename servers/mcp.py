"""The one adapter from environments to an `MCPServer`: schemas, hints, error results.

Nothing else in the code base knows how MCP tools are built.  Each tool is a thin
async function with the environment method's own signature (so the SDK derives the
input and output schemas from it) that finds its sandbox through a resolver, runs
the call transactionally and returns the result with the state diff in `_meta`.
"""

import inspect
import json
from collections.abc import Callable, Sequence
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError as MCPToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, TypeAdapter

from servers.environment import Environment
from servers.errors import SandboxError
from servers.sandboxes import Sandbox
from servers.state import canonical_json

__all__ = ["DIFF_META_KEY", "HINTS_META_KEY", "SandboxResolver", "build_mcp_server", "serve_sandbox"]

HINTS_META_KEY = "funreason/hints"
"""Tool `_meta` key holding the dependency hints (`ToolSpec.hints()`)."""

DIFF_META_KEY = "funreason/diff"
"""Result `_meta` key holding the state diff of a successful call."""

SandboxResolver = Callable[[Context], Sandbox]
"""Finds the sandbox a request is for: a constant for stdio, the URL's id for HTTP."""


def build_mcp_server(
    env_classes: Sequence[type[Environment]], resolve: SandboxResolver, *, name: str | None = None
) -> MCPServer:
    """An `MCPServer` exposing every tool of `env_classes`, each call run in `resolve(ctx)`.

    Tool schemas carry no sandbox plumbing: they go into training data as they are.
    """
    server = MCPServer(
        name or "+".join(env.name for env in env_classes),
        instructions=" ".join(env.description for env in env_classes),
        version=",".join(f"{env.name}-{env.version}" for env in env_classes),
        log_level="WARNING",
    )
    for env_class in env_classes:
        for tool_name, spec in env_class.tool_specs().items():
            server.add_tool(
                _tool_function(env_class, tool_name, resolve),
                name=tool_name,
                description=inspect.cleandoc(getattr(env_class, tool_name).__doc__ or ""),
                annotations=ToolAnnotations(read_only_hint=spec.read_only, destructive_hint=not spec.read_only),
                meta={HINTS_META_KEY: spec.hints()},
            )
    server.resource(
        "sandbox://{env}/state",
        name="state",
        description="The current state of one environment of this sandbox as JSON ('all': every environment).",
        mime_type="application/json",
    )(_state_reader(resolve))
    return server


def serve_sandbox(sandbox: Sandbox) -> MCPServer:
    """An `MCPServer` bound to one sandbox: for stdio and in-process clients."""
    return build_mcp_server([type(env) for env in sandbox.environments.values()], lambda ctx: sandbox)


def _tool_function(env_class: type[Environment], tool_name: str, resolve: SandboxResolver) -> Callable[..., Any]:
    signature = env_class.tool_signature(tool_name)

    async def call_tool(ctx: Context, **arguments: Any) -> CallToolResult:
        try:
            execution = resolve(ctx).execute(tool_name, arguments)
        except SandboxError as error:
            raise MCPToolError(str(error)) from error
        data = _structured(execution.result)
        return CallToolResult(
            content=[TextContent(type="text", text=json.dumps(data, ensure_ascii=False))],
            structured_content=data,
            _meta={DIFF_META_KEY: execution.diff},
        )

    context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)
    call_tool.__signature__ = signature.replace(parameters=[*signature.parameters.values(), context])  # type: ignore[attr-defined]
    call_tool.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()} | {
        "ctx": Context,
        "return": signature.return_annotation,
    }
    call_tool.__name__ = tool_name
    return call_tool


def _structured(result: Any) -> dict[str, Any]:
    """The structured content the SDK publishes for this value: models and dicts as objects, the rest wrapped."""
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    data = TypeAdapter(Any).dump_python(result, mode="json")
    return data if isinstance(data, dict) else {"result": data}


def _state_reader(resolve: SandboxResolver) -> Callable[..., str]:
    def read_state(env: str, ctx: Context) -> str:
        sandbox = resolve(ctx)
        if env == "all":
            return canonical_json(sandbox.state())
        if env not in sandbox.environments:
            raise ValueError(f"this sandbox has no environment {env!r} (it has: {', '.join(sandbox.env_names)})")
        return canonical_json(sandbox.environments[env].state_data())

    return read_state
