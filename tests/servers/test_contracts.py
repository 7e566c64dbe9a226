"""Contracts every registered environment keeps, checked through a real in-process MCP client."""

from typing import Any

import anyio
import pytest
from mcp import Client

from servers import (
    HINTS_META_KEY,
    create_sandbox,
    environment_names,
    get_environment,
    load_pools,
    scenario_names,
    serve_sandbox,
)

ENVIRONMENTS = environment_names()


def _wrong_type_value(schema: dict[str, Any]) -> Any:
    """A value of a JSON type the parameter does not accept."""
    accepted = {option.get("type") for option in schema.get("anyOf", [schema])}
    return [1, 2] if "array" not in accepted else {"not": "a list"}


def _plausible_value(name: str, schema: dict[str, Any], pools: dict[str, list[Any]]) -> Any:
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    if name in pools:
        return pools[name][0]
    kind = next((option.get("type") for option in schema.get("anyOf", [schema]) if option.get("type") != "null"), None)
    return {"integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}.get(kind, "x")


def _check_with_client(env: str, check, scenario: str | None = None) -> None:
    """Run `check(client, sandbox, tools)` against a fresh sandbox served in-process."""
    sandbox = create_sandbox(env, scenario)

    async def main() -> None:
        async with Client(serve_sandbox(sandbox)) as client:
            await check(client, sandbox, (await client.list_tools()).tools)

    anyio.run(main)


def test_at_least_two_environments_are_registered():
    assert {"filesystem", "messaging"} <= set(ENVIRONMENTS)


def test_tool_names_are_unique_across_environments():
    seen: dict[str, str] = {}
    for env in ENVIRONMENTS:
        for tool_name in get_environment(env).tool_specs():
            assert tool_name not in seen, f"{tool_name} is defined by {seen.get(tool_name)} and {env}"
            seen[tool_name] = env


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_tool_and_parameter_is_described(env):
    async def check(client, sandbox, tools):
        for tool in tools:
            assert len(tool.description or "") >= 20, f"{tool.name}: description too short"
            assert tool.output_schema is not None, f"{tool.name}: no output schema"
            assert HINTS_META_KEY in (tool.meta or {}), f"{tool.name}: no dependency hints"
            for parameter, schema in tool.input_schema.get("properties", {}).items():
                assert schema.get("description"), f"{tool.name}.{parameter} has no description"
            hints = tool.meta[HINTS_META_KEY]
            assert set(hints["consumes"]) <= set(tool.input_schema.get("properties", {})), tool.name
            assert set(hints["produces"]) <= set(tool.output_schema.get("properties", {})), tool.name
            assert tool.annotations.read_only_hint is hints["read_only"]

    _check_with_client(env, check)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_bad_arguments_are_error_results_and_change_nothing(env):
    async def check(client, sandbox, tools):
        before = sandbox.state_hash()
        for tool in tools:
            properties = tool.input_schema.get("properties", {})
            required = tool.input_schema.get("required", [])
            if required:
                result = await client.call_tool(tool.name, {})
                assert result.is_error, f"{tool.name} accepted a call without {required}"
            for parameter, schema in properties.items():
                arguments = {name: _plausible_value(name, properties[name], {}) for name in required}
                arguments[parameter] = _wrong_type_value(schema)
                result = await client.call_tool(tool.name, arguments)
                assert result.is_error, f"{tool.name} accepted {parameter}={arguments[parameter]!r}"
                assert result.content[0].text, f"{tool.name}: empty error message"
            assert sandbox.state_hash() == before, f"{tool.name} changed the state on a refused call"

    _check_with_client(env, check)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_errors_and_read_only_tools_leave_state_untouched(env):
    """Plausible calls on every scenario: each either succeeds or leaves the state exactly as it was."""
    pools = load_pools(env)

    async def check(client, sandbox, tools):
        for tool in tools:
            properties = tool.input_schema.get("properties", {})
            arguments = {name: _plausible_value(name, schema, pools) for name, schema in properties.items()}
            before = sandbox.state_hash()
            result = await client.call_tool(tool.name, arguments)
            if result.is_error or tool.annotations.read_only_hint:
                assert sandbox.state_hash() == before, f"{tool.name} changed the state ({result.is_error=})"
            else:  # the state a successful call leaves still passes the model's own checks
                get_environment(env).state_model.model_validate(sandbox.state()[env])

    for scenario in scenario_names(env):
        _check_with_client(env, check, scenario)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_scenarios_load_deterministically_and_round_trip(env):
    names = scenario_names(env)
    assert "default" in names and len(names) >= 3
    for scenario in names:
        first, second = create_sandbox(env, scenario, seed=3), create_sandbox(env, scenario, seed=3)
        assert first.state() == second.state()
        assert first.state_hash() == second.state_hash()
        snapshot = first.snapshot()
        first.environments[env].rng.random()
        first.restore(snapshot)
        assert first.state_hash() == second.state_hash()
        assert first.environments[env].rng.random() == second.environments[env].rng.random()
