"""The HTTP service under abuse and load on 127.0.0.1: clear errors, never a 500, isolation holds."""

import json
import socket
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client

from servers import SandboxManager, create_app
from tests.conftest import FUNREASON, http_server

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def base():
    with http_server(create_app(["filesystem"], manager=SandboxManager(max_sandboxes=400))) as url:
        yield url


def still_serving(url: str) -> None:
    async def main() -> None:
        async with Client(f"{url}/mcp") as client:
            assert not (await client.call_tool("pwd", {})).is_error

    anyio.run(main)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"jsonrpc": "2.0"}',
        b'{"jsonrpc": "2.0", "id": 1, "method": "no/such/method", "params": {}}',
        b'{"jsonrpc": "1.0", "id": {"nested": true}, "method": 5}',
        b'{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": 42}}',
        "\u0000\udfff".encode("utf-8", "surrogatepass"),
    ],
)
def test_malformed_mcp_requests_get_client_errors(base, body):
    for path in ("/mcp", f"/sandboxes/{httpx2.post(f'{base}/sandboxes', json={}).json()['id']}/mcp"):
        response = httpx2.post(base + path, content=body, headers=MCP_HEADERS)
        assert response.status_code < 500, (path, body, response.status_code, response.text[:200])
    still_serving(base)


def test_oversized_bodies_are_refused(base):
    huge = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    assert httpx2.post(f"{base}/mcp", content=huge, headers=MCP_HEADERS).status_code == 413
    refused = httpx2.post(
        f"{base}/sandboxes", content=b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}', headers=MCP_HEADERS
    )
    assert refused.status_code == 413 and "too large" in refused.json()["error"]
    still_serving(base)


def test_wrong_methods_and_paths(base):
    assert httpx2.put(f"{base}/sandboxes").status_code == 405
    assert httpx2.get(f"{base}/nowhere").status_code == 404
    assert httpx2.post(f"{base}/sandboxes/x/state", json={}).status_code == 405
    assert httpx2.post(f"{base}/sandboxes/x/state").status_code == 415  # no JSON: refused before anything else
    still_serving(base)


def test_many_concurrent_sandbox_creations(base):
    def create(_: int) -> tuple[int, str]:
        response = httpx2.post(f"{base}/sandboxes", json={"env": "filesystem", "seed": 1}, timeout=60)
        return response.status_code, response.json()["id"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses, ids = zip(*pool.map(create, range(120)), strict=True)
    assert set(statuses) == {201}
    assert len(set(ids)) == 120
    assert all(httpx2.get(f"{base}/sandboxes/{sandbox_id}").status_code == 200 for sandbox_id in ids)
    still_serving(base)


@pytest.mark.heavy
@pytest.mark.alone
def test_64_sandboxes_200_calls_each_no_cross_effects_no_failures():
    """12,800 real MCP calls over HTTP from 16 concurrent clients at a time."""
    with http_server(create_app(["filesystem"])) as url:
        sandboxes = [httpx2.post(f"{url}/sandboxes", json={"env": "filesystem"}).json() for _ in range(64)]
        failures: list[str] = []

        async def drive(number: int, sandbox: dict, limit: anyio.Semaphore) -> None:
            async with limit, Client(url + sandbox["mcp"]) as client:
                for call in range(200):
                    result = await client.call_tool(
                        "echo", {"content": f"{number}:{call}\n", "file_name": f"/tmp/box{number}.log", "append": True}
                    )
                    if result.is_error:
                        failures.append(result.content[0].text)

        async def main() -> None:
            limit = anyio.Semaphore(16)
            async with anyio.create_task_group() as group:
                for number, sandbox in enumerate(sandboxes):
                    group.start_soon(drive, number, sandbox, limit)

        anyio.run(main)
        assert failures == []
        for number, sandbox in enumerate(sandboxes):
            nodes = httpx2.get(f"{url}/sandboxes/{sandbox['id']}/state").json()["filesystem"]["nodes"]
            logs = sorted(path for path in nodes if path.startswith("/tmp/box"))
            assert logs == [f"/tmp/box{number}.log"]
            lines = nodes[logs[0]]["content"].splitlines()
            assert lines == [f"{number}:{call}" for call in range(200)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port`, from /proc/net/tcp (IPv4)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port_hex = local.split(":")
        if int(port_hex, 16) == port and state == "0A":
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_cli_binds_loopback_by_default_and_token_guards_every_endpoint():
    port = _free_port()
    server = subprocess.Popen(
        [FUNREASON, "serve", "filesystem", "--transport", "http", "--port", str(port)],
        env={"FUNREASON_TOKEN": "t0k3n", "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while not _listening_addresses(port):
            assert server.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        assert _listening_addresses(port) == {"127.0.0.1"}
        for method, path in [("POST", "/sandboxes"), ("GET", "/sandboxes"), ("POST", "/mcp"), ("GET", "/nowhere")]:
            assert httpx2.request(method, base + path, json={}).status_code == 401
        created = httpx2.post(f"{base}/sandboxes", json={}, headers={"Authorization": "Bearer t0k3n"})
        assert created.status_code == 201 and json.loads(created.text)["mcp"]
    finally:
        server.terminate()
        server.wait(timeout=10)


def flood_then_connect(url: str, initializes: int) -> None:
    """`initializes` initialize requests (none ever closed), then a new client of every protocol version."""
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "flood", "version": "0"},
        },
    }

    def send(count: int) -> Counter:
        with httpx2.Client(timeout=60) as http:
            return Counter(
                http.post(f"{url}/mcp", json=initialize, headers=MCP_HEADERS).status_code for _ in range(count)
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sum(pool.map(send, [initializes // 8] * 8), Counter())
    assert statuses == {200: initializes // 8 * 8}
    for version in ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"):
        body = initialize | {"params": initialize["params"] | {"protocolVersion": version}}
        opened = httpx2.post(f"{url}/mcp", json=body, headers=MCP_HEADERS)
        assert opened.status_code == 200 and version in opened.text, version
    for mode in ("legacy", "2026-07-28", "auto"):

        async def main(mode: str = mode) -> None:
            async with Client(f"{url}/mcp", mode=mode) as client:
                assert not (await client.call_tool("pwd", {})).is_error

        anyio.run(main)


def test_an_initialize_flood_locks_no_client_out(base):
    flood_then_connect(base, 100)


@pytest.mark.heavy
@pytest.mark.alone
def test_10000_initialize_requests_lock_no_client_out():
    with http_server(create_app(["filesystem"])) as url:
        flood_then_connect(url, 10_000)
