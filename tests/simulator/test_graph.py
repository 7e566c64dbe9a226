"""The Environment-API graph: declared and inferred edges, legality, exports."""

import json
import random
import xml.etree.ElementTree as ElementTree

import anyio
import networkx as nx
import pytest

from servers import load_pools
from simulator.connection import ServerTarget
from simulator.graph import build_graph, export_graph, graph_from_json, graph_to_json, is_legal, is_removal
from simulator.records import ToolInfo
from simulator.sampler import GraphIndex, choose_next, free_parameters, story_goals


def tools_of(*envs: str) -> list[ToolInfo]:
    async def main() -> list[ToolInfo]:
        async with ServerTarget(envs=envs).connect() as connection:
            return connection.tools

    return anyio.run(main)


def reasons(graph, source, target):
    """The reasons of an edge without their evidence (which every reason has: checked here)."""
    found = graph.edges[source, target]["reasons"] if graph.has_edge(source, target) else []
    assert all(reason.get("evidence") for reason in found), found
    return [{key: value for key, value in reason.items() if key != "evidence"} for reason in found]


def test_declared_value_and_state_edges():
    graph = build_graph(tools_of("messaging"))
    assert {"kind": "value", "source": "declared", "param": "receiver_id", "field": "user_id", "entity": "user_id"} in (
        reasons(graph, "get_user_id", "send_message")
    )
    assert {"kind": "state", "source": "declared", "condition": "logged_in"} in reasons(graph, "log_in", "send_message")
    assert not is_legal(graph, "send_message", {"log_in"})
    assert is_legal(graph, "send_message", {"log_in", "list_users"})
    assert is_legal(graph, "get_user_id", set())


def test_edges_are_inferred_from_schemas_when_no_hints_are_published():
    producer = ToolInfo(
        "create_order",
        "Create.",
        {"type": "object", "properties": {}},
        {"type": "object", "properties": {"order_id": {"type": "string"}}},
    )
    consumer = ToolInfo(
        "cancel_order",
        "Cancel.",
        {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
    )
    free_text = ToolInfo(
        "note",
        "Note.",
        {"type": "object", "properties": {"text": {"type": "string"}}},
        {"type": "object", "properties": {"text": {"type": "string"}}},
    )
    graph = build_graph([producer, consumer, free_text])
    assert reasons(graph, "create_order", "cancel_order") == [
        {"kind": "value", "source": "inferred", "param": "order_id", "field": "order_id", "entity": "order_id"},
        {
            "kind": "value",
            "source": "inferred",
            "param": "order_id",
            "field": "id",
            "entity": "order",
        },  # it makes orders
    ]
    evidence = graph.edges["create_order", "cancel_order"]["reasons"][0]["evidence"]
    assert {"output": "create_order.order_id", "input": "cancel_order.order_id", "type": "string"} in evidence
    assert graph.number_of_edges() == 1  # free text is never matched by name
    assert not is_legal(graph, "cancel_order", set())


@pytest.mark.parametrize("suffix", [".json", ".graphml", ".dot", ".png"])
def test_exports(tmp_path, suffix):
    graph = build_graph(tools_of("trading"))
    path = tmp_path / f"graph{suffix}"
    export_graph(graph, path)
    if suffix == ".json":
        loaded = graph_from_json(json.loads(path.read_text()))
        assert set(loaded.edges) == set(graph.edges) and loaded.nodes["get_stock_info"] == graph.nodes["get_stock_info"]
    elif suffix == ".graphml":
        ElementTree.parse(path)
        assert set(nx.read_graphml(path).edges) == set(graph.edges)
    elif suffix == ".dot":
        text = path.read_text()
        assert text.startswith("digraph") and text.count("->") == graph.number_of_edges()
    else:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_json_round_trip_keeps_reasons():
    graph = build_graph(tools_of("travel"))
    again = graph_from_json(json.loads(json.dumps(graph_to_json(graph))))
    assert all(again.edges[edge]["reasons"] == graph.edges[edge]["reasons"] for edge in graph.edges)


def test_unknown_export_format(tmp_path):
    with pytest.raises(ValueError, match="unknown graph format"):
        export_graph(build_graph(tools_of("math")), tmp_path / "graph.svg")


@pytest.mark.parametrize("env", ["trading", "travel"])
def test_a_reused_graph_index_chooses_as_a_fresh_one_does(env):
    """`GraphIndex` remembers candidates per situation; any mix-up of situations would show here."""
    tools = tools_of(env)
    graph = build_graph(tools)
    free = free_parameters(tools, load_pools(env))
    reused = GraphIndex(graph, free)
    names = sorted(graph.nodes)
    situations = random.Random(5)
    for _ in range(400):
        target = situations.choice(names)
        called = set(situations.sample(names, situations.randint(0, 4)))
        excluded = set(situations.sample(names, situations.randint(0, 2)))
        situation = (graph, target, called, excluded)
        assert _choices(*situation, reused) == _choices(*situation, GraphIndex(graph, free))


def _choices(graph: nx.DiGraph, target: str, called: set[str], excluded: set[str], index: GraphIndex) -> tuple:
    """The next tool (drawn with a fixed seed) and the next goals, as `index` works them out."""
    chosen = choose_next(graph, target, called, excluded, random.Random(9), None, index)
    return chosen, index.next_goals(called, excluded)


def test_a_story_changes_what_it_made_before_it_removes_it():
    """A note deleted right after it is made leaves `update-note` nothing to act on (the notes server's
    update-note never succeeded, so its edge was never learnt): removals wait while other goals are left."""
    graph = build_graph(tools_of("messaging"))
    index = GraphIndex(graph, free_parameters(tools_of("messaging"), load_pools("messaging")))
    made = {"log_in", "send_message"}
    linked = {later for _, later in graph.out_edges("send_message")} - made
    assert "delete_message" in linked and len(linked) > 1, linked
    assert "delete_message" not in story_goals(index, made, set())
    others = {tool for tool in linked if not is_removal(tool)}
    assert story_goals(index, made, others) == ("delete_message",)  # once nothing else is left, it comes
