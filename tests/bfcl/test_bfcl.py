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
from servers.bfcl import (
    BFCL_CLASSES,
    bfcl_class,
    bfcl_environment_names,
    bfcl_hints_path,
    bfcl_runs,
    bfcl_scenario_pools,
)
from servers.errors import UnknownEnvironment
from servers.phrasing import parse_template
from simulator import ServerTarget, load_hints
from synthesizer.decontaminate import find_overlap, user_texts
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
def test_results_read_as_a_fresh_process_would_and_error_lists_are_errors():
    """BFCL's `post_tweet(mentions=[])` shares its default list between calls; each call here gets its own.
    `get_user_tickets` logged out returns `[{"error": ...}]`: an error result, never an empty success."""

    async def main() -> tuple:
        scenario = {"bfcl:TwitterAPI": "multi_turn_base_75", "bfcl:TicketAPI": "default"}
        target = ServerTarget(envs=("bfcl:TwitterAPI", "bfcl:TicketAPI"), scenario=scenario)
        async with target.connect() as connection:
            await connection.reset(0)
            await connection.call("authenticate_twitter", {"username": "michael_smith", "password": "michael2023"})
            first = await connection.call("post_tweet", {"content": "first"})
            await connection.call("mention", {"tweet_id": first.result["id"], "mentioned_usernames": ["carol"]})
            second = await connection.call("post_tweet", {"content": "second"})
            tickets = await connection.call("get_user_tickets", {})
            return second, tickets

    second, tickets = anyio.run(main)
    assert second.result["mentions"] == [] and second.result["tags"] == []
    assert tickets.is_error and "not authenticated" in tickets.text.lower()


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
    assert entries and all({"TravelAPI", "GorillaFileSystem"} & set(entry["involved_classes"]) for entry in entries)
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


# --- Shipped hints, BFCL's initial configs as scenarios, decontamination -------------------------------------------


def _published_tools(env_names):
    async def tools():
        async with ServerTarget(envs=tuple(env_names)).connect() as connection:
            return connection.tools

    return anyio.run(tools)


def _func_doc_fields():
    """Result fields per tool as BFCL's function docs describe them (`response`), plus `result` for a list result."""
    from importlib import resources

    folder = resources.files("bfcl_eval") / "data" / "multi_turn_func_doc"
    fields = {}
    for path in folder.iterdir():
        for line in path.read_text(encoding="utf-8").splitlines():
            doc = json.loads(line)
            fields[doc["name"]] = set(doc.get("response", {}).get("properties", {})) | {"result"}
    return fields


@needs_bfcl
@pytest.mark.parametrize("class_name", BFCL_CLASSES)
def test_every_tool_of_every_class_has_shipped_hints_that_load_and_fit(class_name):
    hints = load_hints(bfcl_hints_path(class_name))
    tools = _published_tools([f"bfcl:{class_name}"])
    hints.check(tools)  # every template slot is a parameter, every required parameter is said
    assert {tool.name for tool in tools} == set(hints.tools)
    # the class publishes them as our own servers do (the server reads the same file)
    assert all(tool.hints["asks"] and tool.hints["answers"] for tool in tools)
    documented = _func_doc_fields()
    bfcl_quirks = {("get_order_history", "history"), ("adjustClimateControl", "currentACTemperature")}
    for tool in tools:
        slots = {slot.split(".")[0] for text in tool.hints["answers"] for slot in parse_template(text).slots}
        unknown = {slot for slot in slots if not slot.startswith("@")} - documented[tool.name]
        allowed = {field for name, field in bfcl_quirks if name == tool.name}
        if tool.name in ("check_tire_pressure", "displayCarStatus"):  # documented as one nested field
            continue
        assert unknown <= allowed, (tool.name, unknown)


@needs_bfcl
def test_runs_start_in_seeded_bfcl_entries_combined_as_bfcl_combines_them():
    runs = bfcl_runs(bfcl_environment_names(), 48, 0)
    assert runs == bfcl_runs(bfcl_environment_names(), 48, 0) and runs != bfcl_runs(bfcl_environment_names(), 48, 1)
    entries = {entry["id"]: entry for entry in bfcl_entries()}
    scenarios = [scenario if isinstance(scenario, str) else max(scenario.values()) for _, scenario, _ in runs]
    assert len(set(scenarios)) >= 100 and sum(count for *_, count in runs) == 48 * 8
    for (envs, _, _), entry_id in zip(runs, scenarios, strict=True):
        assert [env.removeprefix("bfcl:") for env in envs] == entries[entry_id]["involved_classes"]
    assert {env for envs, _, _ in runs for env in envs} == set(bfcl_environment_names())
    travel = bfcl_runs(["bfcl:TravelAPI"], 10, 0)
    assert travel and all("bfcl:TravelAPI" in envs for envs, _, _ in travel)
    # each entry's own values: the travel account's token, the files in the folder BFCL starts in
    pools = bfcl_scenario_pools(("bfcl:GorillaFileSystem",), "multi_turn_base_0")
    assert pools == {"fs_name": ["document", "archive"]}
    cards = list(entries["multi_turn_base_150"]["initial_config"]["TravelAPI"]["credit_card_list"])
    assert bfcl_scenario_pools(("bfcl:TravelAPI",), "multi_turn_base_150")["card_id"] == cards


@needs_bfcl
def test_run_bfcl_dialogues_start_in_bfcl_task_states_and_are_decontaminated(tmp_path):
    out = tmp_path / "run"
    outcome = funreason("run", "--bfcl", "--trajectories", "3", "--out", str(out))
    assert outcome.returncode == 0, outcome.stderr
    records = [json.loads(line) for line in (out / "openai.jsonl").read_text(encoding="utf-8").splitlines()]
    assert records
    entry_ids = {entry["id"] for entry in bfcl_entries()}
    for record in records:  # the scenario a sample ran in is a BFCL entry's id
        scenario = record["metadata"]["scenario"]
        chosen = set(json.loads(scenario).values()) - {"default"} if scenario.startswith("{") else {scenario}
        assert chosen and chosen <= entry_ids
    assert all(find_overlap(user_texts(record)) is None for record in records)
    figures = json.loads((out / "report.json").read_text())
    assert (
        figures["decontamination"]["checked"] >= len(records)
        and "Decontamination against BFCL" in (out / "report.md").read_text()
    )
    info = json.loads((out / "dataset_info.json").read_text())
    assert all(entry["decontamination"] == figures["decontamination"] for entry in info.values())
