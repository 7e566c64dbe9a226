"""Values for unknown servers: built from schemas, taken from results as short tokens."""

import random

from simulator.records import ToolInfo
from simulator.sampler import ArgumentFiller, ValueMemory
from simulator.values import describe_kind, result_tokens, schema_options, schema_value

ENTITIES = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "observations": {"type": "array", "items": {"type": "string"}},
            "when": {"type": "string", "format": "date-time"},
        },
        "required": ["name", "observations", "when"],
    },
}


def test_objects_and_arrays_are_built_from_their_schemas():
    value = schema_value("entities", ENTITIES, random.Random(0))
    assert isinstance(value, list) and value
    for item in value:
        assert set(item) == {"name", "observations", "when"}
        assert isinstance(item["observations"], list) and all(isinstance(text, str) for text in item["observations"])
        assert item["when"] == "2026-01-15T10:30:00Z"


def test_examples_in_descriptions_enums_and_defaults_are_offered():
    assert schema_options({"type": "string", "description": "IANA zone, e.g. 'America/New_York'"}) == [
        "America/New_York"
    ]
    assert schema_options({"type": "string", "enum": ["a", "b"]}) == ["a", "b"]
    assert schema_options({"type": "number", "default": 3}) == [3]


def test_messages_give_tokens_not_themselves():
    text = "Successfully created directory /srv/root/budget_11"
    tokens = list(result_tokens({"content": text}, text, {}))
    assert ("directory", "/srv/root/budget_11") in tokens
    assert all(value != text for _, value in tokens)
    listing = "[FILE] notes.txt      12 B\n[DIR] docs"
    assert set(result_tokens(None, listing, {"path": "/srv/root"})) >= {
        ("path", "/srv/root/notes.txt"),
        ("directory", "/srv/root/docs"),
    }
    assert ("id", "n7") in list(result_tokens(None, "Created note n7 titled 'milk'", {}))


def test_parameter_kinds_come_from_names_and_tools():
    assert describe_kind("path", {}, "read_text_file") == "file"
    assert describe_kind("path", {}, "list_directory") == "dir"
    assert describe_kind("entityName", {}, "add_observations") == "value"


def test_a_nested_name_is_filled_from_an_earlier_result_and_its_origin_recorded():
    tool = ToolInfo(
        "add_observations",
        "Add observations to an entity.",
        {
            "type": "object",
            "properties": {
                "observations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"entityName": {"type": "string"}, "contents": {"type": "array"}},
                        "required": ["entityName", "contents"],
                    },
                }
            },
            "required": ["observations"],
        },
    )
    memory = ValueMemory()
    memory.remember(0, "create_entities", {"entities": [{"name": "alice_3", "entityType": "person"}]})
    arguments, provenance = ArgumentFiller({}, random.Random(1)).fill(tool, memory)
    assert arguments["observations"][0]["entityName"] == "alice_3"
    assert provenance["observations"]["source"] == "composed"
    part = provenance["observations"]["parts"]["observations[0].entityName"]
    assert part == {"source": "result", "step": 0, "tool": "create_entities", "field": "name"}


def test_two_parameters_of_one_call_do_not_take_the_same_earlier_value():
    """`add(x, x)` reads "the sum of x and x": the second operand comes from somewhere else."""
    operand = {"type": "number"}
    schema = {"type": "object", "properties": {"a": operand, "b": operand}, "required": ["a", "b"]}
    tool = ToolInfo("add", "Add two numbers.", schema, hints={"consumes": {"a": "number", "b": "number"}})
    for seed in range(20):
        memory = ValueMemory()
        memory.remember(0, "square_root", {"result": 2.5}, {"result": "number"})
        arguments, provenance = ArgumentFiller({"number": [3, 4, 5]}, random.Random(seed)).fill(tool, memory)
        assert arguments["a"] != arguments["b"], provenance
