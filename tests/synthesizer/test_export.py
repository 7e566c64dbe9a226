"""Export formats: OpenAI chat, ShareGPT (LLaMA-Factory), BFCL multi-turn and FunReason-MT, written atomically.

Loading the files as trainers and evaluators do (datasets at its oldest supported version, LLaMA-Factory's
rules, chat templates, BFCL's checker) lives in tests/synthesizer/test_export_loading.py and tests/bfcl/.
"""

import ast
import copy
import dataclasses
import json
import os

import pytest

from synthesizer.dialogue import Dialogue
from synthesizer.errors import ExportError
from synthesizer.export import FORMATS, ExportOptions, export_samples
from synthesizer.samples import Sample


def _tool(name, description, properties, required):
    parameters = {"type": "object", "properties": properties, "required": required}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


def _call(call_id, name, **arguments):
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _result(call_id, name, content):
    return {"role": "tool", "tool_call_id": call_id, "name": name, "content": content}


LS = _tool("ls", "List a directory.", {"path": {"type": "string", "description": "Directory to list."}}, ["path"])
CAT = _tool("cat", "Print a file.", {"file_path": {"type": "string", "description": "File to print."}}, ["file_path"])
CP = _tool(
    "cp",
    "Copy a file.",
    {"source": {"type": "string"}, "destination": {"type": "string"}},
    ["source", "destination"],
)
SEND = _tool(
    "send_message",
    "Send a message to another user.",
    {"receiver_id": {"type": "string"}, "message": {"type": "string"}},
    ["receiver_id", "message"],
)
BOOK = _tool(
    "book_flight",
    "Book a flight for a user.",
    {
        "user_id": {"type": "string"},
        "origin": {"type": "string", "description": "IATA code."},
        "destination": {"type": "string", "description": "IATA code."},
        "date": {"type": "string", "format": "date"},
        "seats": {"type": "integer", "default": 1, "minimum": 1},
        "max_price": {"type": "number", "description": "Most the user will pay, in USD."},
    },
    ["user_id", "origin", "destination", "date"],
)
GET_USER = _tool("get_user", "Look up a user.", {"user_id": {"type": "string"}}, ["user_id"])

FS_SYSTEM = "You are a helpful assistant with access to a file system."


def _provenance(sample_id, env, scenario="default"):
    return dict(
        id=sample_id,
        trajectory_ids=[f"traj-{sample_id}"],
        env=env,
        scenario=scenario,
        seed=7,
        model="offline",
        verified=True,
        attempts=1,
    )


def plain_sample():
    """Two turns, reasoning, two parallel calls in the first turn."""
    messages = [
        {"role": "system", "content": FS_SYSTEM},
        {"role": "user", "content": "What is in my documents folder, and what do my notes say?"},
        {
            "role": "assistant",
            "content": "",
            "reasoning": "Two independent reads: list documents and print notes.txt.",
            "tool_calls": [_call("call_0_1", "ls", path="documents"), _call("call_0_2", "cat", file_path="notes.txt")],
        },
        _result("call_0_1", "ls", '{"entries": ["report_draft.txt", "report_final.txt"]}'),
        _result("call_0_2", "cat", "Meeting with design team on Monday\nBuy milk\n"),
        {
            "role": "assistant",
            "content": "Documents holds two reports; your notes mention a design meeting and milk.",
            "reasoning": "Both results are in; summarise them.",
        },
        {"role": "user", "content": "Copy the final report to backup.txt."},
        {
            "role": "assistant",
            "content": "",
            "reasoning": "One copy.",
            "tool_calls": [_call("call_1_1", "cp", source="documents/report_final.txt", destination="backup.txt")],
        },
        _result("call_1_1", "cp", '{"copied": true}'),
        {"role": "assistant", "content": "Done — backup.txt now holds the final report.", "reasoning": ""},
    ]
    turns = [
        {
            "query": messages[1]["content"],
            "calls": [
                {"tool": "ls", "arguments": {"path": "documents"}, "result": {"entries": ["report_draft.txt"]}},
                {"tool": "cat", "arguments": {"file_path": "notes.txt"}, "result": "Meeting with design team"},
            ],
            "variant": "plain",
            "advanced_tool": "survey_documents",
        },
        {
            "query": messages[6]["content"],
            "calls": [
                {
                    "tool": "cp",
                    "arguments": {"source": "documents/report_final.txt", "destination": "backup.txt"},
                    "result": {"copied": True},
                }
            ],
            "variant": "plain",
            "advanced_tool": "backup_report",
        },
    ]
    state = {"filesystem": {"cwd": "/home/alex", "nodes": {"/home/alex/notes.txt": {"kind": "file", "content": "x"}}}}
    return Sample(
        **_provenance("s-plain", "filesystem"),
        dialogue=Dialogue.stored(messages, turns),
        tools=[LS, CAT, CP],
        initial_state=state,
    )


def missing_parameter_sample():
    """The origin is missing: the assistant asks, the user answers within the same turn."""
    arguments = {
        "user_id": "TRV001",
        "origin": "JFK",
        "destination": "LAX",
        "date": "2026-05-15",
        "seats": 1,
        "max_price": 450.7,
    }
    messages = [
        {"role": "system", "content": "You book travel for Maya Patel (user TRV001)."},
        {"role": "user", "content": "Book me a seat to Los Angeles on 15 May 2026."},
        {"role": "assistant", "content": "Which airport are you flying from?", "reasoning": "The origin is unknown."},
        {"role": "user", "content": "From JFK."},
        {
            "role": "assistant",
            "content": "",
            "reasoning": "All parameters known now.",
            "tool_calls": [_call("call_0_1", "book_flight", **arguments)],
        },
        _result("call_0_1", "book_flight", '{"booking_id": "BK-0001", "price": 420.5}'),
        {"role": "assistant", "content": "Booked: BK-0001 for $420.50.", "reasoning": "Report the booking."},
    ]
    turns = [
        {
            "query": messages[1]["content"],
            "calls": [{"tool": "book_flight", "arguments": arguments, "result": {"booking_id": "BK-0001"}}],
            "variant": "missing_parameter",
            "advanced_tool": "book_trip",
        }
    ]
    state = {"travel": {"users": {"TRV001": {"full_name": "Maya Patel", "loyalty_points": 4120, "budget": 3000.0}}}}
    return Sample(
        **_provenance("s-param", "travel"),
        dialogue=Dialogue.stored(messages, turns),
        tools=[BOOK],
        initial_state=state,
    )


def missing_tool_sample():
    """send_message is withheld: in turn 1 the assistant says it cannot, a system message announces the tool
    and the simulated user says to go ahead, as synthesizer/chain.py writes it."""
    announcement = f"A new tool is available: {json.dumps(SEND['function'], ensure_ascii=False)}"
    messages = [
        {"role": "user", "content": "What does todo.txt say?"},
        {
            "role": "assistant",
            "content": "",
            "reasoning": "Read the file.",
            "tool_calls": [_call("call_0_0", "cat", file_path="todo.txt")],
        },
        _result("call_0_0", "cat", "TODO: review"),
        {"role": "assistant", "content": "It says “TODO: review”.", "reasoning": "Quote it."},
        {"role": "user", "content": "Send that to Dana (USR002)."},
        {
            "role": "assistant",
            "content": "I have no tool to send messages, so I cannot send it.",
            "reasoning": "No messaging tool is offered.",
        },
        {"role": "system", "content": announcement},
        {"role": "user", "content": "That tool is available now. Please go ahead."},
        {
            "role": "assistant",
            "content": "",
            "reasoning": "Use the new tool.",
            "tool_calls": [_call("call_1_0", "send_message", receiver_id="USR002", message="TODO: review")],
        },
        _result("call_1_0", "send_message", '{"sent_status": true, "message_id": 7}'),
        {"role": "assistant", "content": "Sent to Dana.", "reasoning": "Confirm."},
    ]
    turns = [
        {
            "query": messages[0]["content"],
            "calls": [{"tool": "cat", "arguments": {"file_path": "todo.txt"}, "result": "TODO: review"}],
            "variant": "plain",
            "withheld": None,
            "advanced_tool": None,
        },
        {
            "query": messages[4]["content"],
            "calls": [
                {
                    "tool": "send_message",
                    "arguments": {"receiver_id": "USR002", "message": "TODO: review"},
                    "result": {"sent_status": True, "message_id": 7},
                }
            ],
            "variant": "missing_tool",
            "withheld": "send_message",
            "advanced_tool": {"name": "notify_user", "description": "Send a text to a user.", "calls": 1},
        },
    ]
    state = {
        "filesystem": {"cwd": "/home/alex", "nodes": {"/home/alex/todo.txt": {"kind": "file", "content": "TODO"}}},
        "messaging": {"users": {"USR002": {"name": "Dana"}}, "inbox": []},
    }
    return Sample(
        **_provenance("s-tool", "filesystem+messaging"),
        dialogue=Dialogue.stored(messages, turns),
        tools=[CAT],
        initial_state=state,
        extra_tools=[SEND],
    )


def error_recovery_sample():
    """The first lookup fails with an error text; the assistant corrects the id. No system prompt."""
    messages = [
        {"role": "user", "content": "What is my loyalty tier? I am TRV002."},
        {
            "role": "assistant",
            "content": "",
            "reasoning": "Look the user up.",
            "tool_calls": [_call("call_0_1", "get_user", user_id="TRV02")],
        },
        _result("call_0_1", "get_user", "Error: NotFound: no user with id 'TRV02'"),
        {
            "role": "assistant",
            "content": "",
            "reasoning": "I dropped a zero; retry with TRV002.",
            "tool_calls": [_call("call_0_2", "get_user", user_id="TRV002")],
        },
        _result("call_0_2", "get_user", '{"user_id": "TRV002", "loyalty_tier": "silver", "budget_limit": null}'),
        {"role": "assistant", "content": "You are a silver member."},
    ]
    turns = [
        {
            "query": messages[0]["content"],
            "calls": [{"tool": "get_user", "arguments": {"user_id": "TRV002"}, "result": {"loyalty_tier": "silver"}}],
            "variant": "error_recovery",
            "advanced_tool": "loyalty_status",
        }
    ]
    state = {"travel": {"users": {"TRV002": {"full_name": "Daniel Okafor", "loyalty_points": 860, "budget": None}}}}
    return Sample(
        **_provenance("s-error", "travel"),
        dialogue=Dialogue.stored(messages, turns),
        tools=[GET_USER],
        initial_state=state,
    )


def rebuilt(sample, messages, turns):
    """The sample with other messages and turn records, read as the store reads them."""
    return dataclasses.replace(sample, dialogue=Dialogue.stored(messages, turns))


def all_samples():
    return [plain_sample(), missing_parameter_sample(), missing_tool_sample(), error_recovery_sample()]


def export(tmp_path, fmt, samples=None, **options):
    """Export (by default the four samples, as a one-shot generator) and return the parsed records."""
    out = tmp_path / f"{fmt}.jsonl"
    samples = all_samples() if samples is None else samples
    count = export_samples((sample for sample in samples), fmt, out, ExportOptions(**options))
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert count == len(records)
    assert options.get("split_turns") or count == len(samples)
    return records


def provenance_of(record):
    return {key: value for key, value in record["metadata"].items() if key not in ("turns", "steps", "part", "parts")}


def by_id(records):
    return {record["metadata"]["sample_id"]: record for record in records}


def without_reasoning(message):
    return {key: value for key, value in message.items() if key != "reasoning"}


# --- every format ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_line_is_one_json_object_with_provenance(tmp_path, fmt):
    samples = all_samples()
    records = export(tmp_path, fmt)
    lines = (tmp_path / f"{fmt}.jsonl").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and all(line.startswith("{") for line in lines[:-1])
    assert [provenance_of(record) for record in records] == [sample.provenance() for sample in samples]


@pytest.mark.parametrize("fmt", ["openai", "sharegpt", "funreason"])
def test_text_is_written_as_utf8_not_escaped(tmp_path, fmt):
    export(tmp_path, fmt)
    text = (tmp_path / f"{fmt}.jsonl").read_text(encoding="utf-8")
    assert "Done — backup.txt" in text and "\\u2014" not in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_leaves_the_samples_unchanged(tmp_path, fmt):
    samples = all_samples()
    before = copy.deepcopy(samples)
    export(tmp_path, fmt, samples, arguments="string")
    assert samples == before


def test_formats_are_the_four_documented_ones():
    assert FORMATS == ("openai", "sharegpt", "bfcl", "funreason")


def test_unknown_format_is_refused_and_writes_nothing(tmp_path):
    with pytest.raises(ExportError, match="alpaca"):
        export_samples(all_samples(), "alpaca", tmp_path / "out.jsonl")
    assert list(tmp_path.iterdir()) == []


def test_an_empty_export_writes_an_empty_file(tmp_path):
    out = tmp_path / "empty.jsonl"
    assert export_samples(iter([]), "openai", out) == 0
    assert out.read_bytes() == b""


# --- openai and funreason ---------------------------------------------------------------------------------------


def test_openai_keeps_the_dialogue_and_drops_the_reasoning(tmp_path):
    samples = all_samples()
    for sample, record in zip(samples, export(tmp_path, "openai"), strict=True):
        assert record["messages"] == [without_reasoning(message) for message in sample.messages]
        assert record["tools"] == sample.tools
        assert set(record) == {"messages", "tools", "metadata"}
    tool_record = by_id(export(tmp_path, "openai"))["s-tool"]
    assert tool_record["messages"][6] == missing_tool_sample().messages[6]  # the announcement stays where it was
    assert [tool["function"]["name"] for tool in tool_record["tools"]] == ["cat"]  # send_message comes later


def test_openai_arguments_are_dicts_unless_stringified(tmp_path):
    plain = by_id(export(tmp_path, "openai"))["s-plain"]["messages"][2]["tool_calls"]
    assert [call["function"]["arguments"] for call in plain] == [{"path": "documents"}, {"file_path": "notes.txt"}]
    strings = by_id(export(tmp_path, "openai", arguments="string"))["s-plain"]["messages"][2]["tool_calls"]
    assert [call["function"]["arguments"] for call in strings] == [
        '{"path": "documents"}',
        '{"file_path": "notes.txt"}',
    ]
    assert [call["id"] for call in strings] == ["call_0_1", "call_0_2"]


def test_arguments_that_arrive_as_json_strings_are_read_back(tmp_path):
    sample = plain_sample()
    sample.messages[7]["tool_calls"][0]["function"]["arguments"] = '{"source": "a.txt", "destination": "b.txt"}'
    call = export(tmp_path, "openai", [sample])[0]["messages"][7]["tool_calls"][0]
    assert call["function"]["arguments"] == {"source": "a.txt", "destination": "b.txt"}
    sample.messages[7]["tool_calls"][0]["function"]["arguments"] = "{source: a.txt"
    with pytest.raises(ExportError, match="not JSON"):
        export_samples([sample], "sharegpt", tmp_path / "bad.jsonl")
    assert not (tmp_path / "bad.jsonl").exists()


@pytest.mark.parametrize("fmt", ["sharegpt", "bfcl"])
def test_string_arguments_change_nothing_where_values_are_strings_already(tmp_path, fmt):
    assert export(tmp_path, fmt, arguments="string") == export(tmp_path, fmt)


def test_funreason_puts_the_reasoning_in_a_think_block(tmp_path):
    records = by_id(export(tmp_path, "funreason"))
    plain = records["s-plain"]["messages"]
    assert plain[2]["content"] == ("<think>\nTwo independent reads: list documents and print notes.txt.\n</think>\n\n")
    assert plain[2]["tool_calls"][1]["function"] == {"name": "cat", "arguments": {"file_path": "notes.txt"}}
    assert plain[5]["content"] == (
        "<think>\nBoth results are in; summarise them.\n</think>\n\n"
        "Documents holds two reports; your notes mention a design meeting and milk."
    )
    assert plain[9]["content"] == "Done — backup.txt now holds the final report."  # empty reasoning: no block
    assert records["s-error"]["messages"][-1]["content"] == "You are a silver member."  # no reasoning at all
    assert all("reasoning" not in message for record in records.values() for message in record["messages"])
    assert records["s-plain"]["messages"][1] == plain_sample().messages[1]  # user messages untouched


def test_funreason_stringifies_arguments_too(tmp_path):
    calls = by_id(export(tmp_path, "funreason", arguments="string"))["s-param"]["messages"][4]["tool_calls"]
    assert (
        json.loads(calls[0]["function"]["arguments"])
        == missing_parameter_sample().dialogue.turns[0].calls[0]["arguments"]
    )
    assert calls[0]["function"]["arguments"].startswith('{"user_id": "TRV001", "origin": "JFK"')


# --- sharegpt ---------------------------------------------------------------------------------------------------


def test_sharegpt_conversations_alternate_from_human_to_gpt(tmp_path):
    for record in export(tmp_path, "sharegpt"):
        roles = [turn["from"] for turn in record["conversations"]]
        assert roles[0] == "human" and roles[-1] == "gpt"
        assert all(role in ("human", "observation") for role in roles[0::2]), roles
        assert all(role in ("gpt", "function_call") for role in roles[1::2]), roles
        assert all(isinstance(turn["value"], str) for turn in record["conversations"])
        assert set(record) == {"conversations", "system", "tools", "metadata"}


def test_sharegpt_plain_dialogue_exactly(tmp_path):
    record = by_id(export(tmp_path, "sharegpt"))["s-plain"]
    calls = [
        {"name": "ls", "arguments": {"path": "documents"}},
        {"name": "cat", "arguments": {"file_path": "notes.txt"}},
    ]
    copy_call = {"name": "cp", "arguments": {"source": "documents/report_final.txt", "destination": "backup.txt"}}
    assert record["system"] == FS_SYSTEM
    assert record["conversations"] == [
        {"from": "human", "value": "What is in my documents folder, and what do my notes say?"},
        {
            "from": "function_call",
            "value": "<think>\nTwo independent reads: list documents and print notes.txt.\n</think>\n\n"
            + json.dumps(calls),
        },
        {
            "from": "observation",
            "value": json.dumps(
                [
                    '{"entries": ["report_draft.txt", "report_final.txt"]}',
                    "Meeting with design team on Monday\nBuy milk\n",
                ]
            ),
        },
        {
            "from": "gpt",
            "value": "<think>\nBoth results are in; summarise them.\n</think>\n\n"
            "Documents holds two reports; your notes mention a design meeting and milk.",
        },
        {"from": "human", "value": "Copy the final report to backup.txt."},
        {"from": "function_call", "value": "<think>\nOne copy.\n</think>\n\n" + json.dumps(copy_call)},
        {"from": "observation", "value": '{"copied": true}'},
        {"from": "gpt", "value": "Done — backup.txt now holds the final report."},
    ]
    assert json.loads(record["tools"]) == [LS["function"], CAT["function"], CP["function"]]


def test_sharegpt_a_tool_announced_mid_dialogue_is_an_observation_not_a_human_turn(tmp_path):
    record = by_id(export(tmp_path, "sharegpt"))["s-tool"]
    sample = missing_tool_sample()
    assert record["system"] == ""
    roles = [turn["from"] for turn in record["conversations"]]
    assert roles[4:8] == ["human", "gpt", "observation", "function_call"]
    assert record["conversations"][6] == {"from": "observation", "value": sample.messages[6]["content"]}
    assert all(turn["from"] != "human" or "A new tool" not in turn["value"] for turn in record["conversations"])
    assert "Please go ahead" not in json.dumps(record["conversations"])  # BFCL's holdout turn has no user words
    thought, _, call = record["conversations"][7]["value"].partition("</think>\n\n")
    assert thought == "<think>\nUse the new tool.\n"
    assert json.loads(call) == {
        "name": "send_message",
        "arguments": {"receiver_id": "USR002", "message": "TODO: review"},
    }
    assert [function["name"] for function in json.loads(record["tools"])] == ["cat"]  # send_message comes later


def test_sharegpt_missing_parameter_and_error_recovery(tmp_path):
    records = by_id(export(tmp_path, "sharegpt"))
    asked = records["s-param"]["conversations"]
    assert [turn["from"] for turn in asked] == ["human", "gpt", "human", "function_call", "observation", "gpt"]
    assert asked[1]["value"] == "<think>\nThe origin is unknown.\n</think>\n\nWhich airport are you flying from?"
    assert asked[2]["value"] == "From JFK."
    recovered = records["s-error"]
    assert recovered["system"] == ""
    assert recovered["conversations"][2] == {"from": "observation", "value": "Error: NotFound: no user with id 'TRV02'"}
    assert json.loads(recovered["conversations"][3]["value"].partition("</think>\n\n")[2]) == {
        "name": "get_user",
        "arguments": {"user_id": "TRV002"},
    }


def _broken(messages):
    return dataclasses.replace(plain_sample(), id="s-broken", dialogue=Dialogue.read(messages))


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        (
            [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}],
            "alternate",
        ),
        ([{"role": "assistant", "content": "hello"}, {"role": "user", "content": "hi"}], "alternate"),
        (
            [{"role": "user", "content": "a"}, {"role": "assistant", "content": "", "tool_calls": [_call("c", "ls")]}],
            "gpt",
        ),
        (
            [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "system", "content": "x"},
            ],
            "system",
        ),
        ([{"role": "system", "content": "only a prompt"}], "empty"),
    ],
    ids=["two-humans", "starts-with-gpt", "ends-with-call", "trailing-system", "no-turns"],
)
def test_sharegpt_refuses_what_cannot_alternate(tmp_path, messages, reason):
    out = tmp_path / "sharegpt.jsonl"
    with pytest.raises(ExportError, match=reason) as caught:
        export_samples([_broken(messages)], "sharegpt", out)
    assert "s-broken" in str(caught.value) and "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def _dataset_info_entry(name):
    return {
        "file_name": name,
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
        "tags": {
            "role_tag": "from",
            "content_tag": "value",
            "user_tag": "human",
            "assistant_tag": "gpt",
            "observation_tag": "observation",
            "function_tag": "function_call",
            "system_tag": "system",
        },
    }


def test_sharegpt_writes_dataset_info_and_merges_it(tmp_path):
    other = {"alpaca_en": {"file_name": "alpaca_en.json"}}
    (tmp_path / "dataset_info.json").write_text(json.dumps(other), encoding="utf-8")
    export_samples(all_samples(), "sharegpt", tmp_path / "train.jsonl")
    export_samples(all_samples()[:1], "sharegpt", tmp_path / "dev.jsonl")
    info = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    assert info == {**other, "train": _dataset_info_entry("train.jsonl"), "dev": _dataset_info_entry("dev.jsonl")}
    export_samples(all_samples(), "sharegpt", tmp_path / "train.jsonl")  # a re-export replaces its own entry only
    assert json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8")) == info


def test_only_sharegpt_writes_dataset_info(tmp_path):
    for fmt in ("openai", "bfcl", "funreason"):
        export_samples(all_samples(), fmt, tmp_path / f"{fmt}.jsonl")
    assert not (tmp_path / "dataset_info.json").exists()


def test_a_broken_dataset_info_stops_the_export_before_anything_is_written(tmp_path):
    (tmp_path / "dataset_info.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ExportError, match="dataset_info.json"):
        export_samples(all_samples(), "sharegpt", tmp_path / "train.jsonl")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dataset_info.json"]
    assert (tmp_path / "dataset_info.json").read_text(encoding="utf-8") == "{not json"


# --- bfcl -------------------------------------------------------------------------------------------------------


def test_bfcl_entry_for_the_missing_tool_dialogue(tmp_path):
    """The announcement inside turn 1 opens BFCL's holdout turn: no question, the tool released, its calls."""
    record = by_id(export(tmp_path, "bfcl"))["s-tool"]
    sample = missing_tool_sample()
    assert record == {
        "id": "multi_turn_miss_func_2",
        "question": [
            [{"role": "user", "content": "What does todo.txt say?"}],
            [{"role": "user", "content": "Send that to Dana (USR002)."}],
            [],
        ],
        "initial_config": sample.initial_state,
        "involved_classes": ["filesystem", "messaging"],
        "path": ["filesystem.cat", "messaging.send_message"],
        "ground_truth": [
            ["cat(file_path='todo.txt')"],
            [],
            ["send_message(receiver_id='USR002', message='TODO: review')"],
        ],
        "function": [CAT["function"], SEND["function"]],
        "missed_function": {"2": ["send_message"]},
        "metadata": sample.provenance()
        | {
            "turns": [
                {"index": 0, "variant": "plain", "target": "cat", "withheld": None},
                {"index": 1, "variant": "missing_tool", "target": "send_message", "withheld": "send_message"},
            ],
            "steps": [
                [["cat(file_path='todo.txt')"]],
                [],
                [["send_message(receiver_id='USR002', message='TODO: review')"]],
            ],
        },
    }


@pytest.mark.parametrize("read_first", [True, False], ids=["read-then-refused", "refused-at-once"])
def test_bfcl_calls_made_before_the_announcement_stay_before_the_holdout_turn(tmp_path, read_first):
    sample = missing_tool_sample()
    messages, turns = sample.messages, sample.dialogue.records()
    reread = {"tool": "cat", "arguments": {"file_path": "todo.txt"}, "result": "TODO: review"}
    turns[1]["calls"] = [reread, *turns[1]["calls"], reread]
    if read_first:  # the assistant re-reads the file, then finds it cannot send it
        messages[5:5] = [
            {"role": "assistant", "content": "", "tool_calls": [_call("call_1_0", "cat", file_path="todo.txt")]},
            _result("call_1_0", "cat", "TODO: review"),
        ]
    messages += [
        {"role": "user", "content": "Thanks, that is all."},
        {"role": "assistant", "content": "You are welcome."},
    ]
    turns.append({"query": "Thanks, that is all.", "calls": [], "variant": "plain"})
    sample = rebuilt(sample, messages, turns)
    record = export(tmp_path, "bfcl", [sample])[0]
    read, send = "cat(file_path='todo.txt')", "send_message(receiver_id='USR002', message='TODO: review')"
    holdout_split = [[read], [send, read]] if read_first else [[], [read, send, read]]
    assert record["ground_truth"] == [[read], *holdout_split, []]
    assert [len(question) for question in record["question"]] == [1, 1, 0, 1]
    assert record["missed_function"] == {"2": ["send_message"]}
    assert record["path"] == ["filesystem.cat", "filesystem.cat", "messaging.send_message", "filesystem.cat"]


def test_bfcl_withheld_tool_announced_between_turns_gets_an_empty_holdout_turn(tmp_path):
    sample = missing_tool_sample()
    messages = sample.messages
    announcement = messages.pop(6)
    messages.insert(4, announcement)  # before the query of turn 1 instead of inside it
    messages[1]["tool_calls"][0]["function"]["name"] = "head"  # turn 0 reached its truth another way
    sample = rebuilt(sample, messages, sample.dialogue.records())
    bfcl, sharegpt = (export(tmp_path, fmt, [sample])[0] for fmt in ("bfcl", "sharegpt"))
    assert bfcl["missed_function"] == {"1": ["send_message"]}
    assert bfcl["ground_truth"][0] == ["cat(file_path='todo.txt')"]
    assert bfcl["question"][1] == [] and bfcl["ground_truth"][1] == []
    assert bfcl["question"][2][0]["content"] == "Send that to Dana (USR002)."
    # the simulated user's "go ahead" after the refusal is a user message, so a BFCL turn of its own
    assert bfcl["ground_truth"][2:] == [[], ["send_message(receiver_id='USR002', message='TODO: review')"]]
    assert sharegpt["conversations"][4]["value"] == f"{announcement['content']}\n\nSend that to Dana (USR002)."


def test_bfcl_a_tool_announced_by_name_only_is_released_too(tmp_path):
    sample = missing_tool_sample()
    sample.messages[6]["content"] = "You may now use send_message to write to users."
    assert export(tmp_path, "bfcl", [sample])[0]["missed_function"] == {"2": ["send_message"]}


def test_bfcl_a_withheld_tool_never_announced_is_offered_from_the_start(tmp_path):
    sample = missing_tool_sample()
    messages = sample.messages
    del messages[6]
    sample = rebuilt(sample, messages, sample.dialogue.records())
    record = export(tmp_path, "bfcl", [sample])[0]
    assert record["missed_function"] == {}
    assert [len(question) for question in record["question"]] == [1, 1, 1]  # one BFCL turn per user message
    assert record["ground_truth"][1:] == [[], ["send_message(receiver_id='USR002', message='TODO: review')"]]
    assert [function["name"] for function in record["function"]] == ["cat", "send_message"]


def test_bfcl_ground_truth_and_follow_up_answers(tmp_path):
    records = by_id(export(tmp_path, "bfcl"))
    # BFCL's miss_param layout: the asking turn has no ground truth, the answer is a turn of its own
    assert records["s-param"]["id"] == "multi_turn_miss_param_1"
    assert records["s-param"]["question"] == [
        [{"role": "user", "content": "Book me a seat to Los Angeles on 15 May 2026."}],
        [{"role": "user", "content": "From JFK."}],
    ]
    assert records["s-param"]["ground_truth"] == [
        [],
        ["book_flight(user_id='TRV001', origin='JFK', destination='LAX', date='2026-05-15', seats=1, max_price=450.7)"],
    ]
    assert records["s-plain"]["ground_truth"] == [
        ["ls(path='documents')", "cat(file_path='notes.txt')"],
        ["cp(source='documents/report_final.txt', destination='backup.txt')"],
    ]
    assert records["s-plain"]["path"] == ["filesystem.ls", "filesystem.cat", "filesystem.cp"]
    assert records["s-plain"]["id"] == "multi_turn_base_0"
    assert records["s-plain"]["metadata"]["steps"][0] == [["ls(path='documents')", "cat(file_path='notes.txt')"]]
    assert records["s-plain"]["missed_function"] == {}
    assert records["s-error"]["ground_truth"] == [["get_user(user_id='TRV002')"]]  # the failed call is not truth
    assert records["s-error"]["involved_classes"] == ["travel"]
    assert records["s-error"]["metadata"]["steps"] == [[["get_user(user_id='TRV02')"], ["get_user(user_id='TRV002')"]]]


def test_bfcl_ground_truth_strings_are_python_calls(tmp_path):
    sample = plain_sample()
    arguments = {"pattern": 'it\'s "quoted"', "limit": 3, "recursive": False, "tags": ["a", "b"], "after": None}
    turns = sample.dialogue.records()
    turns[1]["calls"] = [{"tool": "find", "arguments": arguments, "result": []}]
    sample = rebuilt(sample, sample.messages, turns)
    (truth,) = by_id(export(tmp_path, "bfcl", [sample]))["s-plain"]["ground_truth"][1]
    call = ast.parse(truth, mode="eval").body
    assert call.func.id == "find"
    assert [keyword.arg for keyword in call.keywords] == list(arguments)
    assert {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords} == arguments


def test_a_stored_dialogue_whose_queries_are_not_in_its_messages_does_not_read():
    sample = plain_sample()
    turns = sample.dialogue.records()
    turns[1]["query"] = "a query nobody asked"
    with pytest.raises(ValueError, match="1 of its 2 turns"):
        Dialogue.stored(sample.messages, turns)


# --- atomic writes and errors -------------------------------------------------------------------------------------


def _failing_after_one(error):
    yield plain_sample()
    raise error


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_failure_midway_leaves_no_file(tmp_path, fmt):
    with pytest.raises(RuntimeError, match="store went away"):
        export_samples(_failing_after_one(RuntimeError("store went away")), fmt, tmp_path / "out.jsonl")
    assert list(tmp_path.iterdir()) == []


def test_a_failure_midway_keeps_the_previous_file(tmp_path):
    out = tmp_path / "train.jsonl"
    export_samples(all_samples(), "sharegpt", out)
    good = out.read_bytes()
    info = (tmp_path / "dataset_info.json").read_bytes()
    bad = _broken([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    with pytest.raises(ExportError, match="s-broken"):
        export_samples([plain_sample(), bad, error_recovery_sample()], "sharegpt", out)
    assert out.read_bytes() == good
    assert (tmp_path / "dataset_info.json").read_bytes() == info
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dataset_info.json", "train.jsonl"]


def test_a_value_that_is_not_json_is_an_export_error(tmp_path):
    sample = plain_sample()
    sample.initial_state = {"filesystem": {"created": object()}}
    with pytest.raises(ExportError, match="s-plain"):
        export_samples([sample], "bfcl", tmp_path / "bfcl.jsonl")
    assert list(tmp_path.iterdir()) == []


def test_missing_folders_are_created(tmp_path):
    out = tmp_path / "data" / "v1" / "train.jsonl"
    assert export_samples(all_samples(), "openai", out) == 4
    assert len(out.read_text(encoding="utf-8").splitlines()) == 4


def test_a_folder_that_cannot_be_made_is_an_export_error(tmp_path):
    (tmp_path / "not_a_folder").write_text("", encoding="utf-8")
    out = tmp_path / "not_a_folder" / "train.jsonl"
    with pytest.raises(ExportError) as caught:
        export_samples(all_samples(), "openai", out)
    assert str(out) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_an_export_error(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ExportError, match="locked"):
            export_samples(all_samples(), "openai", folder / "train.jsonl")
    finally:
        folder.chmod(0o700)
    assert list(folder.iterdir()) == []


def test_an_output_path_that_is_a_folder_is_an_export_error(tmp_path):
    out = tmp_path / "train.jsonl"
    out.mkdir()
    with pytest.raises(ExportError, match="train.jsonl"):
        export_samples(all_samples(), "openai", out)
    assert [path.name for path in tmp_path.iterdir()] == ["train.jsonl"] and out.is_dir()


# --- Hugging Face datasets ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arguments", ["string", "dict"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_loads_with_datasets(tmp_path, fmt, arguments):
    """Every record comes back with the same keys and values: no column padded with nulls, dropped or cast.

    Where a column holds dicts of mixed shapes (arguments, parameters, states), `datasets` reads it through
    a pandas fallback whose float parsing is not round-trip exact (huggingface/datasets#8652), so those
    are compared to 12 significant digits; stringified chat formats must come back exactly.
    """
    datasets = pytest.importorskip("datasets")
    datasets.disable_progress_bars()
    out = tmp_path / f"{fmt}.jsonl"
    export_samples(all_samples(), fmt, out, ExportOptions(arguments=arguments))
    expected = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    dataset = datasets.load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert dataset.num_rows == 4
    assert dataset.column_names == list(expected[0])
    if arguments == "string" and fmt != "bfcl":
        assert list(dataset) == expected
    else:
        assert _rounded(list(dataset)) == _rounded(expected)


def _rounded(value):
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def test_exported_file_names_are_what_was_asked(tmp_path):
    out = tmp_path / "my data.jsonl"
    export_samples(all_samples(), "openai", out)
    assert [path.name for path in tmp_path.iterdir()] == ["my data.jsonl"]
