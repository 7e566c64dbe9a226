"""Reading calls out of what real models write: every shape seen from small local models and from BFCL."""

import pytest

from synthesizer.toolcalls import native_call, read_reply

TOOLS = ["send_message", "get_user_id", "log_in"]
SEND = {"name": "send_message", "arguments": {"receiver_id": "USR002", "message": "Lunch at noon?"}}
LOOKUP = {"name": "get_user_id", "arguments": {"user_name": "Bob"}}


@pytest.mark.parametrize(
    ("text", "calls", "prose"),
    [
        (
            '<tool_call>{"name": "send_message", "arguments": {"receiver_id": "USR002", "message": "Lunch at noon?"}}'
            "</tool_call>",
            [SEND],
            "",
        ),
        (
            'I will look him up.\n<tool_call>\n{"name": "get_user_id", "arguments": {"user_name": "Bob"}}\n</tool_call>'
            '<tool_call>{"name": "send_message", "arguments": {"receiver_id": "USR002", "message": "Lunch at noon?"}}'
            "</tool_call>",
            [LOOKUP, SEND],
            "I will look him up.",
        ),
        (  # the 1.5B model's favourite: a fenced JSON object and nothing else
            '```json\n{"name": "get_user_id", "arguments": {"user_name": "Bob"}}\n```',
            [LOOKUP],
            "",
        ),
        (
            'Sure, here it is:\n```\n[{"name": "get_user_id", "arguments": {"user_name": "Bob"}}, '
            '{"name": "send_message", "arguments": {"receiver_id": "USR002", "message": "Lunch at noon?"}}]\n```',
            [LOOKUP, SEND],
            "Sure, here it is:",
        ),
        ('{"name": "get_user_id", "arguments": {"user_name": "Bob"}}', [LOOKUP], ""),
        ('{"function": "get_user_id", "parameters": {"user_name": "Bob"}}', [LOOKUP], ""),
        ('{"function": {"name": "get_user_id", "arguments": "{\\"user_name\\": \\"Bob\\"}"}}', [LOOKUP], ""),
        ('[{"name": "get_user_id", "parameters": {"user_name": "Bob"}}]', [LOOKUP], ""),
        (
            'Let me find Bob first: {"name": "get_user_id", "arguments": {"user_name": "Bob"}} and then write.',
            [LOOKUP],
            "Let me find Bob first:  and then write.",
        ),
        ("send_message(receiver_id='USR002', message='Lunch at noon?')", [SEND], ""),
        (
            "[get_user_id(user_name='Bob'), send_message(receiver_id='USR002', message='Lunch at noon?')]",
            [LOOKUP, SEND],
            "",
        ),
        ('```python\nget_user_id(user_name="Bob")\n```', [LOOKUP], ""),
        ("<think>Bob's id first.</think>\nget_user_id(user_name='Bob')", [LOOKUP], ""),
    ],
)
def test_calls_are_read_from_every_shape(text, calls, prose):
    reply = read_reply(text, TOOLS)
    assert reply.tool_calls == calls
    assert reply.content == prose


@pytest.mark.parametrize(
    "text",
    [
        "Your message was sent to Bob.",
        "Which user should I write to?",
        '{"message_id": "MSG0005", "sent_at": "2026-01-05T09:01:00"}',  # an answer quoting a result
        '{"name": "Bob"}',  # an object with a name is not a call unless the name is a tool's
        "The total is f(x) = 3 (rounded).",
        "```\nprint the report\n```",
    ],
)
def test_prose_and_results_are_not_calls(text):
    reply = read_reply(text, TOOLS)
    assert reply.tool_calls == [] and reply.content == text.strip()


def test_thinking_is_split_from_the_answer():
    reply = read_reply("<think>The user wants Bob's id.\nLook it up.</think>\n\nBob is USR002.", TOOLS)
    assert (reply.reasoning, reply.content) == ("The user wants Bob's id.\nLook it up.", "Bob is USR002.")


def test_a_reply_that_starts_inside_the_thinking_is_split_too():
    """Templates that open <think> in the prompt leave only the closing tag in the reply."""
    reply = read_reply("Bob first.</think>All done.", TOOLS)
    assert (reply.reasoning, reply.content) == ("Bob first.", "All done.")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('<tool_call>{"name": "send_message", "arguments": </tool_call>', "unreadable tool call"),
        ('<tool_call>{"name": "teleport", "arguments": {"to": "Bob"}}</tool_call>', "call to unknown tool 'teleport'"),
        ('```json\n{"name": "get_user_id", "arguments": "Bob"}\n```', "invalid arguments for get_user_id"),
        ('{"name": "get_user_id", "arguments": ["Bob"]}', "invalid arguments for get_user_id"),
        ("get_user_id('Bob')", "positional arguments"),
        ("get_user_id(user_name=bob_variable)", "invalid arguments for get_user_id"),
    ],
)
def test_a_call_that_cannot_be_used_says_why(text, error):
    calls = read_reply(text, TOOLS).tool_calls
    assert len(calls) == 1 and error in calls[0]["error"]


def test_native_calls_are_checked_like_written_ones():
    assert native_call("get_user_id", '{"user_name": "Bob"}', TOOLS) == LOOKUP
    assert native_call("log_in", None, TOOLS) == {"name": "log_in", "arguments": {}}
    assert "not JSON" in native_call("get_user_id", "{user_name: Bob", TOOLS)["error"]
    assert "unknown tool" in native_call("fly", "{}", TOOLS)["error"]
