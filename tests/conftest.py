"""Shared test helpers: sandboxes, calls through the public API, real servers on 127.0.0.1."""

from typing import Any

import pytest

from servers import Execution, Sandbox, ToolError, create_sandbox


def run(sandbox: Sandbox, tool_name: str, **arguments: Any) -> Any:
    """Execute a tool directly (no MCP) and return its result model."""
    return sandbox.execute(tool_name, arguments).result


def refused(sandbox: Sandbox, tool_name: str, error: type[ToolError] = ToolError, **arguments: Any) -> str:
    """Assert that the call is refused with `error` and leaves the state untouched; return the message."""
    before = sandbox.state_hash()
    with pytest.raises(error) as caught:
        sandbox.execute(tool_name, arguments)
    assert sandbox.state_hash() == before, f"{tool_name} changed the state although it failed"
    return str(caught.value)


@pytest.fixture
def sandbox_of():
    """Factory: a fresh sandbox of (env, scenario, seed)."""

    def make(env: str | list[str], scenario: str | None = None, seed: int = 0) -> Sandbox:
        return create_sandbox(env, scenario, seed)

    return make


__all__ = ["Execution", "refused", "run"]
