"""Phrasing templates: the markup, and the contract that every built-in tool says how a person asks for it."""

import re

import anyio
import pytest
from mcp import Client

from servers import create_sandbox, environment_names, get_environment, serve_sandbox
from servers.environment import Environment, tool
from servers.phrasing import TemplateError, expand, parse_template, render, voices


def test_slots_optional_segments_and_choices_render():
    values = {"receiver": "Bob", "unread_only": True, "items": [1, 2, 3], "@name": "notes.txt", "total": 20.0}
    assert render('Send {receiver} a message[ saying "{message}"].', values) == "Send Bob a message."
    assert render("Show my inbox{unread_only?, unread ones only|}.", values) == "Show my inbox, unread ones only."
    assert render("Show my inbox{unread_only?, unread ones only|}.", {"unread_only": False}) == "Show my inbox."
    assert render("You have {items#} files, {@name} among them.", values) == "You have 3 files, notes.txt among them."
    assert render("the total is {total}", values) == "The total is 20"
    assert render("Open {file}", values) is None
    empty = {"messages": [], "message_ids": []}
    assert render("Your inbox holds {messages#} messages[ ({message_ids})].", empty) == "Your inbox holds 0 messages."
    assert (
        render("What is the price of {name}?", {"name": "Amazon.com Inc."}) == "What is the price of Amazon.com Inc.?"
    )
    assert render("I need the price of {name}.", {"name": "Amazon.com Inc."}) == "I need the price of Amazon.com Inc."
    assert render("the sum of {a} and {b}", {"a": 3, "b": 4}, sentence=False) == "the sum of 3 and 4"


def test_a_templates_a_before_a_vowel_sound_is_an_and_a_values_own_words_stay():
    ticket = "Log a[ {priority}-priority] ticket."
    assert render(ticket, {"priority": "urgent"}) == "Log an urgent-priority ticket."
    assert render(ticket, {"priority": "low"}) == "Log a low-priority ticket."
    assert render(ticket, {}) == "Log a ticket."
    assert render("Book a {kind} fare.", {"kind": "one-way"}) == "Book a one-way fare."  # "one" sounds "w"
    assert render("Add a {who}.", {"who": "user"}) == "Add a user."
    assert render('Post "{text}".', {"text": "a apple"}) == 'Post "a apple".'  # what the user typed is theirs


def test_nested_result_fields_and_lists_read_as_words():
    result = {"booking": {"id": "BKG1", "seats": ["1A", "1B"]}}
    assert render("Booked {booking.id}: seats {booking.seats}.", result) == "Booked BKG1: seats 1A and 1B."
    tickets = {"result": [{"id": 0, "title": "Refund"}, {"id": 1, "title": "Late flight"}]}
    said = render("You have {result#} tickets: {result.title} (ids {result.id}).", tickets)
    assert said == "You have 2 tickets: Refund and Late flight (ids 0 and 1)."  # a record list, field by field
    assert render("[Tickets: {result.status}.]", tickets) == ""  # a field no record has


@pytest.mark.parametrize("text", ["a [b [c]]", "a ]", "a [b", "{", "a {1x}", "a }"])
def test_bad_markup_is_refused_with_the_template_named(text):
    with pytest.raises(TemplateError, match="in "):
        parse_template(text)


def test_a_request_must_state_every_required_parameter():
    with pytest.raises(TemplateError, match="leaves out required"):

        class _Bad(Environment):
            @tool(asks=["Send a message"])
            def send(self, receiver: str, text: str = "") -> dict:
                return {}

    with pytest.raises(TemplateError, match="unknown parameters"):

        class _Worse(Environment):
            @tool(asks=["Send {who} a message"])
            def send(self, receiver: str) -> dict:
                return {}

    with pytest.raises(TemplateError, match="name 'the sum of {x} and {b}' names unknown parameters"):

        class _Misnamed(Environment):
            @tool(names={"result": "the sum of {x} and {b}"})
            def add(self, a: float, b: float) -> dict:
                return {}


def test_choices_expand_and_requests_are_voiced_several_ways():
    assert expand("(Show|List) {who}'s posts(, please|).") == [
        "Show {who}'s posts, please.",
        "Show {who}'s posts.",
        "List {who}'s posts, please.",
        "List {who}'s posts.",
    ]
    assert expand("Cancel it ({flag?now|later}).") == ["Cancel it ({flag?now|later})."]  # a slot's choice stays
    told = voices("Remove {user} from my contacts, please.")
    assert "Could you remove {user} from my contacts?" in told
    assert "I'd like you to remove {user} from my contacts." in told
    assert voices("Can you show me my inbox?") == voices("Show me my inbox.") == voices("Please show me my inbox.")
    assert "Quick question: what's my balance?" in voices("What's my balance?")
    assert voices('Send {to} "{text}".')[:2] == ['Send {to} "{text}".', 'Please send {to} "{text}".']
    assert not any(text.endswith('", please.') for text in voices('Send {to} "{text}".'))
    for kept in ("I need the brake held down.", "Log in. Then show my inbox.", "Let me see my inbox.", "Show[ {x}]"):
        assert voices(kept) == [kept]

    class _Voiced(Environment):
        @tool(asks=["(Show|List) my inbox."])
        def view_inbox(self) -> dict:
            return {}

    asks = _Voiced.tool_specs()["view_inbox"].asks
    assert len(asks) == len(set(asks)) > 10 and "Could you list my inbox?" in asks


@pytest.mark.parametrize("env", environment_names())
def test_every_builtin_tool_says_how_a_person_asks_and_how_the_answer_reads(env):
    """At least four requests and two answers per tool; answer slots name fields of the real output schema."""
    sandbox = create_sandbox(env)

    async def main() -> list:
        async with Client(serve_sandbox(sandbox)) as client:
            return (await client.list_tools()).tools

    tools = {tool.name: tool for tool in anyio.run(main)}
    for name, spec in get_environment(env).tool_specs().items():
        assert len(spec.asks) >= 4, f"{env}.{name}: {len(spec.asks)} requests"
        assert len(spec.answers) >= 2, f"{env}.{name}: {len(spec.answers)} answers"
        fields = set((tools[name].output_schema or {}).get("properties", {}))
        for text in spec.answers:
            roots = {slot.split(".")[0] for slot in parse_template(text).slots if not slot.startswith("@")}
            assert roots <= fields, f"{env}.{name}: answer {text!r} names {sorted(roots - fields)}, not in the result"
        assert set(spec.names) <= fields, f"{env}.{name}: names {sorted(set(spec.names) - fields)}, not in the result"
        for text in [*spec.asks, *spec.answers]:
            words = re.sub(r"\{[^}]*\}", "", text)
            assert not re.search(r"[a-z]_[a-z]", words), f"{env}.{name}: snake_case in {text!r}"
            assert name not in words, f"{env}.{name}: the tool's name in {text!r}"
