"""The query-text rules: what a request must not hold, and when two requests are one; the synthesizer's filter and
`funreason quality` judge the same request the same way."""

import pytest

from simulator import ToolInfo
from synthesizer.filters import NearDuplicates, query_problems
from synthesizer.quality import measure_quality
from synthesizer.query_text import ToolText, appears, first_sentence, near_duplicates, shingles, tool_text_in

SEND = ToolInfo(
    "send_message",
    "Send a message to another user.\nThe receiver sees it in their inbox.",
    {"properties": {"receiver_id": {"type": "string"}, "message": {"type": "string"}}},
    hints={"asks": ["Tell {receiver_id}: {message}"]},
)
LOOKUP = ToolInfo(
    "getUserId",
    "Look up the id of a user by their name.",
    {"properties": {"user_name": {"type": "string"}}},
)
TOOLS = [SEND, LOOKUP]
CASES = [
    ("Tell Bob that lunch is at noon.", ()),
    ("Use send_message to tell Bob.", ("tool name", "snake_case")),
    ("Could you getuserid for Alice?", ("tool name",)),
    ("Please send a message to another user, Bob.", ("description sentence",)),
    ("Message Bob with receiver id: USR002.", ("name: value",)),
    ("Put it in weekly_notes please.", ("snake_case",)),
]


@pytest.mark.parametrize(("query", "kinds"), CASES)
def test_tool_text_in_a_request_by_kind(query, kinds):
    text = ToolText.of((tool.name, tool.description, tool.parameters) for tool in TOOLS)
    found = tool_text_in(" ".join(query.lower().split()), text)
    assert tuple(kind for kind, _, _ in found) == kinds


def test_a_value_of_the_users_own_is_no_identifier():
    assert query_problems("Open draft_v2.md for me.", TOOLS, ["draft_v2.md"]) == []
    assert query_problems("Open draft_v2.md for me.", TOOLS) == ["contains the identifier draft_v2"]


@pytest.mark.parametrize(("query", "kinds"), CASES)
def test_the_filter_and_the_measure_judge_a_request_alike(query, kinds):
    """The synthesizer drops what `funreason quality` counts as tool text (a pasted description counts for a tool
    with requests of its own only: one without can only be asked for in its description's words)."""
    record = {
        "messages": [{"role": "user", "content": query}, {"role": "assistant", "content": "Done."}],
        "tools": [
            {"type": "function", "function": tool.to_json() | {"parameters": tool.input_schema}} for tool in TOOLS
        ],
    }
    measured = measure_quality([record])["figures"]["tool_text_in_queries"]["count"]
    assert bool(query_problems(query, TOOLS)) == bool(measured) == bool(kinds)


def test_first_sentence_and_appears():
    assert first_sentence(SEND.description) == "send a message to another user"
    assert first_sentence("Do it.") == ""
    assert first_sentence("Tell whether the fuel covers a distance and how many\nlitres are missing.").endswith(
        "missing"
    )
    assert appears("pay 50.0 now", "50") and not appears("pay 0.001", "0") and not appears("user12", "user1")
    assert not appears("round -3.14 to one place", "3.14") and appears("-3.14", "-3.14"), "the user said -3.14"
    assert appears("between 10-20 km", "20") and appears("x-2", "2"), "a range's end, a difference's term: said"


def test_near_duplicates_by_shingles():
    one, other = shingles("Which support agents are there today?"), shingles("which support agents are there today")
    assert one == other and near_duplicates(one, other)
    assert not near_duplicates(one, shingles("Which tickets are open today?"))
    seen = NearDuplicates()
    seen.add("Show me the lines of todo.txt in alphabetical order.")
    assert seen.match("Show me the lines of todo.txt in alphabetical order, please.") is not None
    assert seen.match("Delete todo.txt.") is None
