"""Recorded sessions keep their story: every successful call a client made is in the samples, in recorded order.

Sessions of four environments (tests/helpers/sessions.py: five or more goals each, later goals acting
on what earlier ones made, one refused call in the middle) are driven by the official Python client
over stdio, over HTTP and through the proxy, and (heavy: it needs the npm install of .ci/run) by the
TypeScript SDK's client; then synthesized and exported as a user would.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from evaluation import load_tasks
from servers import SandboxManager, create_app
from simulator import Store
from simulator.recorder import Recorder
from tests.conftest import FUNREASON, funreason, http_server
from tests.helpers.sessions import SESSIONS, TS_CLIENT, play, session_json

NODE_MODULES = Path(__file__).parents[2] / ".ci" / "node" / "node_modules"
_TS_SDK = NODE_MODULES / "@modelcontextprotocol" / "sdk"


def _record_stdio(env: str, db: Path) -> None:
    async def session() -> None:
        args = ["serve", env, "--transport", "stdio", "--record", str(db)]
        async with Client(StdioServerParameters(command=FUNREASON, args=args)) as client:
            await play(client, SESSIONS[env])

    anyio.run(session)


def _record_proxy(env: str, db: Path) -> None:
    async def session() -> None:
        args = ["proxy", "--server-cmd", f"{FUNREASON} serve {env} --transport stdio", "--record", str(db)]
        async with Client(StdioServerParameters(command=FUNREASON, args=args)) as client:
            await play(client, SESSIONS[env])

    anyio.run(session)


def _record_http(env: str, db: Path) -> None:
    recorder = Recorder(db, label=f"http:{env}")
    with http_server(create_app([env], manager=SandboxManager(), on_call=recorder)) as base:

        async def session() -> None:
            async with Client(f"{base}/mcp") as client:
                await play(client, SESSIONS[env])

        anyio.run(session)
    recorder.close()


def _record_ts(env: str, db: Path, tmp_path: Path, transport: str) -> None:
    """The session played by the TypeScript SDK's client over stdio, HTTP or through the proxy."""
    script = tmp_path / f"{env}.json"
    script.write_text(session_json(env))
    serve = [FUNREASON, "serve", env, "--transport", "stdio"]

    def play_ts(*target: str) -> None:
        done = subprocess.run(
            ["node", str(TS_CLIENT), str(script), *target],
            env={**os.environ, "NODE_MODULES": str(NODE_MODULES)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr

    if transport == "stdio":
        play_ts("stdio", *serve, "--record", str(db))
    elif transport == "proxy":
        play_ts("stdio", FUNREASON, "proxy", "--server-cmd", " ".join(serve), "--record", str(db))
    else:
        recorder = Recorder(db, label=f"http:{env}")
        with http_server(create_app([env], manager=SandboxManager(), on_call=recorder)) as base:
            play_ts("http", f"{base}/mcp")
        recorder.close()


def _exported(db: Path, tmp_path: Path, turns: str) -> tuple[list[dict], str]:
    synthesized = funreason("synthesize", "--db", str(db), "--turns", turns)
    assert synthesized.returncode == 0, synthesized.stderr
    out = tmp_path / "out.jsonl"
    assert funreason("export", "--db", str(db), "--format", "openai", "--out", str(out)).returncode == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    return sorted(records, key=lambda record: record["metadata"]["goals"]["part"]), synthesized.stderr


def _recorded_calls(db: Path) -> list[tuple[str, dict]]:
    with Store(db) as store:
        [trajectory] = list(store.iter_trajectories())
    return [(step.tool, step.arguments) for step in trajectory.steps if not step.is_error]


def _exported_calls(records: list[dict]) -> list[tuple[str, dict]]:
    return [
        (call["function"]["name"], _arguments(call["function"]["arguments"]))
        for record in records
        for message in record["messages"]
        for call in message.get("tool_calls") or []
    ]


def _arguments(arguments: str | dict) -> dict:
    return json.loads(arguments) if isinstance(arguments, str) else arguments


def _check_every_goal_kept(db: Path, tmp_path: Path, env: str) -> list[dict]:
    records, printed = _exported(db, tmp_path, "2-8")
    assert len(records) == 1, printed
    [record] = records
    assert _exported_calls([record]) == _recorded_calls(db)  # every successful call, in recorded order
    goals = record["metadata"]["goals"]
    # travel's six calls are five goals: its card listing is a step of the booking ("charge the visa card")
    assert goals["kept"] == goals["recorded"] == len(_requests(record)) >= 5
    assert f"{goals['recorded']} goals, {goals['recorded']} in samples" in printed
    assert record["metadata"]["verified"] is True
    return [record]


def _requests(record: dict) -> list[str]:
    """The user's requests (a goal each), not the go-ahead after a withheld tool is offered."""
    return [m["content"] for m in record["messages"] if m["role"] == "user" and m["content"] not in _FOLLOW_UPS]


_FOLLOW_UPS = {  # what the simulated user says when a withheld tool is offered (not a goal of its own)
    "That tool is available now. Please go ahead.",
    "I've just enabled it for you, so you can do it now.",
    "You should have it now. Could you try again?",
    "It's been added. Please carry on.",
    "OK, that's switched on now; go ahead.",
}


@pytest.mark.parametrize(
    ("record", "env"),
    [  # over HTTP in the default run; the subprocess transports (a few seconds each) with the heavy suites
        pytest.param(_record_stdio, "filesystem", marks=pytest.mark.heavy),
        (_record_http, "messaging"),
        pytest.param(_record_proxy, "tickets", marks=pytest.mark.heavy),
        pytest.param(_record_stdio, "travel", marks=pytest.mark.heavy),
    ],
    ids=["stdio-filesystem", "http-messaging", "proxy-tickets", "stdio-travel"],
)
def test_every_successful_recorded_call_is_in_the_sample_in_order(tmp_path, record, env):
    db = tmp_path / "calls.db"
    record(env, db)
    _check_every_goal_kept(db, tmp_path, env)


_ACTS_ON_EARLIER = {  # a later goal that acts on what an earlier goal made, and the id the earlier result gave
    "messaging": ("delete_message", "MSG0005"),
    "tickets": ("resolve_ticket", "TKT-0009"),
    "travel": ("cancel_flight_booking", "BKG0004"),
}


@pytest.mark.heavy
@pytest.mark.parametrize("env", sorted(_ACTS_ON_EARLIER))
def test_a_later_goal_names_what_an_earlier_one_made_by_reference_not_by_id(tmp_path, env):
    db = tmp_path / "calls.db"
    _record_stdio(env, db)
    [record], _ = _exported(db, tmp_path, "2-8")
    tool, made = _ACTS_ON_EARLIER[env]
    request = _request_before(record, tool)
    assert made not in request, request
    assert made in json.dumps(_exported_calls([record])), "the call still takes the id, from the history"


def _request_before(record: dict, tool: str) -> str:
    """The user's request that the call of `tool` answers."""
    request = ""
    for message in record["messages"]:
        if message["role"] == "user" and message["content"] not in _FOLLOW_UPS:
            request = message["content"]
        if any(call["function"]["name"] == tool for call in message.get("tool_calls") or []):
            return request
    raise AssertionError(f"no call of {tool}")


@pytest.mark.heavy
def test_a_refused_call_in_the_middle_is_left_out_and_said_and_the_goals_after_it_stay(tmp_path):
    db = tmp_path / "calls.db"
    _record_proxy("tickets", db)
    [record] = _check_every_goal_kept(db, tmp_path, "tickets")
    [dropped] = record["metadata"]["goals"]["dropped"]
    assert dropped["tool"] == "close_ticket" and "only resolved tickets can be closed" in dropped["reason"]
    tools = [name for name, _ in _exported_calls([record])]
    assert tools[tools.index("add_ticket_comment") :] == [
        "add_ticket_comment",
        "assign_ticket",
        "resolve_ticket",
        "get_ticket",
    ]


def test_a_long_session_becomes_consecutive_samples_each_starting_where_the_last_ended(tmp_path):
    db = tmp_path / "calls.db"
    _record_stdio("filesystem", db)
    records, printed = _exported(db, tmp_path, "2-3")
    assert [
        len([m for m in r["messages"] if m["role"] == "user" and m["content"] not in _FOLLOW_UPS]) for r in records
    ] == [3, 2, 2]
    assert _exported_calls(records) == _recorded_calls(db)
    assert all(record["metadata"]["verified"] for record in records)
    for number, record in enumerate(records):  # each later part replays the earlier ones, unseen
        earlier = [(name, arguments) for name, arguments in _exported_calls(records[:number])]
        assert [(call["tool"], call["arguments"]) for call in record["metadata"]["setup"]] == earlier
    assert "7 goals, 7 in samples" in printed


@pytest.mark.heavy
def test_a_later_part_replays_as_an_evaluation_task_from_its_setup(tmp_path):
    db = tmp_path / "calls.db"
    _record_stdio("travel", db)
    records, _ = _exported(db, tmp_path, "2-3")
    assert len(records) == 2 and records[1]["metadata"]["setup"]
    exported = tmp_path / "part2.jsonl"
    exported.write_text(json.dumps(records[1]) + "\n")
    [from_file] = load_tasks(tasks_file=exported)  # replays setup, then the ground truth, checking each state
    from_store = {task.id: task for task in load_tasks(db=db)}
    assert [(call["tool"], call["arguments"]) for call in from_file.setup] == _exported_calls(records[:1])
    assert [turn.state_hash for turn in from_file.turns] == [
        turn.state_hash for turn in from_store[records[1]["metadata"]["sample_id"]].turns
    ]


@pytest.mark.heavy
@pytest.mark.skipif(shutil.which("node") is None or not _TS_SDK.exists(), reason="node or the TypeScript SDK missing")
@pytest.mark.parametrize(
    ("transport", "env"),
    [("stdio", "filesystem"), ("http", "messaging"), ("proxy", "tickets"), ("stdio", "travel")],
)
def test_the_typescript_sdk_client_sessions_keep_every_goal(tmp_path, transport, env):
    db = tmp_path / "calls.db"
    _record_ts(env, db, tmp_path, transport)
    _check_every_goal_kept(db, tmp_path, env)
