"""Values for unknown servers: built from schemas, taken from results as short tokens."""

import json
import random

from simulator.records import ToolInfo
from simulator.sampler import ArgumentFiller, ValueMemory
from simulator.values import describe_kind, fits, result_tokens, schema_options, schema_value

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


def test_schema_constraints_are_honoured():
    rng = random.Random(0)
    uuid = {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}
    for schema in (
        uuid,
        {"type": "string", "pattern": "^task-[0-9]+$"},
        {"type": "string", "minLength": 30, "maxLength": 40},
        {"type": "string", "format": "email"},
        {"type": "integer", "exclusiveMinimum": 0, "maximum": 3},
        {"type": "number", "minimum": -5, "maximum": -1},
    ):
        for _ in range(20):
            value = schema_value("x", schema, rng)
            assert fits(value, schema), (schema, value)
    assert not fits("budget_11", uuid) and not fits(7, {"type": "integer", "maximum": 5})
    assert not fits("not-an-email", {"type": "string", "format": "email"})


def test_enum_like_lists_in_descriptions_are_offered():
    described = {"type": "string", "description": "New status (todo, in_progress, review, done, blocked)"}
    assert schema_options(described) == ["todo", "in_progress", "review", "done", "blocked"]
    assert schema_options({"type": "string", "description": 'One of: "working", "idle" or "done"'}) == [
        "working",
        "idle",
        "done",
    ]
    assert schema_options({"type": "string", "description": "The title (required)."}) == []


def test_json_inside_text_is_structure_and_error_texts_are_never_values():
    wrapped = {"result": json.dumps({"items": [{"id": "a1", "title": "milk"}], "total": 1})}
    tokens = result_tokens(wrapped, "", {})
    assert ("id", "a1") in tokens and ("title", "milk") in tokens
    assert all(value not in ("items", "total") for _, value in tokens)
    said = result_tokens({"status": "ok", "error": "Tag not found", "note": "Tag not found"}, "", {})
    assert all("not found" not in str(value) for _, value in said)


def _tool(name, *params, required=None):
    properties = {param: {"type": "string"} for param in params}
    return ToolInfo(name, name, {"type": "object", "properties": properties, "required": list(required or params)})


def test_an_exact_field_name_comes_first_and_an_id_only_by_entity():
    memory = ValueMemory()
    plan = {"requestId": "req-1", "tasks": [{"id": "task-1", "title": "milk"}], "message": "ids: zz_9 and q7"}
    memory.remember(0, "request_planning", plan)
    links = {"taskId": {("request_planning", "id")}}
    arguments, provenance = ArgumentFiller({}, random.Random(0)).fill(
        _tool("mark_task_done", "requestId", "taskId"), memory, links
    )
    assert arguments == {"requestId": "req-1", "taskId": "task-1"}
    assert provenance["requestId"]["field"] == "requestId"
    unlinked, _ = ArgumentFiller({}, random.Random(0)).fill(_tool("get_story", "storyId"), memory, {})
    assert unlinked["storyId"] not in ("task-1", "req-1", "zz_9", "q7")  # no story was ever shown


def test_an_id_is_used_again_and_again():
    tool = _tool("get_next_task", "requestId")
    used = []
    for seed in range(20):
        memory = ValueMemory()
        memory.remember(0, "request_planning", {"requestId": "req-1"})
        memory.note_arguments({"requestId": "req-1"})  # already sent once
        arguments, _ = ArgumentFiller({}, random.Random(seed)).fill(tool, memory)
        used.append(arguments["requestId"])
    assert used == ["req-1"] * 20


def test_who_signs_in_comes_from_the_accounts_pool_not_a_contacts_id_of_the_same_name():
    """BFCL run: "Save Isabella as a new contact. Tell Isabella ..." logged in as Isabella (add_contact's `user_id`)
    to message her: 25 of 49 messaging dialogues sent a message to the user they signed in as."""
    schema = {"type": "object", "properties": {"user_id": {"type": "string"}}, "required": ["user_id"]}
    login = ToolInfo("message_login", "Log in.", schema, hints={"consumes": {"user_id": "message_account"}})
    for seed in range(20):
        memory = ValueMemory()
        memory.remember(0, "add_contact", {"user_id": "USR005"}, {"user_id": "message_user_id"})
        arguments, provenance = ArgumentFiller({"message_account": ["USR001"]}, random.Random(seed)).fill(login, memory)
        assert arguments == {"user_id": "USR001"}, provenance


def test_a_setting_takes_the_value_the_user_picks_not_the_one_a_result_reports_now():
    """Vehicle walks set the speed to the speed a result reported (0 km/h, from `press_brake_pedal`), so no walk
    drove at 40 km/h and cruise control was never a turn in 17,000 samples.  A read takes the reported value."""
    schema = {"type": "object", "properties": {"speed_kmh": {"type": "number"}}, "required": ["speed_kmh"]}
    setter = ToolInfo("set_vehicle_speed", "Drive at a speed.", schema, hints={}, read_only=False)
    reader = ToolInfo("estimate_braking", "Braking distance at a speed.", schema, hints={}, read_only=True)
    for seed in range(20):
        memory = ValueMemory()
        memory.remember(0, "press_brake_pedal", {"speed_kmh": 0.0, "force_newtons": 900.0})
        filler = ArgumentFiller({"speed_kmh": [50, 120]}, random.Random(seed))
        arguments, provenance = filler.fill(setter, memory)
        assert arguments["speed_kmh"] in (50, 120) and provenance["speed_kmh"]["source"] == "pool"
        assert filler.fill(reader, memory)[0] == {"speed_kmh": 0.0}, "a read is asked about what the car reports"


def test_a_schema_whose_option_lists_its_types_gets_a_value():
    """ohno's tools declare `anyOf: [{"type": ["string", "null"]}, ...]`; a list of types is a type too."""
    schema = {"anyOf": [{"type": ["string", "null"], "maxLength": 40}, {"type": "null"}]}
    assert isinstance(schema_value("title", schema, random.Random(0)), str)
