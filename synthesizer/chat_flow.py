"""An OpenAI chat record read as turns and calls, and which call feeds which: what `funreason quality` counts on.

* **Turns** are those `synthesizer.dialogue.Dialogue.read` cuts: at the queries `metadata.turns` lists
  (as the messages hold them), or, without them, at every user message that does not answer an
  assistant question (the assistant's words end with a question, or with one short sentence after it:
  "Which user? I cannot guess it.") nor follow a system message (a tool announced mid-dialogue). Their
  variant and target come from `metadata.turns` when it has one entry per turn. A *task turn* holds at
  least one tool call; its *answer* is its last assistant message without calls; its *target* is the last
  successful call of `metadata.turns[i].target` if given, else its last successful call.
* **Failed calls**: a result that starts with "Error" (the MCP SDK's "Error executing tool ...") or
  is a JSON object with an "error" key.
* **Results that say no**: a failed call, or a result that is empty, false, or an object whose status /
  success / found (... see `_NO_KEYS`) key is false: an answer after one must not read as success.
* **Values**: the leaf strings and numbers of a call's arguments, minus trivial ones: booleans,
  None, 0 and 1, one-character strings, and any enum, const or default of the tool's schema.
  A value *appears* in a text when it occurs there case-insensitively, not inside a longer word.
* **Data flow**: a value flows from call A to a later call B when it is in A's result and in B's
  arguments, the user (or a system message) had not said it before B, and no call before A and not
  A itself sent it (an echo of an input is not a value A revealed).
* **Read-only tools**: `metadata.tool_hints` (`{tool: {"read_only", "requires", "provides"}}`, the
  hints our servers publish), else `metadata.read_only_tools`, else the built-in environment named by
  `metadata.env`, else the name: it starts with a read verb (`get_`, `list_`, `search_`, `view_`,
  `find_`, ... see `_READ_VERBS`) or is a read-only shell word (`ls`, `cat`, `pwd`, ...).
* **A state-changing call B needs an earlier one A** (A state-changing) when they share an argument
  value (same entity), when A provides a condition B requires (hints), when B's tool failed earlier
  in the turn and succeeded after A (observed), or, without hints, when A opens a session or a
  context (`log_in`, `cd`, `select_`, ... see `_CONTEXT_SETTERS`) earlier in the same turn.
  A target's *closure* is what it needs, transitively (data flow or state); two calls of a turn are
  *independent* when neither is in the other's closure. Dependence inside one message counts only
  data flow and declared requires/provides, never the name heuristics.
* **Error-recovery turns**: variant "error_recovery" in `metadata.turns`, else turns with a failed call.
* **Reasoning** is an assistant's `reasoning` or its `<think>` block; a claimed dependency is a
  sentence like "Z first, because X needs its Y", "X needs its Y from Z" or "Y comes from the result
  of Z" (X: the message's call), false when no value of Z's result that Z revealed is in X's arguments.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from synthesizer.dialogue import Dialogue as TypedDialogue
from synthesizer.dialogue import message_text, split_think
from synthesizer.errors import DatasetError
from synthesizer.query_text import ToolText, appears

__all__ = ["Call", "Dialogue", "Flows", "ToolFacts", "Turn", "feeds", "hint", "shape_problem"]

_READ_VERBS = re.compile(
    r"(get|list|search|view|find|show|read|check|count|look_?up|query|fetch|describe|estimate|calculate|compute"
    r"|convert|preview|validate|is|has|display|print|inspect|browse)_"
)
_READ_WORDS = frozenset({"ls", "cat", "pwd", "find", "grep", "wc", "sort", "head", "tail", "diff", "du", "stat"})
_CONTEXT_SETTERS = re.compile(r"(^|_)(log_?in|sign_?in|authenticate|connect|cd|chdir|select|switch|use|open)(_|$)")
_ERROR = re.compile(r"\s*error\b", re.IGNORECASE)


# --- one dialogue, read -------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One tool call, with what the dialogue had shown before it and what its result shows."""

    index: int
    message: int
    turn: int
    tool: str
    values: list[tuple[str, str]]  # (argument path, normalized value), trivial ones left out
    every_value: list[str]  # every leaf, trivial ones too (the literal check of what reasoning claims)
    result: str = ""  # lowercased text the result shows (leaves of a JSON result, else the text)
    failed: bool = False
    negative: bool = False  # failed, or a result that says no: a false status, nothing found, empty
    user_before: str = ""  # everything the user and system messages said before the call's message
    used_before: frozenset[str] = frozenset()  # every argument value of the calls in earlier messages
    small_ids: frozenset[tuple[str, str]] = frozenset()  # (parameter, value) of each id sent as 0 or 1 (`tweet_id=0`)
    made_small_ids: frozenset[tuple[str, str]] = frozenset()  # (key, value) of each id of 0 or 1 its result shows


@dataclass
class Turn:
    """One request: its query, the calls it set going and the answer that closed it."""

    index: int
    query: str
    variant: str | None = None
    target_tool: str | None = None
    calls: list[Call] = field(default_factory=list)
    answer: str | None = None
    visible_before: str = ""  # what the user saw before the query: user, system and assistant texts


@dataclass
class Dialogue:
    """One record, read: its turns, its calls in order, its reasoning blocks and the facts of its tools."""

    name: str
    turns: list[Turn]
    calls: list[Call]
    messages_with_calls: dict[int, list[Call]]
    reasoning: list[tuple[str, list[Call]]]  # (reasoning text, the calls of its message)
    tools: "ToolFacts"
    hints: dict[str, dict[str, Any]]
    all_text: str
    argument_text: str
    argument_values: frozenset[str] = frozenset()

    @classmethod
    def read(cls, record: dict[str, Any], number: int) -> "Dialogue":
        """Read record `number` (named by its sample id, else by its number) message by message."""
        metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
        name = str(metadata.get("sample_id") or metadata.get("id") or record.get("id") or f"record {number}")
        messages = record["messages"]
        schemas = _tools(record, messages)
        tools = _tool_facts(schemas)
        planned = [turn for turn in metadata.get("turns") or [] if isinstance(turn, dict)]
        typed = TypedDialogue.read(messages, planned)
        dialogue = cls(name, [], [], {}, [], tools, _hints(metadata, schemas), "", "")
        by_id: dict[str, Call] = {}
        pending: list[Call] = []
        user_text = visible = everything = ""
        read = [(message, None) for message in typed.preamble]
        read += [
            (message, turn if position == 0 else None)
            for turn in typed.turns
            for position, message in enumerate(turn.messages)
        ]
        for position, (message, opened) in enumerate(read):
            role, text = message.get("role"), message_text(message.get("content"))
            if opened is not None:
                dialogue.turns.append(
                    Turn(len(dialogue.turns), text, opened.variant, opened.target, visible_before=visible)
                )
            if role == "user":
                user_text += "\n" + text.lower()
            elif role == "system":  # a tool's schema announced mid-dialogue is no one's words (its examples are not)
                user_text += "\n" + (text[: text.find("{")] if _announced_tools(text) else text).lower()
            elif role == "assistant":
                reasoning, answer = split_think(text)
                reasoning = message_text(message.get("reasoning")) or reasoning
                calls = []
                for call in message.get("tool_calls") or []:
                    made = dialogue._call(call, position, user_text, name)
                    calls.append(made)
                    by_id[str(call.get("id"))] = made
                    pending.append(made)
                if calls:
                    dialogue.messages_with_calls[position] = calls
                elif answer and dialogue.turns:
                    dialogue.turns[-1].answer = answer
                if reasoning.strip():
                    dialogue.reasoning.append((reasoning, calls))
                text = answer
            elif role == "tool":
                made = by_id.get(str(message.get("tool_call_id"))) or (pending[0] if pending else None)
                if made is not None:
                    data = _json_or_none(text)
                    made.result, made.failed = _result_text(text, data)
                    made.made_small_ids = _small_ids(data) - made.small_ids
                    nothing_back = text.strip() in ("", "null") and not dialogue.read_only(made.tool)  # a done change
                    made.negative = made.failed or (_says_no(text) and not nothing_back)
                    if made in pending:
                        pending.remove(made)
            if role in ("user", "system", "assistant") and text:
                visible += "\n" + text.lower()
            everything += "\n" + text.lower()
        dialogue.all_text = everything
        for call in dialogue.calls:
            call.used_before = frozenset(v for c in dialogue.calls if c.message < call.message for v in c.every_value)
        dialogue.argument_values = frozenset(value for call in dialogue.calls for _, value in call.values)
        dialogue.argument_text = "\n".join(sorted(dialogue.argument_values))
        return dialogue

    def _call(self, call: dict[str, Any], position: int, user_text: str, name: str) -> Call:
        function = call.get("function") or {}
        tool = str(function.get("name") or "")
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except ValueError:
                raise DatasetError(f"{name}: arguments of a {tool} call are not JSON: {arguments[:60]!r}") from None
        trivial = self.tools.trivial.get(tool, frozenset())
        values = [(path, value) for path, value in _leaves(arguments or {}, "") if value not in trivial]
        every = [value for _, value in _leaves(arguments or {}, "", everything=True)]
        turn = self.turns[-1].index if self.turns else 0
        made = Call(len(self.calls), position, turn, tool, values, every, user_before=user_text)
        made.small_ids = _small_ids(arguments or {})
        self.calls.append(made)
        if self.turns:
            self.turns[-1].calls.append(made)
        return made

    def read_only(self, tool: str) -> bool:
        hint = self.hints.get(tool)
        if hint is not None:
            return bool(hint.get("read_only"))
        return tool in _READ_WORDS or bool(_READ_VERBS.match(tool))


# --- dependencies -------------------------------------------------------------------------------------------------


@dataclass
class Flows:
    """Which call feeds which: data flow and state prerequisites, over the successful calls."""

    dialogue: Dialogue
    edges: dict[int, set[int]] = field(default_factory=dict)  # call -> the earlier calls it needs
    users: dict[int, set[int]] = field(default_factory=dict)  # call -> the later calls that need it

    @classmethod
    def of(cls, dialogue: Dialogue) -> "Flows":
        flows = cls(dialogue)
        done = [call for call in dialogue.calls if not call.failed]
        for later in done:
            for earlier in done:
                if earlier.message < later.message and flows._needs(later, earlier):
                    flows.edges.setdefault(later.index, set()).add(earlier.index)
                    flows.users.setdefault(earlier.index, set()).add(later.index)
        return flows

    def _needs(self, later: Call, earlier: Call) -> bool:
        if feeds(earlier, later) or _takes_counter_id(earlier, later):
            return True
        dialogue = self.dialogue
        if dialogue.read_only(earlier.tool):
            return False
        if {value for _, value in earlier.values} & {value for _, value in later.values}:
            return True
        if set(hint(dialogue, earlier.tool, "provides")) & set(hint(dialogue, later.tool, "requires")):
            return True
        retried = any(
            call.failed and call.tool == later.tool and call.index < earlier.index
            for call in dialogue.turns[later.turn].calls
        )
        if retried and earlier.turn == later.turn:
            return True
        return (
            earlier.tool not in dialogue.hints
            and earlier.turn == later.turn
            and bool(_CONTEXT_SETTERS.search(earlier.tool.lower()))
        )

    def closure(self, call: Call) -> set[int]:
        """The call and every call it needs, transitively."""
        seen, stack = {call.index}, [call.index]
        while stack:
            for needed in self.edges.get(stack.pop(), ()):
                if needed not in seen:
                    seen.add(needed)
                    stack.append(needed)
        return seen


def feeds(earlier: Call, later: Call, *, everything: bool = False) -> bool:
    """`earlier` revealed a value `later` sends: in its result, neither in its own nor an earlier call's arguments,
    and not said by the user before `later` (for data flow; a claim in the reasoning is checked without that)."""
    values = later.every_value if everything else [value for _, value in later.values]
    return any(
        appears(earlier.result, value)
        and value not in earlier.used_before
        and value not in earlier.every_value
        and (everything or not appears(later.user_before, value))
        for value in values
    )


def _takes_counter_id(earlier: Call, later: Call) -> bool:
    """`later` sends an id of 0 or 1 that `earlier` made (BFCL's `post_tweet` gives tweet `id` 0, and `comment` takes
    `tweet_id=0`): too short a value to follow as text, but an id under the key it was made as, not said before."""
    return any(
        value == made and key in ("id", parameter) and not appears(later.user_before, value)
        for parameter, value in later.small_ids
        for key, made in earlier.made_small_ids
    )


def _small_ids(data: Any) -> frozenset[tuple[str, str]]:
    """(key, value) of every id of 0 or 1 anywhere in `data` (`id`, `tweet_id`; not a flag or a count)."""
    found: set[tuple[str, str]] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            small = type(value) is int and value in (0, 1)
            if small and (key == "id" or str(key).endswith("_id")):
                found.add((str(key), str(value)))
            elif isinstance(value, dict | list):
                found |= _small_ids(value)
    elif isinstance(data, list):
        for item in data:
            found |= _small_ids(item)
    return frozenset(found)


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


# --- text helpers -----------------------------------------------------------------------------------------------


def _normal(value: Any, everything: bool = False) -> str | None:
    """A leaf as the text it shows in; None when trivial (booleans, None, 0, 1, one character) unless `everything`."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower() if everything else None
    if isinstance(value, int | float):
        if value in (0, 1) and not everything:
            return None
        if abs(value) >= 1e15:  # past a float's precision: the same number as a tool's float result shows it
            return repr(float(value)) if abs(value) < 1e308 else str(value)
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    text = str(value).strip().lower()
    return text if len(text) >= 2 or (everything and text) else None


def _leaves(value: Any, path: str, everything: bool = False) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else str(key), everything)
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield from _leaves(item, f"{path}[{number}]", everything)
    else:
        normal = _normal(value, everything)
        if normal is not None:
            yield path, normal


@dataclass(frozen=True)
class ToolFacts:
    """What the checks need of a set of tool schemas, worked out once per distinct set."""

    names: frozenset[str]
    trivial: dict[str, frozenset[str]]  # tool -> enum members, consts, defaults and examples of its schema
    text: ToolText  # what of the tools a query must not repeat (names, first sentences, parameter names)


_FACTS: list[tuple[dict[str, dict[str, Any]], "ToolFacts"]] = []
"""The facts of the tool sets seen last: records of one export share a few sets, compared by equality."""


def _tool_facts(tools: dict[str, dict[str, Any]]) -> ToolFacts:
    """The facts of {name: function schema}, worked out once per distinct set (the last 32 are kept)."""
    for known, facts in _FACTS:
        if known == tools:
            return facts
    facts = _work_out_facts(tools)
    _FACTS.insert(0, (tools, facts))
    del _FACTS[32:]
    return facts


def _work_out_facts(tools: dict[str, dict[str, Any]]) -> ToolFacts:
    trivial, text = {}, []
    for name, schema in tools.items():
        fixed: set[str] = set()
        parameters: set[str] = set()
        _walk_schema(schema.get("parameters") or {}, fixed, parameters)
        trivial[name] = frozenset(fixed)
        text.append((name, str(schema.get("description") or ""), parameters))
    return ToolFacts(frozenset(tools), trivial, ToolText.of(text))


def _walk_schema(node: Any, fixed: set[str], parameters: set[str]) -> None:
    if isinstance(node, dict):
        parameters.update(node.get("properties") or {})
        for key, item in node.items():
            if key in ("enum", "const", "default", "examples"):
                fixed.update(value for _, value in _leaves(item, ""))
            else:
                _walk_schema(item, fixed, parameters)
    elif isinstance(node, list):
        for item in node:
            _walk_schema(item, fixed, parameters)


def _result_text(content: str, data: Any) -> tuple[str, bool]:
    """What a result shows (the leaves of its JSON `data`, else the text), lowercased, and whether it failed."""
    if not isinstance(data, dict | list):
        return content.lower(), bool(_ERROR.match(content))
    failed = isinstance(data, dict) and "error" in data
    return "\n".join(value for _, value in _leaves(data, "", everything=True)), failed


_NO_KEYS = re.compile(r"(^|_)(status|success|ok|succeeded|found|valid|available|exists|result)$")


def _says_no(content: str) -> bool:
    """A result that reports nothing done or found: empty, false, or a status/success key that is false."""
    try:
        data = json.loads(content)
    except ValueError:
        return not content.strip()
    if data in (None, False, "", [], {}):
        return True
    if isinstance(data, dict):
        return any(value is False and _NO_KEYS.search(str(key).lower()) for key, value in data.items())
    return False


def _tools(record: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    tools: dict[str, dict[str, Any]] = {}
    for tool in [*(record.get("tools") or []), *(record.get("extra_tools") or [])]:
        function = tool.get("function", tool) if isinstance(tool, dict) else None
        if isinstance(function, dict) and function.get("name"):
            tools[str(function["name"])] = function
    for message in messages:
        if message.get("role") == "system":
            tools.update(_announced_tools(message_text(message.get("content"))))
    return tools


def _announced_tools(text: str) -> dict[str, dict[str, Any]]:
    """A tool schema quoted in a system message ("A new tool is available: {...}")."""
    start = text.find("{")
    if start == -1:
        return {}
    try:
        schema, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return {}
    schema = schema.get("function", schema) if isinstance(schema, dict) else None
    return {str(schema["name"]): schema} if isinstance(schema, dict) and schema.get("name") else {}


def _hints(metadata: dict[str, Any], tools: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    if isinstance(metadata.get("tool_hints"), dict):
        return metadata["tool_hints"]
    if isinstance(metadata.get("read_only_tools"), list):
        read_only = set(metadata["read_only_tools"])
        return {name: {"read_only": name in read_only} for name in tools}
    return _builtin_hints(str(metadata.get("env") or ""))


@cache
def _builtin_hints(env: str) -> dict[str, dict[str, Any]]:
    """The hints of our own environments (`travel+messaging` names two) and of BFCL's classes with their shipped
    hints (`bfcl:TravelAPI`), or {} for anything else."""
    from servers import UnknownEnvironment, environment_names, get_environment
    from servers.bfcl import bfcl_environment_names

    hints: dict[str, dict[str, Any]] = {}
    for name in env.split("+"):
        if name not in environment_names() and name not in bfcl_environment_names():
            return {}
        try:
            hints.update({tool: spec.hints() for tool, spec in get_environment(name).tool_specs().items()})
        except UnknownEnvironment:  # BFCL's classes without the bfcl-eval package: measured without hints
            return {}
    return hints


def hint(dialogue: Dialogue, tool: str, key: str) -> list[str]:
    """What a tool declares under `key` ("requires", "provides"); nothing when there are no hints."""
    return list((dialogue.hints.get(tool) or {}).get(key) or ())


def shape_problem(record: Any) -> str | None:
    """Why a parsed line is not an OpenAI chat record, in a few words; None when it is one."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    messages = record.get("messages")
    if not isinstance(messages, list):
        return 'no "messages" list (is this an OpenAI chat export?)'
    for number, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant", "tool"):
            return f"message {number} has no role system, user, assistant or tool"
        for call in message.get("tool_calls") or []:
            if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
                return f"message {number}: a tool call without a function"
    return None
