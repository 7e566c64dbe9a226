"""Any MCP server, for real: a third-party-style server over stdio and HTTP, explored and synthesized."""

import json
import re
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulator import ConnectionFailed, ExploreConfig, ServerTarget, Store, explore
from simulator.connection import DEFAULT_ERROR_TEXT, error_shape
from simulator.explorer import run_id_for
from simulator.hints import load_hints
from synthesizer import OfflineBackend, SampleStore, SynthesisConfig, synthesize
from synthesizer.template_requests import template_note
from tests.conftest import funreason, http_server
from tests.third_party.servers import HINTS

NOTES_SERVER = Path(__file__).with_name("notes_server.py")
NODE = Path(__file__).parents[2] / ".ci" / "node" / "node_modules" / ".bin"


def notes_target(tmp_path: Path) -> ServerTarget:
    """The notes server over stdio, its state in a file of tmp_path that the reset command removes."""
    state = tmp_path / "notes.json"
    return ServerTarget(
        command=f"{sys.executable} {NOTES_SERVER}",
        server_env=(("NOTES_FILE", str(state)),),
        reset_cmd=f"rm -f {state}",
    )


def steps_of(db: Path) -> list:
    with Store(db) as store:
        return [step for trajectory in store.iter_trajectories() for step in trajectory.steps]


@pytest.mark.heavy  # restarts a Python server per sandbox: ~20 s
def test_objects_arrays_text_errors_and_file_state_over_stdio(tmp_path):
    db = tmp_path / "notes.db"
    target = replace(notes_target(tmp_path), reset_cmd=None)  # keep the file, to see where the server wrote
    run_id = explore(target, db, ExploreConfig(trajectories=8, seed=0, discovery=6))
    steps = steps_of(db)
    created = [step for step in steps if step.tool == "create_note" and not step.is_error]
    assert created and all(set(step.arguments["note"]) >= {"title", "tags"} for step in created)
    assert all(isinstance(step.arguments["note"]["tags"], list) for step in created)
    read = [step for step in steps if step.tool == "read_note" and not step.is_error]
    assert read and all(step.arguments["note_id"].startswith("n") for step in read)  # a token, not the message
    assert all(step.is_error for step in steps if step.text.startswith("Error:"))
    assert (tmp_path / "notes.json").exists()  # NOTES_FILE reached the server through server_env
    with Store(db) as store:
        edges = store.load_graph(run_id, "frozen")["edges"]
        assert store.run_config(run_id)["server"]["server_env"] == {"NOTES_FILE": str(tmp_path / "notes.json")}
    learnt = {(edge["source"], edge["target"]): edge["reasons"] for edge in edges}
    assert ("create_note", "read_note") in learnt
    assert all(reason["evidence"] for reason in learnt["create_note", "read_note"])
    out = tmp_path / "graph.json"
    shown = funreason("graph", "--server-cmd", target.command, "--db", str(db), "--out", str(out))
    assert shown.returncode == 0, shown.stderr
    graph = json.loads(out.read_text())
    assert any((edge["source"], edge["target"]) == ("create_note", "read_note") for edge in graph["edges"])


@pytest.mark.heavy  # restarts a Python server per sandbox: ~20 s
def test_synthesis_over_a_stdio_store_resets_state_and_does_not_crash(tmp_path):
    db = tmp_path / "notes.db"
    explore(notes_target(tmp_path), db, ExploreConfig(trajectories=3, seed=0, discovery=3, max_steps=4))
    config = SynthesisConfig(turns=(1, 1), max_attempts=1, allow_template_requests=True)  # no phrasing: kept, marked
    counts = synthesize(db, config, OfflineBackend())
    with Store(db) as store:
        samples = list(SampleStore(store).iter_samples())
    assert counts["verified"] >= 1 and all(sample.verified for sample in samples)


def test_synthesis_over_a_plain_url_without_reset_marks_samples_unverified(tmp_path):
    port = _free_port()
    env = {"NOTES_FILE": str(tmp_path / "http-notes.json"), "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen([sys.executable, str(NOTES_SERVER), "--port", str(port)], env=env)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        _wait_for(port)
        db = tmp_path / "http.db"
        explore(ServerTarget(url=url), db, ExploreConfig(trajectories=4, seed=0, discovery=4, max_steps=5))
        counts = synthesize(db, SynthesisConfig(turns=(1, 2)), OfflineBackend())  # over HTTP: no crash either
        with Store(db) as store:
            samples = list(SampleStore(store).iter_samples())
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert counts["verified"] == 0 and not any(sample.verified for sample in samples)
    assert counts["rejected"] + len(samples) == 4


def test_text_that_says_it_failed_is_an_error_unless_the_rule_is_off(tmp_path):
    async def read_missing(rule: str | None) -> bool:
        target = replace(notes_target(tmp_path), error_text=rule)
        async with target.connect() as connection:
            step = await connection.call("read_note", {"note_id": "n404"})
            assert step.text == "Error: there is no note 'n404'"
            return step.is_error

    assert anyio.run(read_missing, DEFAULT_ERROR_TEXT) is True
    assert anyio.run(read_missing, None) is False


def test_a_server_that_cannot_start_is_one_line_with_its_last_stderr_line(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("import sys\nprint('missing API_KEY', file=sys.stderr)\nsys.exit(3)\n")

    async def connect() -> None:
        async with ServerTarget(command=f"{sys.executable} {script}").connect():
            pass

    with pytest.raises(ConnectionFailed) as raised:
        anyio.run(connect)
    message = str(raised.value)
    assert "\n" not in message and "broken.py" in message and "missing API_KEY" in message


def test_a_failing_reset_command_is_named(tmp_path):
    target = ServerTarget(command=f"{sys.executable} {NOTES_SERVER}", reset_cmd="echo no backup >&2; exit 2")

    async def connect() -> None:
        async with target.connect():
            pass

    with pytest.raises(ConnectionFailed, match="reset-cmd .* exit code 2: no backup"):
        anyio.run(connect)


@pytest.mark.heavy
@pytest.mark.skipif(not (NODE / "mcp-server-memory").exists(), reason="npm reference servers not installed (.ci/run)")
def test_reference_memory_server_is_covered_and_synthesized(tmp_path):
    state = tmp_path / "memory.json"
    target = ServerTarget(
        command=str(NODE / "mcp-server-memory"),
        server_env=(("MEMORY_FILE_PATH", str(state)),),
        reset_cmd=f"rm -f {state}",
        hints=str(HINTS / "memory.toml"),  # its requests in words (issue 27: no template requests exported)
    )
    db = tmp_path / "memory.db"
    explore(target, db, ExploreConfig(trajectories=30, seed=0))
    steps = steps_of(db)
    assert len({step.tool for step in steps if not step.is_error}) == 9
    assert sum(step.is_error for step in steps) / len(steps) <= 0.3
    counts = synthesize(db, SynthesisConfig(turns=(1, 3), allow_template_requests=True), OfflineBackend())
    assert counts["verified"] >= 1


@pytest.mark.heavy
@pytest.mark.skipif(not (NODE / "mcp-server-filesystem").exists(), reason="npm reference servers not installed")
def test_reference_filesystem_server_touches_the_seeded_files(tmp_path):
    seed, root = tmp_path / "seed", tmp_path / "root"
    (seed / "docs").mkdir(parents=True)
    (seed / "notes.txt").write_text("hello\n")
    (seed / "docs" / "plan.md").write_text("one\ntwo\n")
    target = ServerTarget(
        command=f"{NODE / 'mcp-server-filesystem'} {root}", reset_cmd=f"rm -rf {root} && cp -r {seed} {root}"
    )
    db = tmp_path / "fs.db"
    explore(target, db, ExploreConfig(trajectories=30, seed=0))
    steps = steps_of(db)
    assert any(str(root / "notes.txt") in json.dumps(step.arguments) for step in steps if not step.is_error)
    with Store(db) as store:
        last = max(store.iter_trajectories(), key=lambda trajectory: trajectory.index)
    looks = ("read", "list", "get", "search")
    changes = sum(not step.is_error and not step.tool.startswith(looks) for step in last.steps)
    new_entries = {path.name for path in root.rglob("*")} - {"docs", "notes.txt", "plan.md"}
    assert len(new_entries) <= changes  # each trajectory starts from the seed: no junk piles up


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("the notes server did not start listening")


SHAPED_SERVER = Path(__file__).with_name("shaped_server.py")


def shaped_target(tmp_path: Path, **changes) -> ServerTarget:
    state = tmp_path / "items.json"
    target = ServerTarget(
        command=f"{sys.executable} {SHAPED_SERVER}",
        server_env=(("ITEMS_FILE", str(state)),),
        reset_cmd=f"rm -f {state}",
    )
    return replace(target, **changes)


def test_error_shapes_count_as_errors_in_any_language_and_the_rule_can_be_turned_off(tmp_path):
    async def outcomes(target: ServerTarget) -> list[bool]:
        async with target.connect() as connection:
            missing = await connection.call("get_item", {"item_id": "item-9"})
            closed = await connection.call("close_item", {"item_id": "item-9"})
            made = await connection.call("create_item", {"title": "milk"})
            assert made.result == {"id": "item-1", "title": "milk", "state": "open"}  # JSON inside text: structure
            return [missing.is_error, closed.is_error, made.is_error]

    assert anyio.run(outcomes, shaped_target(tmp_path)) == [True, True, False]
    assert anyio.run(outcomes, shaped_target(tmp_path, error_shape="success")) == [False, True, False]
    assert anyio.run(outcomes, shaped_target(tmp_path, error_shape=None)) == [False, False, False]
    assert error_shape({"status": "task_not_found"}) and error_shape({"statusCode": 404})
    assert not error_shape({"status": "planned", "tasks": [{"status": "failed"}]})
    with pytest.raises(ConnectionFailed, match="unknown error shape 'nope'"):
        shaped_target(tmp_path, error_shape="status,nope")


def test_a_server_that_declares_nothing_gets_dependencies_arguments_and_coverage(tmp_path):
    db = tmp_path / "items.db"
    run_id = explore(shaped_target(tmp_path), db, ExploreConfig(trajectories=8, seed=0, discovery=4, max_steps=5))
    with Store(db) as store:
        walks = list(store.iter_trajectories(run_id))
        graph = store.load_graph(run_id, "frozen")
    steps = [step for walk in walks for step in walk.steps]
    assert {step.tool for step in steps if not step.is_error} == {"create_item", "get_item", "close_item", "list_items"}
    assert all(step.is_error for step in steps if "introuvable" in step.text or '"success": false' in step.text)
    assert sum(walk.steps[0].tool == "create_item" for walk in walks) == len(walks)  # making something first
    ids = [step.arguments["item_id"] for step in steps if "item_id" in step.arguments]
    assert ids and all(re.fullmatch(r"item-[0-9]+", item_id) for item_id in ids)  # the schema's pattern
    edges = {(edge["source"], edge["target"]): edge["reasons"] for edge in graph["edges"]}
    assert ("create_item", "get_item") in edges and ("create_item", "close_item") in edges
    assert all(reason.get("evidence") for reasons in edges.values() for reason in reasons)


def test_a_changed_error_option_is_new_work_not_the_old_run_resumed(tmp_path):
    config = ExploreConfig(trajectories=1)
    target = shaped_target(tmp_path)
    assert run_id_for(target, config) != run_id_for(replace(target, error_text="^oops"), config)
    assert run_id_for(target, config) != run_id_for(replace(target, error_shape="error"), config)
    assert run_id_for(ServerTarget(envs=("math",)), config) == run_id_for(ServerTarget(envs=("math",)), config)


def test_state_that_survives_a_restart_is_warned_of_once_and_unverified(tmp_path, caplog):
    async def fresh_after_walk(target: ServerTarget) -> tuple[bool, str | None]:
        async with target.connect() as connection:
            await connection.call("create_item", {"title": "milk"})
            await connection.reset(1)
            await connection.call("create_item", {"title": "eggs"})
            await connection.reset(2)
            return connection.fresh_state, connection.unfresh_reason

    assert anyio.run(fresh_after_walk, shaped_target(tmp_path)) == (True, None)  # the reset command removes the file
    fresh, reason = anyio.run(fresh_after_walk, shaped_target(tmp_path, reset_cmd=None))
    assert not fresh and "list_items answered differently" in reason and "--reset-cmd" in reason
    warnings = [record for record in caplog.records if "state leaks" in record.getMessage()]
    assert len(warnings) == 1


def test_a_run_whose_every_trajectory_failed_is_a_failure(tmp_path):
    script = tmp_path / "dies.py"
    script.write_text(
        "import os\nfrom mcp.server.mcpserver import MCPServer\nserver = MCPServer('dies')\n\n"
        "@server.tool()\ndef list_things() -> str:\n    os._exit(3)\n\nserver.run()\n"
    )
    db = tmp_path / "dies.db"
    result = funreason("explore", "--server-cmd", f"{sys.executable} {script}", "--db", str(db), "--trajectories", "2")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: every trajectory of cmd:")


@pytest.mark.heavy  # restarts a Python server per sandbox: ~20 s
def test_annotate_drafts_hints_that_the_loader_takes_and_explore_uses(tmp_path):
    out = tmp_path / "items.toml"
    state = tmp_path / "a.json"
    command = ["annotate", "--server-cmd", f"{sys.executable} {SHAPED_SERVER}", "--out", str(out)]
    shown = funreason(*command, "--server-env", f"ITEMS_FILE={state}", "--reset-cmd", f"rm -f {state}")
    assert shown.returncode == 0, shown.stderr
    hints = load_hints(out)
    assert hints.tools["get_item"]["consumes"] == {"item_id": "item"}
    assert hints.tools["create_item"]["produces"]["id"] == "item"
    assert hints.tools["list_items"]["read_only"] is True and hints.tools["close_item"]["read_only"] is False
    assert hints.tools["create_item"]["asks"] == ["Create an item with the title {title}."]
    db = tmp_path / "hinted.db"
    run_id = explore(replace(shaped_target(tmp_path), hints=str(out)), db, ExploreConfig(trajectories=4, seed=0))
    with Store(db) as store:
        edges = {(edge["source"], edge["target"]) for edge in store.load_graph(run_id, "frozen")["edges"]}
    assert ("create_item", "get_item") in edges


@pytest.mark.heavy  # restarts a Python server per sandbox: ~20 s
def test_requests_that_would_paste_descriptions_are_not_kept_unless_allowed(tmp_path):
    db = tmp_path / "items.db"
    explore(shaped_target(tmp_path), db, ExploreConfig(trajectories=4, seed=0, discovery=4, max_steps=4))
    counts = synthesize(db, SynthesisConfig(turns=(1, 2), max_attempts=1), OfflineBackend())
    with Store(db) as store:
        samples = SampleStore(store)
        assert counts["verified"] == 0 and not list(samples.iter_samples())
        assert template_note(samples).startswith("4 samples not kept")
    kept = synthesize(db, SynthesisConfig(turns=(1, 2), max_attempts=1, allow_template_requests=True), OfflineBackend())
    with Store(db) as store:
        marked = list(SampleStore(store).iter_samples())
    assert kept["verified"] == len(marked) >= 1
    assert all(turn.template_request for sample in marked for turn in sample.dialogue.turns)


def test_annotate_with_a_model_keeps_the_drafts_that_fit_the_tool(tmp_path):
    async def complete(request: Request) -> JSONResponse:
        tool = json.loads((await request.json())["messages"][1]["content"])["tool"]
        drafts = {
            "asks": [f"Please handle {tool} for me[ now].", "Use {no_such_parameter}."],
            "answers": ["Done."],
            "pools": {"title": ["Buy milk", "Call the plumber"], "nope": ["x"]},
        }
        message = {"role": "assistant", "content": "Here you are:\n" + json.dumps(drafts)}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        return JSONResponse({"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice],
                             "usage": usage})  # fmt: skip

    out = tmp_path / "items.toml"
    with http_server(Starlette(routes=[Route("/v1/chat/completions", complete, methods=["POST"])])) as base:
        state = tmp_path / "a.json"
        shown = funreason(
            "annotate", "--server-cmd", f"{sys.executable} {SHAPED_SERVER}", "--out", str(out), "--trajectories", "2",
            "--server-env", f"ITEMS_FILE={state}", "--reset-cmd", f"rm -f {state}",
            "--llm", "openai", "--model", "m", "--base-url", f"{base}/v1",
        )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "drafted by rules and m" in shown.stderr
    hints = load_hints(out)
    assert hints.tools["list_items"]["asks"] == ["Please handle list_items for me[ now]."]  # the unknown slot: dropped
    assert hints.tools["list_items"]["answers"] == ["Done."]
    # a tool's own pool is the pool of the entity its parameter consumes (create_item's title: one of its own)
    entity = hints.tools["create_item"]["consumes"]["title"]
    assert hints.pools[entity] == ["Buy milk", "Call the plumber"]
    assert not any(key.split(".")[-1] == "nope" for key in hints.pools)  # no tool has that parameter
