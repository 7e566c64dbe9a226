"""Tool arguments are taken as the schema states them, for every environment: nothing more, nothing looser.

An unknown argument, a string for a boolean (`"yes"`), a string for a number (`"5"`)
or NaN is an MCP error result that leaves the state as it was; every published
schema says `additionalProperties: false`.
"""

import math
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from servers import create_app, create_sandbox, environment_names, get_environment, serve_sandbox
from servers.classes import ClassEnvironment
from tests.conftest import funreason, http_server

ENVIRONMENTS = [name for name in environment_names() if not issubclass(get_environment(name), ClassEnvironment)]
"""Our own environments: a user's class is served as it takes its arguments (see servers.classes)."""


def _kinds(schema: dict[str, Any]) -> set[str]:
    return {option.get("type") for option in schema.get("anyOf", [schema])} - {None, "null"}


def _plausible(schema: dict[str, Any]) -> Any:
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = next(iter(_kinds(schema)), "string")
    return {"integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}.get(kind, "x")


def _calls(tools) -> list[tuple[str, dict[str, Any], str]]:
    """(tool, arguments, what is wrong) for each way a tool's arguments can be loose."""
    calls = []
    for tool in tools:
        properties = tool.input_schema.get("properties", {})
        required = {name: _plausible(properties[name]) for name in tool.input_schema.get("required", [])}
        calls.append((tool.name, required | {"not_a_parameter": 1}, "Extra inputs"))
        for name, schema in properties.items():
            kinds = _kinds(schema)
            if kinds == {"boolean"}:
                calls.append((tool.name, required | {name: "yes"}, "valid boolean"))
            if kinds and kinds <= {"integer", "number"}:
                calls.append((tool.name, required | {name: "5"}, "valid"))
    return calls


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_loose_arguments_are_refused_and_change_nothing(env):
    sandbox = create_sandbox(env)

    async def main() -> int:
        async with Client(serve_sandbox(sandbox)) as client:
            tools = (await client.list_tools()).tools
            assert all(tool.input_schema.get("additionalProperties") is False for tool in tools)
            calls = _calls(tools)
            for tool, arguments, problem in calls:
                before = sandbox.state_hash()
                result = await client.call_tool(tool, arguments)
                assert result.is_error and problem in result.content[0].text, (tool, arguments)
                assert sandbox.state_hash() == before, (tool, arguments)
            return len(calls)

    assert anyio.run(main) >= len(sandbox.environments[env].tool_specs())


def test_nan_is_not_a_number_here():
    with http_server(create_app(["math"])) as base:
        body = '{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "add", "arguments": '
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        for value in ("NaN", "Infinity"):
            raw = body + f'{{"a": {value}, "b": 1}}}}}}'
            answered = httpx2.post(f"{base}/mcp", content=raw, headers=headers | {"MCP-Protocol-Version": "2025-06-18"})
            assert answered.status_code == 200 and "finite number" in answered.text, answered.text
    sandbox = create_sandbox("math")

    async def in_process() -> str:
        async with Client(serve_sandbox(sandbox)) as client:
            return (await client.call_tool("add", {"a": math.nan, "b": 1})).content[0].text

    assert "too large" not in anyio.run(in_process)


def test_a_config_file_that_is_not_utf8_is_one_line(tmp_path):
    (tmp_path / "run.toml").write_bytes(b'out = "x"\n\xff\xfe')
    outcome = funreason("run", "--config", str(tmp_path / "run.toml"), cwd=tmp_path)
    assert outcome.returncode != 0 and "not UTF-8" in outcome.stderr and "Traceback" not in outcome.stderr
