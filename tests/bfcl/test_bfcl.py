"""BFCL's own multi-turn classes through the class adapter, and our BFCL export scored by BFCL's own checker.

Needs the `bfcl-eval` package (`pip install -e ".[bfcl]"`, or `pip install --no-deps bfcl-eval mpmath`).
"""

import copy
import importlib.util
import json
import sys

import anyio
import pytest
from mcp import Client, StdioServerParameters

from servers import bfcl_entries, create_app, create_sandbox, parse_bfcl_call, serve_sandbox
from servers.bfcl import BFCL_CLASSES, bfcl_class, bfcl_environment_names
from servers.errors import UnknownEnvironment
from tests.conftest import FUNREASON, funreason, http_server

needs_bfcl = pytest.mark.skipif(
    importlib.util.find_spec("bfcl_eval") is None, reason="bfcl-eval is not installed (pip install -e '.[bfcl]')"
)


def test_without_bfcl_eval_the_error_is_one_line_saying_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "bfcl_eval", None)
    monkeypatch.setitem(sys.modules, "bfcl_eval.constants.executable_backend_config", None)
    with pytest.raises(UnknownEnvironment, match=r"pip install 'funreason-mt\[bfcl\]'"):
        bfcl_class("TravelAPI")
    with pytest.raises(UnknownEnvironment, match="unknown BFCL class 'Travel'"):
        bfcl_class("Travel")


# --- every ground-truth call over MCP returns what a direct call returns -----------------------------------------


def direct_instances(entry):
    """BFCL's classes as its checker builds them: `_load_scenario` with a deep copy of the entry's config."""
    instances = {}
    for name in entry["involved_classes"]:
        instance = bfcl_class(name)()
        if hasattr(instance, "_load_scenario"):
            instance._load_scenario(copy.deepcopy(entry["initial_config"].get(name, {})))
        instances[name] = instance
    return instances


def shown(value):
    """A direct result as our adapter sends it: a JSON object as data, anything else as (JSON) text."""
    data = json.loads(json.dumps(value, default=lambda v: float(v) if hasattr(v, "__float__") else str(v)))
    return data if isinstance(data, dict | str) else json.dumps(data)


def sandbox_for(entry):
    scenario = {
        f"bfcl:{name}": entry["id"] if hasattr(bfcl_class(name), "_load_scenario") else "default"
        for name in entry["involved_classes"]
    }
    return create_sandbox(list(scenario), scenario, 0)


async def replay(client, entry):
    """(direct, over MCP) for every ground-truth call of the entry, in order."""
    instances = direct_instances(entry)
    pairs = []
    for call in (call for turn in entry["ground_truth"] for call in turn):
        tool, arguments = parse_bfcl_call(call, entry["involved_classes"])
        owner = next(instance for instance in instances.values() if hasattr(instance, tool))
        expected = shown(getattr(owner, tool)(**copy.deepcopy(arguments)))
        result = await client.call_tool(tool, arguments)
        got = result.structured_content if result.structured_content is not None else result.content[0].text
        pairs.append((expected, got))
    return pairs


@needs_bfcl
def test_every_ground_truth_call_of_the_base_entries_returns_what_a_direct_call_returns():
    entries = bfcl_entries("multi_turn_base")
    assert len(entries) >= 200

    async def main() -> list:
        pairs = []
        for entry in entries:
            async with Client(serve_sandbox(sandbox_for(entry))) as client:
                pairs += await replay(client, entry)
        return pairs

    pairs = anyio.run(main)
    assert len(pairs) > 1000
    assert [got for _, got in pairs] == [expected for expected, _ in pairs]


@needs_bfcl
def test_the_same_over_stdio_and_http():
    entry = next(e for e in bfcl_entries() if set(e["involved_classes"]) == {"GorillaFileSystem", "TwitterAPI"})
    envs = ["bfcl:GorillaFileSystem", "bfcl:TwitterAPI"]
    stdio = StdioServerParameters(
        command=FUNREASON, args=["serve", *envs, "--scenario", entry["id"], "--transport", "stdio"]
    )

    async def main(base: str) -> None:
        async with Client(stdio) as client:
            pairs = await replay(client, entry)
            assert [got for _, got in pairs] == [expected for expected, _ in pairs]
        async with Client(f"{base}{sandbox['mcp']}") as client:
            pairs = await replay(client, entry)
            assert [got for _, got in pairs] == [expected for expected, _ in pairs]

    import httpx2

    with http_server(create_app(envs)) as base:
        created = httpx2.post(f"{base}/sandboxes", json={"env": envs, "scenario": entry["id"]})
        assert created.status_code == 201, created.text
        sandbox = created.json()
        anyio.run(main, base)


@needs_bfcl
def test_the_eight_classes_their_scenarios_and_the_command_line(tmp_path):
    assert bfcl_environment_names() == [f"bfcl:{name}" for name in BFCL_CLASSES]
    entry = bfcl_entries()[0]
    state = create_sandbox("bfcl:GorillaFileSystem", entry["id"], 0).state()["bfcl:GorillaFileSystem"]
    assert (
        state["root"]["name"] == "workspace" and "document" in state["root"]["contents"]
    )  # BFCL's initial config, loaded by the class's own loader
    explored = funreason("explore", "--env", "bfcl:TravelAPI", "--db", str(tmp_path / "t.db"), "--trajectories", "2")
    assert explored.returncode == 0, explored.stderr
    graphed = funreason("graph", "--bfcl", "--out", str(tmp_path / "graph.json"))
    assert graphed.returncode == 0, graphed.stderr
    nodes = json.loads((tmp_path / "graph.json").read_text())["nodes"]
    assert {"cd", "book_flight", "post_tweet", "startEngine"} <= {node["id"] for node in nodes}
    unknown = funreason("explore", "--env", "bfcl:Travel", "--db", str(tmp_path / "u.db"))
    assert unknown.returncode == 1 and "unknown BFCL class 'Travel'" in unknown.stderr


# --- BFCL's checker on our exported entries -----------------------------------------------------------------------


def checker_verdicts(path):
    """BFCL's multi-turn checker on every entry, answered with the ground truth and with the dialogue's own steps."""
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker

    verdicts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        entry = json.loads(line)
        truth = entry["ground_truth"]
        category = entry["id"].rsplit("_", 1)[0]
        answers = {"truth": [[turn] if turn else [] for turn in truth], "steps": entry["metadata"]["steps"]}
        for name, answer in answers.items():
            verdict = multi_turn_checker(answer, truth, entry, category, f"funreason_{path.stem}_{name}_{number}")
            verdicts.append((entry["id"], name, verdict["valid"], verdict.get("error_message")))
    return verdicts


def synthesized_bfcl_entries(tmp_path, *args):
    outcome = funreason("run", *args, "--out", str(tmp_path / "run"))
    assert outcome.returncode == 0, outcome.stderr
    path = tmp_path / "run" / "bfcl.jsonl"
    return path, [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_scored_100_percent(path, entries):
    assert {cls for entry in entries for cls in entry["involved_classes"]} <= set(BFCL_CLASSES)
    assert all(entry["id"].startswith("multi_turn_") for entry in entries)
    assert all(path.split(".")[0] in entry["involved_classes"] for entry in entries for path in entry["path"])
    failed = [verdict for verdict in checker_verdicts(path) if not verdict[2]]
    assert failed == []


@needs_bfcl
def test_bfcl_checker_scores_our_ground_truth_on_bfcl_classes_at_100_percent(tmp_path):
    path, entries = synthesized_bfcl_entries(
        tmp_path, "--envs", "bfcl:TravelAPI,bfcl:GorillaFileSystem", "--trajectories", "4", "--turns", "2-4"
    )
    assert {entry["involved_classes"][0] for entry in entries} == {"TravelAPI", "GorillaFileSystem"}
    assert_scored_100_percent(path, entries)


@needs_bfcl
@pytest.mark.heavy
def test_bfcl_checker_scores_over_200_synthesized_entries_at_100_percent(tmp_path):
    """Three seeds, a store each (one store rejects near-duplicate requests, so more walks give few more entries)."""
    scored = []
    for seed in ("0", "1", "2"):
        path, entries = synthesized_bfcl_entries(tmp_path / seed, "--bfcl", "--trajectories", "30", "--seed", seed)
        assert_scored_100_percent(path, entries)
        scored += entries
    assert len(scored) >= 200
    assert {entry["id"].rsplit("_", 1)[0] for entry in scored} == {
        "multi_turn_base",
        "multi_turn_miss_param",
        "multi_turn_miss_func",
    }
