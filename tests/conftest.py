"""Shared test helpers: sandboxes, calls through the public API, real servers on 127.0.0.1."""

import contextlib
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

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


FUNREASON = str(Path(sys.executable).parent / "funreason")
"""The installed command, for tests that need a real process."""


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def funreason(*args: str, cwd: Path | None = None) -> Outcome:
    """The real command in-process (no interpreter start-up per call), run from `cwd`."""
    from evaluation.cli import main

    here = Path.cwd()
    os.chdir(cwd or here)
    try:
        result = CliRunner().invoke(main, list(args), prog_name="funreason", catch_exceptions=False)
    finally:
        os.chdir(here)
    return Outcome(result.exit_code, result.stdout, result.stderr)


__all__ = ["FUNREASON", "Execution", "Outcome", "funreason", "http_server", "refused", "run"]


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
