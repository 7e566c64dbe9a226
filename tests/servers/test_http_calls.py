"""Tool calls over HTTP run on worker threads with a time limit: a slow call holds up nobody, a late one is undone."""

import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

import anyio
import anyio.to_thread
import httpx2
import pytest
from mcp import Client

from servers import create_app, environment_from_class, environment_names, register_environment
from tests.conftest import FUNREASON, http_server

ROOT = Path(__file__).resolve().parents[2]


class Kiln:
    """Fires pots; firing takes as long as it is told to."""

    def __init__(self):
        self.fired = []

    def fire(self, pot: str, seconds: float) -> dict:
        """Put a pot in the kiln and wait until it is fired.

        Args:
            pot: Name of the pot.
            seconds: How long the firing takes.
        """
        self.fired.append(pot)
        time.sleep(seconds)
        return {"fired": len(self.fired)}

    def burn(self, pot: str, seconds: float) -> dict:
        """Fire a pot with the CPU busy the whole time (holding the interpreter as pure Python does).

        Args:
            pot: Name of the pot.
            seconds: How long the firing takes.
        """
        self.fired.append(pot)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            pass
        return {"fired": len(self.fired)}

    def count(self) -> dict:
        """How many pots were fired."""
        return {"fired": len(self.fired)}


KILN = "kiln_http_calls"


@pytest.fixture(scope="module", autouse=True)
def kiln():
    """Registered when these tests run, not when they are collected (others list the environments then)."""
    if KILN not in environment_names():
        register_environment(environment_from_class(Kiln, name=KILN))


@pytest.fixture(scope="module")
def base(kiln):
    with http_server(create_app([KILN, "filesystem"], call_timeout=1.0)) as url:
        yield url


def new_sandbox(base: str, env: str = KILN) -> str:
    return base + httpx2.post(f"{base}/sandboxes", json={"env": env}).json()["mcp"]


def fired(url: str) -> list[str]:
    state = httpx2.get(url.removesuffix("/mcp") + "/state", timeout=30).json()  # waits for a running call's lock
    return state[KILN]["fired"]


def test_a_call_past_its_time_limit_is_an_error_and_changes_nothing(base):
    sandbox = new_sandbox(base)

    async def main() -> None:
        async with Client(sandbox) as client:
            late = await client.call_tool("fire", {"pot": "vase", "seconds": 2})
            assert late.is_error and "took longer than 1 s" in late.content[0].text
            assert await anyio.to_thread.run_sync(fired, sandbox) == []  # undone once its thread finished
            assert not (await client.call_tool("fire", {"pot": "bowl", "seconds": 0})).is_error

    anyio.run(main)
    assert fired(sandbox) == ["bowl"]


def test_a_slow_call_holds_up_no_other_sandbox():
    with http_server(create_app([KILN, "filesystem"])) as base:
        slow_call_finishes_last(base)


def slow_call_finishes_last(base: str) -> None:
    slow, other, files = new_sandbox(base), new_sandbox(base), new_sandbox(base, "filesystem")
    finished: list[str] = []

    async def call(url: str, tool: str, arguments: dict, label: str) -> None:
        async with Client(url) as client:
            await client.call_tool(tool, arguments)
        finished.append(label)

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(call, slow, "fire", {"pot": "urn", "seconds": 4}, "slow")
            await anyio.sleep(0.5)
            group.start_soon(call, other, "count", {}, "other kiln")
            group.start_soon(call, files, "pwd", {}, "filesystem")

    anyio.run(main)
    assert finished[-1] == "slow" and sorted(finished[:2]) == ["filesystem", "other kiln"]
    assert fired(slow) == ["urn"]


def test_calls_on_one_sandbox_wait_for_each_other_and_never_see_half_a_call(base):
    sandbox = new_sandbox(base)

    async def call(pot: str) -> None:
        async with Client(sandbox) as client:
            assert not (await client.call_tool("fire", {"pot": pot, "seconds": 0.05})).is_error

    async def main() -> None:
        async with anyio.create_task_group() as group:
            for number in range(8):
                group.start_soon(call, f"pot{number}")

    anyio.run(main)
    assert sorted(fired(sandbox)) == [f"pot{number}" for number in range(8)]


@pytest.mark.heavy
@pytest.mark.alone
def test_a_20_s_cpu_bound_call_barely_delays_an_unrelated_request(tmp_path):
    """The figure: a 20 s pure-Python call (it holds the interpreter lock) against a real server process."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [FUNREASON, "serve", "filesystem", "--transport", "http", "--port", str(port)]
    command += ["--class", "tests.servers.test_http_calls:Kiln", "--call-timeout", "60"]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx2.Client(timeout=90) as http:
            _wait_until_serving(http, base, server)
            kiln = http.post(f"{base}/sandboxes", json={"env": "kiln"}).json()["mcp"]
            files = http.post(f"{base}/sandboxes", json={"env": "filesystem"}).json()["mcp"]
            before = [_unrelated_ms(http, base + files) for _ in range(30)]
            burn = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
            burn["params"] = {"name": "burn", "arguments": {"pot": "urn", "seconds": 20}}
            slow = threading.Thread(target=lambda: httpx2.post(base + kiln, json=burn, headers=MCP, timeout=90))
            slow.start()
            time.sleep(0.5)
            during = []
            while slow.is_alive():
                during.append(_unrelated_ms(http, base + files))
            slow.join()
    finally:
        server.terminate()
        server.wait(timeout=10)
    baseline = statistics.median(before)
    delays = sorted(value - baseline for value in during)
    p95 = delays[int(0.95 * (len(delays) - 1))]
    print(
        f"20 s call: {len(delays)} unrelated requests, baseline {baseline:.1f} ms, delay median "
        f"{statistics.median(delays):.1f} ms, p95 {p95:.1f} ms, max {delays[-1]:.1f} ms"
    )
    assert len(delays) > 50 and statistics.median(delays) < 100 and delays[-1] < 1000


MCP = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _unrelated_ms(http: httpx2.Client, url: str) -> float:
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "pwd", "arguments": {}}}
    started = time.perf_counter()
    assert http.post(url, json=call, headers=MCP | {"MCP-Protocol-Version": "2025-06-18"}).status_code == 200
    return (time.perf_counter() - started) * 1000


def _wait_until_serving(http: httpx2.Client, base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
        try:
            http.get(f"{base}/sandboxes/none")
            return
        except httpx2.TransportError:
            time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
