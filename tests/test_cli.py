"""The `funreason` command line contract: --help everywhere, JSON listings, one-line errors."""

import json
import socket
import subprocess
import time

import anyio
import httpx2
import pytest
from mcp import Client

from servers import environment_names, get_environment, scenario_names
from tests.conftest import FUNREASON, funreason


def test_the_installed_command_runs():
    result = subprocess.run([FUNREASON, "envs", "--json"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and json.loads(result.stdout)[0]["name"] == "filesystem"


@pytest.mark.parametrize(
    "command",
    [[], ["envs"], ["serve"], ["explore"], ["graph"], ["stats"], ["proxy"], ["synthesize"], ["export"], ["run"]],
)
def test_help_on_every_command(command):
    result = funreason(*command, "--help")
    assert result.returncode == 0 and "Usage: funreason" in result.stdout


def test_envs_json_lists_every_environment():
    rows = json.loads(funreason("envs", "--json").stdout)
    assert [row["name"] for row in rows] == environment_names()
    for row in rows:
        assert set(row) == {"name", "description", "tools", "scenarios"}
        assert row["tools"] == len(get_environment(row["name"]).tool_specs())
        assert row["scenarios"] == scenario_names(row["name"])


def test_envs_table():
    assert "filesystem" in funreason("envs").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "nope"], "error: unknown environment 'nope'"),
        (["serve", "filesystem", "--scenario", "nope"], "error: unknown scenario 'nope'"),
        (["serve", "filesystem", "--scenario", "missing.json"], "error: missing.json: cannot read"),
        (["serve", "--transport", "stdio"], "stdio serves one sandbox"),
        (["serve", "filesystem", "--transport", "carrier-pigeon"], "Invalid value for '--transport'"),
    ],
)
def test_errors_are_one_line_and_fail(args, message):
    result = funreason(*args)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr


def test_bad_scenario_file_names_file_and_field(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"state": {"users": {"U1": {"user_id": "U1", "name": 5}}}}))
    result = funreason("serve", "messaging", "--scenario", str(bad))
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {bad}: state.users.U1.name: Input should be a valid string"


def test_serve_http_subprocess_binds_loopback():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [FUNREASON, "serve", "messaging", "--transport", "http", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                created = httpx2.post(f"{base}/sandboxes", json={"env": "messaging", "scenario": "logged_in_busy"})
                break
            except httpx2.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert created.status_code == 201

        async def main() -> None:
            async with Client(base + created.json()["mcp"]) as client:
                result = await client.call_tool("get_message_stats", {})
                assert result.structured_content["received"] == 12

        anyio.run(main)
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_explore_then_stats_json(tmp_path):
    db = tmp_path / "t.db"
    result = funreason("explore", "--env", "messaging", "--trajectories", "20", "--seed", "1", "--db", str(db))
    assert result.returncode == 0, result.stderr
    stats = json.loads(funreason("stats", "--db", str(db), "--json").stdout)
    assert {"runs", "trajectories", "steps", "error_steps", "tools_covered", "edges_covered"} <= set(stats)
    assert stats["runs"] == 1 and stats["trajectories"] == 20 and stats["steps"] >= 20


def test_graph_command_writes_the_format_of_the_suffix(tmp_path):
    out = tmp_path / "travel.dot"
    result = funreason("graph", "--env", "travel", "--out", str(out))
    assert result.returncode == 0 and out.read_text().startswith("digraph")
    bad = funreason("graph", "--env", "travel", "--out", str(tmp_path / "g.svg"))
    assert bad.returncode != 0 and "use .graphml, .dot, .png or .json" in bad.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["explore", "--db", "x.db"],
        ["explore", "--env", "math", "--server-url", "http://127.0.0.1:1/mcp", "--db", "x.db"],
    ],
)
def test_explore_needs_exactly_one_server(args, tmp_path):
    result = funreason(*args, cwd=tmp_path)
    assert result.returncode != 0 and "give exactly one of" in result.stderr
