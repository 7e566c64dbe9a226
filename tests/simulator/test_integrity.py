"""Recorded data stays true: step counts, damaged or empty stores refused, a proxy that stops with its server."""

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client

from servers import SandboxManager, create_app
from simulator import StoreError
from simulator.recorder import Recorder
from simulator.store import Store
from tests.conftest import FUNREASON, funreason, http_server

HERE = Path(__file__).parent


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_recorded_trajectories_count_their_stored_steps(tmp_path):
    db = tmp_path / "calls.db"
    recorder = Recorder(db, label="http:filesystem")
    with http_server(create_app(["filesystem"], manager=SandboxManager(), on_call=recorder)) as base:
        created = httpx2.post(f"{base}/sandboxes", json={"env": "filesystem"}).json()

        async def session() -> None:
            async with Client(base + created["mcp"]) as client:
                for name in ("a.txt", "b.txt", "c.txt"):
                    await client.call_tool("touch", {"file_name": name})
                await client.call_tool("cat", {"file_name": "missing.txt"})

        anyio.run(session)
    recorder.close()
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT n_steps, (SELECT count(*) FROM steps WHERE trajectory_id = t.id) FROM trajectories t"
        ).fetchall()
    assert rows == [(4, 4)]


@pytest.fixture(scope="module")
def explored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("store")
    assert funreason("explore", "--env", "math", "--trajectories", "6", "--db", "t.db", cwd=folder).returncode == 0
    return folder / "t.db"


def damaged_copy(source: Path, target: Path) -> Path:
    """The store with one b-tree page (the steps table's root) overwritten: opens, but is not sound."""
    with sqlite3.connect(source) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        root = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = 'steps'").fetchone()[0]
    data = bytearray(source.read_bytes())
    data[(root - 1) * page_size + 8 : (root - 1) * page_size + 200] = b"\xa5" * 192
    target.write_bytes(bytes(data))
    return target


@pytest.mark.parametrize(
    "command",
    [
        ["stats", "--db"],
        ["export", "--format", "openai", "--out", "out.jsonl", "--db"],
        ["synthesize", "--db"],
        ["explore", "--env", "math", "--trajectories", "8", "--db"],
    ],
)
@pytest.mark.parametrize("damage", ["damaged page", "empty file"])
def test_a_damaged_or_empty_store_is_one_line_everywhere_and_left_alone(explored, tmp_path, command, damage):
    if damage == "empty file":
        path = tmp_path / "empty.db"
        path.touch()
    else:
        path = damaged_copy(explored, tmp_path / "damaged.db")
    before = digest(path)
    outcome = funreason(*command, str(path), cwd=tmp_path)
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert outcome.returncode != 0 and "Traceback" not in outcome.stderr
    assert lines and ("damaged" in lines[-1] or "empty file" in lines[-1]), outcome.stderr
    assert digest(path) == before and not (tmp_path / "out.jsonl").exists()
    assert not path.with_name(path.name + "-wal").exists() or path.with_name(path.name + "-wal").stat().st_size == 0


def test_a_sound_store_still_opens(explored):
    with Store(explored) as store:
        assert store.stats()["trajectories"] == 6
    with pytest.raises(StoreError, match="damaged"):
        Store(damaged_copy(explored, explored.with_name("again.db")))


def test_the_proxy_passes_the_environment_and_stops_with_one_line_when_its_server_dies(tmp_path):
    db = tmp_path / "p.db"
    server = f"{sys.executable} {HERE / 'env_server.py'}"
    proxy = subprocess.Popen(
        [FUNREASON, "proxy", "--server-cmd", server, "--record", str(db), "--server-env", "EXTRA=given"],
        env={**os.environ, "FUNREASON_TEST_INHERITED": "from-the-caller"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    def send(message: dict) -> None:
        proxy.stdin.write((json.dumps(message) + "\n").encode())
        proxy.stdin.flush()

    def answer(request_id: int) -> str:
        while (reply := json.loads(proxy.stdout.readline())).get("id") != request_id:
            pass
        return json.dumps(reply)

    def call(request_id: int, tool: str, arguments: dict) -> None:
        params = {"name": tool, "arguments": arguments}
        send({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params})

    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE})
        answer(1)
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        call(2, "getenv", {"name": "FUNREASON_TEST_INHERITED"})
        assert "from-the-caller" in answer(2)
        call(3, "getenv", {"name": "EXTRA"})
        assert "given" in answer(3)
        call(4, "crash", {})
        proxy.wait(timeout=60)  # stdin still open: the proxy stops by itself
    finally:
        proxy.kill()
        proxy.stdin.close()
        stderr = proxy.stderr.read()
        proxy.stdout.close()
        proxy.stderr.close()
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert proxy.returncode != 0 and lines and "exited or stopped answering" in lines[-1], stderr.decode()
    with Store(db) as store:
        [trajectory] = list(store.iter_trajectories())
    assert [step.tool for step in trajectory.steps] == ["getenv", "getenv"]  # no "Connection closed" steps


INITIALIZE = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}
