"""Recording any client: our servers with --record, and the proxy in front of anyone's server."""

import sys
from pathlib import Path

import anyio
import httpx2
from mcp import Client, StdioServerParameters

from servers import SandboxManager, create_app
from simulator.recorder import Recorder
from simulator.store import Store
from tests.conftest import FUNREASON, http_server

KV_SERVER = Path(__file__).with_name("kv_server.py")


def recorded(db):
    with Store(db) as store:
        return list(store.iter_trajectories())


def test_a_plain_client_session_over_stdio_is_recorded_in_order(tmp_path):
    db = tmp_path / "calls.db"

    async def session() -> None:
        args = ["serve", "messaging", "--transport", "stdio", "--record", str(db)]
        async with Client(StdioServerParameters(command=FUNREASON, args=args)) as client:
            await client.call_tool("get_user_id", {"user_name": "Bob"})
            await client.call_tool("send_message", {"receiver_id": "USR002", "message": "hi"})  # not logged in
            await client.call_tool("log_in", {"user_id": 42})  # wrong type: refused before the tool runs
            await client.call_tool("log_in", {"user_id": "USR001"})
            await client.call_tool("send_message", {"receiver_id": "USR002", "message": "hi"})

    anyio.run(session)
    [trajectory] = recorded(db)
    assert trajectory.source == "record" and trajectory.env == "messaging" and trajectory.scenario == "default"
    assert [(s.tool, s.is_error) for s in trajectory.steps] == [
        ("get_user_id", False),
        ("send_message", True),
        ("log_in", True),
        ("log_in", False),
        ("send_message", False),
    ]
    assert trajectory.steps[2].arguments == {"user_id": 42}
    assert trajectory.steps[4].result == {"message_id": "MSG0005", "sent_at": "2026-01-05T09:01:00"}
    assert trajectory.steps[4].diff and trajectory.final_state_hash


def test_each_http_sandbox_is_its_own_recorded_trajectory(tmp_path):
    db = tmp_path / "calls.db"
    recorder = Recorder(db, label="http:filesystem")
    with http_server(create_app(["filesystem"], manager=SandboxManager(), on_call=recorder)) as base:
        for name in ("a.txt", "b.txt"):
            created = httpx2.post(f"{base}/sandboxes", json={"env": "filesystem"}).json()

            async def session(url: str = base + created["mcp"], file_name: str = name) -> None:
                async with Client(url) as client:
                    await client.call_tool("touch", {"file_name": file_name})
                    await client.call_tool("ls", {})

            anyio.run(session)
    recorder.close()
    sessions = recorded(db)
    assert len(sessions) == 2
    assert [s.steps[0].arguments for s in sessions] == [{"file_name": "a.txt"}, {"file_name": "b.txt"}]
    assert all([step.tool for step in s.steps] == ["touch", "ls"] for s in sessions)


def test_the_proxy_records_a_third_party_server(tmp_path):
    db = tmp_path / "proxy.db"

    async def session() -> None:
        args = ["proxy", "--server-cmd", f"{sys.executable} {KV_SERVER}", "--record", str(db)]
        async with Client(StdioServerParameters(command=FUNREASON, args=args)) as client:
            assert {tool.name for tool in (await client.list_tools()).tools} == {"put", "get", "size"}
            handle = (await client.call_tool("put", {"value": "v1"})).content[0].text
            assert "h001" in handle
            assert not (await client.call_tool("get", {"key": "h001"})).is_error
            assert (await client.call_tool("get", {"key": "nope"})).is_error

    anyio.run(session)
    [trajectory] = recorded(db)
    assert trajectory.env.startswith("cmd:") and trajectory.source == "record"
    assert [(s.tool, s.arguments, s.is_error) for s in trajectory.steps] == [
        ("put", {"value": "v1"}, False),
        ("get", {"key": "h001"}, False),
        ("get", {"key": "nope"}, True),
    ]
    assert trajectory.steps[1].result == {"value": "v1"}
