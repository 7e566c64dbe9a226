"""Shared test helpers: sandboxes, calls through the public API, real servers on 127.0.0.1."""

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

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


__all__ = ["Execution", "http_server", "refused", "run"]


@contextlib.contextmanager
def http_server(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the test HTTP server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
