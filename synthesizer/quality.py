"""Quality figures of a function-calling dataset: would a fine-tuner want to train on it (issues 11 and 13)?

A measurement, not a filter: it reads any OpenAI chat export (ours or anyone's: `messages` with
`tool_calls`, `role: tool` results, optional `tools` and `metadata`) and counts what teaches a model
bad habits, each figure with its denominator and a few examples a person can look up.

How the data is read:

* **Turns** start at user messages. A user message is a follow-up of the turn before (not a new
  query) when `metadata.turns` lists the queries and it is not the next one, or, without them, when
  it answers an assistant question (the assistant's last text ends with "?") or follows a system
  message (a tool announced mid-dialogue). A *task turn* holds at least one tool call; its *answer*
  is its last assistant message without calls; its *target* is the last successful call of
  `metadata.turns[i].target` if given, else its last successful call.
* **Failed calls**: a result that starts with "Error" (the MCP SDK's "Error executing tool ...") or
  is a JSON object with an "error" key.
* **Values**: the leaf strings and numbers of a call's arguments, minus trivial ones: booleans,
  None, 0 and 1, one-character strings, and any enum, const or default of the tool's schema.
  A value *appears* in a text when it occurs there case-insensitively, not inside a longer word.
* **Data flow**: a value flows from call A to a later call B when it is in A's result and in B's
  arguments and the user (or a system message) had not said it before B.
* **Read-only tools**: `metadata.tool_hints` (`{tool: {"read_only", "requires", "provides"}}`, the
  hints our servers publish), else `metadata.read_only_tools`, else the built-in environment named by
  `metadata.env`, else the name: it starts with a read verb (`get_`, `list_`, `search_`, `view_`,
  `find_`, ... see `_READ_VERBS`) or is a read-only shell word (`ls`, `cat`, `pwd`, ...).
* **A state-changing call B needs an earlier one A** (A state-changing) when they share an argument
  value (same entity), when A provides a condition B requires (hints), when B's tool failed earlier
  in the turn and succeeded after A (observed), or, without hints, when A opens a session or a
  context (`log_in`, `cd`, `select_`, ... see `_CONTEXT_SETTERS`) earlier in the same turn.
"""

import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import cache
from pathlib import Path
from typing import Any

from datasketch import MinHash, MinHashLSH

from synthesizer.errors import DatasetError

__all__ = ["FIGURES", "format_quality", "measure_quality", "read_records"]

logger = logging.getLogger(__name__)

FIGURES: dict[str, tuple[str, str]] = {
    # issue 11: every call needed and grounded, parallel where independent
    "unneeded_state_changes": ("multi-call turns with a state-changing call its target does not need", "0"),
    "unused_intermediate_calls": ("intermediate calls whose result and state change feed nothing later", "0"),
    "ungrounded_values": ("argument values not in earlier user words, results or the schema", "0"),
    "altered_user_values": ("error-recovery turns with a call that changes a value the user gave", "0"),
    "calls_per_task_turn": ("calls per task turn (mean)", ">= 2.0"),
    "chained_task_turns": ("task turns whose target needs >= 2 calls of the turn (a real chain)", ">= 50%"),
    "parallel_independent_calls": ("multi-call turns with independent calls that make them in parallel", ">= 90%"),
    "dependent_calls_sharing_a_message": ("multi-call messages with a call that needs another one's result", "0"),
    # issue 13: queries, answers and reasoning in a person's voice
    "tool_text_in_queries": ("queries with a description sentence, tool name, snake_case or 'name: value'", "0"),
    "unshown_references": ("queries referring to a value the user was never shown", "0"),
    "templated_answers": ('answers starting with the template "Done:"', "0"),
    "raw_or_cut_answers": ("answers with raw JSON or cut off", "0"),
    "near_duplicate_queries": ("queries in a near-duplicate pair (Jaccard >= 0.8 on word 3-shingles)", "<= 5%"),
    "distinct_query_frames": ("distinct query openings (3 words, values and names masked) per query", ">= 80%"),
    "invented_dependencies": ("reasoning blocks naming a dependency the data flow does not have", "0"),
}
"""Figure key -> (what it counts, the goal issues 11 and 13 set for a default run)."""

_EXAMPLES = 5
_NEAR_DUPLICATE = 0.8
_READ_VERBS = re.compile(
    r"(get|list|search|view|find|show|read|check|count|look_?up|query|fetch|describe|estimate|calculate|compute"
    r"|convert|preview|validate|is|has|display|print|inspect|browse)_"
)
_READ_WORDS = frozenset({"ls", "cat", "pwd", "find", "grep", "wc", "sort", "head", "tail", "diff", "du", "stat"})
_CONTEXT_SETTERS = re.compile(r"(^|_)(log_?in|sign_?in|authenticate|connect|cd|chdir|select|switch|use|open)(_|$)")
_ERROR = re.compile(r"\s*error\b", re.IGNORECASE)
_SNAKE = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b")
_NAME_VALUE = re.compile(r"([a-z][a-z0-9_]*(?: [a-z][a-z0-9_]*){0,3})\s*:\s*\S")
_REFERENCE = re.compile(
    r"\bthe (?:[\w-]+ ){0,4}?(?:from (?:before|earlier|above)|as before|you (?:just )?(?:found|got|looked up))\b"
)
_MORE_DIGITS = re.compile(r"\.0*[1-9]")  # 0 is not in 0.001, but 50 is in 50.0
_IDENTIFIER = re.compile(r"[\d_/\-]")
_RAW_JSON = re.compile(r'"[^"\n]{1,80}"\s*:|\[\s*"[^"\n]*"\s*[,\]]|[{\[]\s*[}\]]')
_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+")
_FIRST_BECAUSE = re.compile(r"\b(\w+) first,? because (.*)")
_NEEDS = re.compile(r"\b(\w+) needs\b")
_NEEDS_FROM = re.compile(r"\b(\w+) needs (?:its |the |an? )?[\w ]{1,40}? from (?:the result of )?(\w+)")
_FROM_RESULT = re.compile(r"\b(?:from the result of|returned by|produced by|given by|depends on) (\w+)")
_QUOTED = re.compile(r'"[^"]*"')
_NAME = re.compile(r"(?<=[^.!?] )[A-Z][\w'-]*")
_TOKEN_WITH_DIGITS = re.compile(r"[^\s<>]*[\d_/@][^\s<>]*")


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSONL export, one per non-blank line; `DatasetError` names the line that is not one."""
    try:
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as error:
                    raise DatasetError(f"{path}:{number}: not JSON: {error}") from None
                problem = _shape_problem(record)
                if problem:
                    raise DatasetError(f"{path}:{number}: {problem}")
                record.setdefault("metadata", {})
                if isinstance(record["metadata"], dict):
                    record["metadata"].setdefault("line", number)
                yield record
    except OSError as error:
        raise DatasetError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text: {error.reason} at byte {error.start}") from None


def measure_quality(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Every figure of `FIGURES` over `records` (OpenAI chat records), with counts, totals and examples."""
    tally = _Tally()
    for number, record in enumerate(records, 1):
        tally.add(_Dialogue.read(record, number))
    return tally.result()


def format_quality(quality: dict[str, Any]) -> str:
    """The figures as a table a person reads, with examples under each figure that misses its goal."""
    counts = quality["counts"]
    lines = [", ".join(f"{value:,} {name.replace('_', ' ')}" for name, value in counts.items()), ""]
    lines.append(f"{'figure':<{_WIDTH}}  {'value':<34}  {'goal':<7}  ")
    for figure in quality["figures"].values():
        mark = "ok" if figure["ok"] else "MISSED"
        lines.append(f"{figure['what']:<{_WIDTH}}  {figure_value(figure):<34}  {figure['goal']:<7}  {mark}")
    for key, figure in quality["figures"].items():
        if not figure["ok"] and figure["examples"]:
            lines += ["", f"{key}:", *(f"  - {example}" for example in figure["examples"])]
    return "\n".join(lines)


def figure_value(figure: dict[str, Any]) -> str:
    """'112 / 355 (31.5%)', or the mean for a mean."""
    if "mean" in figure:
        return f"{figure['mean']:.2f} ({figure['count']:,} calls / {figure['total']:,} turns)"
    share = "n/a" if figure["share"] is None else f"{figure['share']:.1%}"
    return f"{figure['count']:,} / {figure['total']:,} ({share})"


_WIDTH = max(len(what) for what, _ in FIGURES.values())


# --- one dialogue, read -------------------------------------------------------------------------------------------


@dataclass
class _Call:
    index: int
    message: int
    turn: int
    tool: str
    values: list[tuple[str, str]]  # (argument path, normalized value), trivial ones left out
    every_value: list[str]  # every leaf, trivial ones too (the literal check of what reasoning claims)
    result: str = ""  # lowercased text the result shows (leaves of a JSON result, else the text)
    failed: bool = False
    user_before: str = ""  # everything the user and system messages said before the call's message
    used_before: frozenset[str] = frozenset()  # every argument value of the calls in earlier messages


@dataclass
class _Turn:
    index: int
    query: str
    variant: str | None = None
    target_tool: str | None = None
    calls: list[_Call] = field(default_factory=list)
    answer: str | None = None
    visible_before: str = ""  # what the user saw before the query: user, system and assistant texts


@dataclass
class _Dialogue:
    name: str
    turns: list[_Turn]
    calls: list[_Call]
    messages_with_calls: dict[int, list[_Call]]
    reasoning: list[tuple[str, list[_Call]]]  # (reasoning text, the calls of its message)
    tools: dict[str, dict[str, Any]]  # name -> function schema (description, parameters)
    hints: dict[str, dict[str, Any]]
    user_text: str
    all_text: str
    argument_text: str
    argument_values: frozenset[str] = frozenset()

    @classmethod
    def read(cls, record: dict[str, Any], number: int) -> "_Dialogue":
        metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
        name = str(metadata.get("sample_id") or metadata.get("id") or record.get("id") or f"record {number}")
        if "line" in metadata and not (metadata.get("sample_id") or metadata.get("id") or record.get("id")):
            name = f"line {metadata['line']}"
        messages = record["messages"]
        tools = _tools(record, messages)
        planned = [turn for turn in metadata.get("turns") or [] if isinstance(turn, dict)]
        queries = [str(turn["query"]).strip() for turn in planned if turn.get("query")]
        dialogue = cls(name, [], [], {}, [], tools, _hints(metadata, tools), "", "", "")
        by_id: dict[str, _Call] = {}
        pending: list[_Call] = []
        user_text = visible = everything = ""
        previous_role, previous_text = None, ""
        for position, message in enumerate(messages):
            role, text = message.get("role"), _text(message.get("content"))
            if role == "user":
                follow_up = (
                    bool(dialogue.turns) and queries and text.strip() not in queries[len(dialogue.turns) :][:1]
                ) or (not queries and (previous_role == "system" or previous_text.rstrip().endswith("?")))
                if not dialogue.turns or not follow_up:
                    dialogue.turns.append(_Turn(len(dialogue.turns), text, visible_before=visible))
                user_text += "\n" + text.lower()
            elif role == "system":
                user_text += "\n" + text.lower()
                tools.update(_announced_tools(text))
            elif role == "assistant":
                reasoning = _text(message.get("reasoning")) or "\n".join(_THINK.findall(text))
                answer = _THINK.sub("", text).strip()
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
                    made.result, made.failed = _result_text(text)
                    if made in pending:
                        pending.remove(made)
            if role in ("user", "system", "assistant") and text:
                visible += "\n" + text.lower()
            if role != "tool":
                previous_role, previous_text = role, text
            everything += "\n" + text.lower()
        dialogue.user_text, dialogue.all_text = user_text, everything
        for call in dialogue.calls:
            call.used_before = frozenset(v for c in dialogue.calls if c.message < call.message for v in c.every_value)
        dialogue.argument_values = frozenset(value for call in dialogue.calls for _, value in call.values)
        dialogue.argument_text = "\n".join(sorted(dialogue.argument_values))
        if len(planned) == len(dialogue.turns):
            for turn, plan in zip(dialogue.turns, planned, strict=True):
                turn.variant, turn.target_tool = plan.get("variant"), plan.get("target")
        return dialogue

    def _call(self, call: dict[str, Any], position: int, user_text: str, name: str) -> _Call:
        function = call.get("function") or {}
        tool = str(function.get("name") or "")
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except ValueError:
                raise DatasetError(f"{name}: arguments of a {tool} call are not JSON: {arguments[:60]!r}") from None
        trivial = _schema_values(json.dumps(self.tools.get(tool, {}).get("parameters") or {}, sort_keys=True))
        values = [(path, value) for path, value in _leaves(arguments or {}, "") if value not in trivial]
        every = [value for _, value in _leaves(arguments or {}, "", everything=True)]
        turn = self.turns[-1].index if self.turns else 0
        made = _Call(len(self.calls), position, turn, tool, values, every, user_before=user_text)
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
class _Flows:
    """Which call feeds which: data flow and state prerequisites, over the successful calls."""

    dialogue: _Dialogue
    edges: dict[int, set[int]] = field(default_factory=dict)  # call -> the earlier calls it needs
    users: dict[int, set[int]] = field(default_factory=dict)  # call -> the later calls that need it

    @classmethod
    def of(cls, dialogue: _Dialogue) -> "_Flows":
        flows = cls(dialogue)
        done = [call for call in dialogue.calls if not call.failed]
        for later in done:
            for earlier in done:
                if earlier.message < later.message and flows._needs(later, earlier):
                    flows.edges.setdefault(later.index, set()).add(earlier.index)
                    flows.users.setdefault(earlier.index, set()).add(later.index)
        return flows

    def _needs(self, later: _Call, earlier: _Call) -> bool:
        if _feeds(earlier, later):
            return True
        dialogue = self.dialogue
        if dialogue.read_only(earlier.tool):
            return False
        if {value for _, value in earlier.values} & {value for _, value in later.values}:
            return True
        if set(_hint(dialogue, earlier.tool, "provides")) & set(_hint(dialogue, later.tool, "requires")):
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

    def closure(self, call: _Call) -> set[int]:
        """The call and every call it needs, transitively."""
        seen, stack = {call.index}, [call.index]
        while stack:
            for needed in self.edges.get(stack.pop(), ()):
                if needed not in seen:
                    seen.add(needed)
                    stack.append(needed)
        return seen


def _feeds(earlier: _Call, later: _Call, *, everything: bool = False) -> bool:
    """`earlier` revealed a value `later` sends: in its result, neither in its own nor an earlier call's arguments,
    and not said by the user before `later` (for data flow; a claim in the reasoning is checked without that)."""
    values = later.every_value if everything else [value for _, value in later.values]
    return any(
        _appears(earlier.result, value)
        and value not in earlier.used_before
        and value not in earlier.every_value
        and (everything or not _appears(later.user_before, value))
        for value in values
    )


# --- the tally ----------------------------------------------------------------------------------------------------


class _Tally:
    """Counts over all dialogues; queries are kept for the near-duplicate and frame figures at the end."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.figures = {key: {"count": 0, "total": 0, "examples": []} for key in FIGURES}
        self.queries: list[tuple[str, str]] = []  # (where, text)
        self.frames: Counter[str] = Counter()

    def hit(self, key: str, where: str, detail: str, count: int = 1) -> None:
        figure = self.figures[key]
        figure["count"] += count
        if len(figure["examples"]) < _EXAMPLES:
            figure["examples"].append(f"{where}: {detail}")

    def add(self, dialogue: _Dialogue) -> None:
        self.counts["samples"] += 1
        self.counts["turns"] += len(dialogue.turns)
        self.counts["calls"] += len(dialogue.calls)
        flows = _Flows.of(dialogue)
        self._grounding(dialogue)
        for turn in dialogue.turns:
            where = f"{dialogue.name} turn {turn.index}"
            self._query(dialogue, turn, where)
            if turn.calls:
                self.counts["task_turns"] += 1
                self._turn(dialogue, flows, turn, where)
                if turn.answer is not None:
                    self._answer(turn.answer, where)
        self._messages(dialogue, where=dialogue.name)
        self._reasoning(dialogue)

    # issue 11 -------------------------------------------------------------------------------------------------------

    def _grounding(self, dialogue: _Dialogue) -> None:
        figure = self.figures["ungrounded_values"]
        for call in dialogue.calls:
            earlier = "\n".join(other.result for other in dialogue.calls if other.message < call.message)
            for path, value in call.values:
                figure["total"] += 1
                if _appears(call.user_before, value) or _appears(earlier, value):
                    continue
                later = "appears only later" if _appears(dialogue.all_text, value) else "appears nowhere"
                where = f"{dialogue.name} turn {call.turn}"
                self.hit("ungrounded_values", where, f"{call.tool}.{path}={value!r} {later}")

    def _turn(self, dialogue: _Dialogue, flows: _Flows, turn: _Turn, where: str) -> None:
        calls = turn.calls
        done = [call for call in calls if not call.failed]
        self.figures["calls_per_task_turn"]["count"] += len(calls)
        self.figures["calls_per_task_turn"]["total"] += 1
        targets = [call for call in done if call.tool == turn.target_tool] or done
        target = targets[-1] if targets else None
        needed = flows.closure(target) if target else set()
        chained = sum(call.index in needed for call in done) >= 2
        self.figures["chained_task_turns"]["total"] += 1
        if chained:
            self.figures["chained_task_turns"]["count"] += 1
        elif len(self.figures["chained_task_turns"]["examples"]) < _EXAMPLES and target:
            self.figures["chained_task_turns"]["examples"].append(f"{where}: {' -> '.join(c.tool for c in calls)}")
        if len(calls) >= 2:
            self.figures["unneeded_state_changes"]["total"] += 1
            unneeded = [c for c in done if c.index not in needed and not dialogue.read_only(c.tool)]
            if unneeded and target:
                names = ", ".join(c.tool for c in unneeded)
                self.hit("unneeded_state_changes", where, f"{names} not needed by the target {target.tool}")
        for call in done:
            if call is target:
                continue
            self.figures["unused_intermediate_calls"]["total"] += 1
            if not flows.users.get(call.index):
                self.hit("unused_intermediate_calls", where, f"nothing later uses {call.tool}")
        self._independence(flows, done, where)
        recovering = turn.variant == "error_recovery" if turn.variant else any(call.failed for call in calls)
        if recovering:
            self.figures["altered_user_values"]["total"] += 1
            altered = _altered_user_values(calls)
            if altered:
                self.hit("altered_user_values", where, altered)

    def _independence(self, flows: _Flows, done: list[_Call], where: str) -> None:
        closures = {call.index: flows.closure(call) for call in done}
        pairs = [
            (a, b)
            for i, a in enumerate(done)
            for b in done[i + 1 :]
            if a.index not in closures[b.index] and b.index not in closures[a.index]
        ]
        if not pairs:
            return
        figure = self.figures["parallel_independent_calls"]
        figure["total"] += 1
        figure["pairs"] = figure.get("pairs", 0) + len(pairs)
        apart = [(a, b) for a, b in pairs if a.message != b.message]
        figure["parallel_pairs"] = figure.get("parallel_pairs", 0) + len(pairs) - len(apart)
        if not apart:
            figure["count"] += 1
        elif len(figure["examples"]) < _EXAMPLES:
            a, b = apart[0]
            figure["examples"].append(f"{where}: {a.tool} and {b.tool} do not depend on each other but run apart")

    def _messages(self, dialogue: _Dialogue, where: str) -> None:
        figure = self.figures["dependent_calls_sharing_a_message"]
        for position, calls in dialogue.messages_with_calls.items():
            if len(calls) < 2:
                continue
            figure["total"] += 1
            earlier = "\n".join(c.result for c in dialogue.calls if c.message < position)
            for later in calls:
                producers = [
                    other.tool
                    for other in calls
                    if other is not later
                    and (
                        any(
                            _appears(other.result, value)
                            and not _appears(later.user_before, value)
                            and not _appears(earlier, value)
                            for _, value in later.values
                        )
                        or set(_hint(dialogue, other.tool, "provides")) & set(_hint(dialogue, later.tool, "requires"))
                    )
                ]
                if producers:
                    self.hit(
                        "dependent_calls_sharing_a_message",
                        f"{where} turn {later.turn}",
                        f"{later.tool} needs {producers[0]} but shares its message",
                    )
                    break

    # issue 13 -------------------------------------------------------------------------------------------------------

    def _query(self, dialogue: _Dialogue, turn: _Turn, where: str) -> None:
        query = turn.query.strip()
        lowered = " ".join(query.lower().split())
        self.counts["queries"] += 1
        self.queries.append((where, lowered))
        self.frames[_frame(query, dialogue.argument_values)] += 1
        found = _tool_text(dialogue, lowered)
        self.figures["tool_text_in_queries"]["total"] += 1
        for kind, _ in found:
            self.figures["tool_text_in_queries"].setdefault("by_kind", Counter())[kind] += 1
        if found:
            self.hit("tool_text_in_queries", where, f"{found[0][0]} {found[0][1]!r} in {query[:120]!r}")
        self.figures["unshown_references"]["total"] += 1
        if _REFERENCE.search(lowered):
            self.figures["unshown_references"]["phrase_references"] = (
                self.figures["unshown_references"].get("phrase_references", 0) + 1
            )
        unshown = _unshown_reference(dialogue, turn, lowered)
        if unshown:
            self.hit("unshown_references", where, unshown)

    def _answer(self, answer: str, where: str) -> None:
        self.counts["answers"] += 1
        for key in ("templated_answers", "raw_or_cut_answers"):
            self.figures[key]["total"] += 1
        if re.match(r"\s*done\s*:", answer, re.IGNORECASE):
            self.hit("templated_answers", where, repr(answer[:100]))
        raw = bool(_RAW_JSON.search(answer))
        cut = _looks_cut(answer)
        if raw or cut:
            kind = " and ".join(k for k, on in (("raw JSON", raw), ("cut", cut)) if on)
            figure = self.figures["raw_or_cut_answers"]
            figure["raw_json"] = figure.get("raw_json", 0) + raw
            figure["cut"] = figure.get("cut", 0) + cut
            self.hit("raw_or_cut_answers", where, f"{kind}: ...{answer[-80:]!r}")

    def _reasoning(self, dialogue: _Dialogue) -> None:
        figure = self.figures["invented_dependencies"]
        for text, calls in dialogue.reasoning:
            self.counts["reasoning_blocks"] += 1
            figure["total"] += 1
            claim = _invented_dependency(dialogue, text, calls)
            if claim:
                turn = calls[0].turn if calls else "?"
                self.hit("invented_dependencies", f"{dialogue.name} turn {turn}", claim)

    # result ---------------------------------------------------------------------------------------------------------

    def result(self) -> dict[str, Any]:
        self._near_duplicates()
        frames = self.figures["distinct_query_frames"]
        frames["count"], frames["total"] = len(self.frames), sum(self.frames.values())
        frames["examples"] = [f"{n} queries: {frame!r}" for frame, n in self.frames.most_common(_EXAMPLES) if n > 1]
        calls = self.figures["calls_per_task_turn"]
        calls["mean"] = round(calls["count"] / calls["total"], 3) if calls["total"] else 0.0
        calls["examples"] = []
        figures = {}
        for key, (what, goal) in FIGURES.items():
            figure = self.figures[key]
            share = round(figure["count"] / figure["total"], 4) if figure["total"] else None
            if "by_kind" in figure:
                figure["by_kind"] = dict(sorted(figure["by_kind"].items()))
            figures[key] = {"what": what, "goal": goal, **figure, "share": share, "ok": _meets(goal, figure, share)}
        return {"counts": {key: self.counts[key] for key in _COUNTS}, "figures": figures}

    def _near_duplicates(self) -> None:
        """MinHash LSH (datasketch) proposes pairs; each is confirmed on the exact Jaccard of word 3-shingles."""
        figure = self.figures["near_duplicate_queries"]
        figure["total"] = len(self.queries)
        index = MinHashLSH(threshold=_NEAR_DUPLICATE, num_perm=128)
        shingles = [_shingles(text) for _, text in self.queries]
        for number, grams in enumerate(shingles):
            signature = MinHash(num_perm=128)
            signature.update_batch([gram.encode() for gram in grams])
            for other in index.query(signature):
                union = len(shingles[other] | grams)
                if union and len(shingles[other] & grams) / union >= _NEAR_DUPLICATE:
                    figure.setdefault("members", set()).update((other, number))
                    figure["pairs"] = figure.get("pairs", 0) + 1
                    if len(figure["examples"]) < _EXAMPLES:
                        figure["examples"].append(
                            f"{self.queries[other][0]} ~ {self.queries[number][0]}: {self.queries[number][1][:100]!r}"
                        )
            index.insert(number, signature)
        figure["count"] = len(figure.pop("members", ()))
        figure.setdefault("pairs", 0)


_COUNTS = ("samples", "turns", "task_turns", "calls", "queries", "answers", "reasoning_blocks")


def _meets(goal: str, figure: dict[str, Any], share: float | None) -> bool:
    if goal == "0":
        return figure["count"] == 0
    if share is None and "mean" not in figure:
        return True
    number = float(goal.split()[1].rstrip("%")) / (100 if goal.endswith("%") else 1)
    value = figure.get("mean", share)
    return value >= number if goal.startswith(">=") else value <= number


# --- the checks -----------------------------------------------------------------------------------------------------


def _altered_user_values(calls: list[_Call]) -> str | None:
    """A call sends a value next to one the user gave: same tool and argument with the user's value, or a near copy."""
    for call in calls:
        for path, value in call.values:
            if _appears(call.user_before, value):
                continue
            for other in calls:
                for other_path, other_value in other.values:
                    if (
                        other.tool == call.tool
                        and other_path == path
                        and other_value != value
                        and _appears(other.user_before, other_value)
                    ):
                        return f"{call.tool}.{path}={value!r} where the user gave {other_value!r}"
            for word in set(call.user_before.split()):
                word = word.strip("\"'.,;:!?()")
                near = abs(len(word) - len(value)) <= 2 and len(word) >= 4 and word[:2] == value[:2]
                near = near and not word.isalpha()  # an identifier or a password, not a plain word
                if near and SequenceMatcher(None, word, value).ratio() >= 0.75:
                    return f"{call.tool}.{path}={value!r} where the user gave {word!r}"
    return None


def _tool_text(dialogue: _Dialogue, query: str) -> list[tuple[str, str]]:
    """What of the tools' own text a query holds: (kind, the text)."""
    found = []
    for name, schema in dialogue.tools.items():
        sentence = _first_sentence(str(schema.get("description") or ""))
        if sentence and sentence in query:
            found.append(("description sentence", sentence))
        if ("_" in name or name != name.lower()) and _appears(query, name.lower()):
            found.append(("tool name", name))
    for match in _SNAKE.finditer(query):
        if match.group(0).lower() not in dialogue.argument_text:
            found.append(("snake_case", match.group(0)))
    parameters = _parameter_phrases(json.dumps({n: s.get("parameters") for n, s in dialogue.tools.items()}))
    for match in _NAME_VALUE.finditer(query):
        words = match.group(1).split()
        for size in range(min(4, len(words)), 0, -1):
            phrase = " ".join(words[-size:])
            if phrase in parameters:
                found.append(("name: value", match.group(0)))
                break
    return found


def _unshown_reference(dialogue: _Dialogue, turn: _Turn, query: str) -> str | None:
    """A value the turn's calls take from an earlier turn's results that no user-visible text showed.

    Counted when the query refers to it ("the file name from before") or says it although it is an
    identifier (digits, '-', '_' or '/') the user could only know from a hidden result.
    """
    hidden = "\n".join(call.result for call in dialogue.calls if call.turn < turn.index)
    referring = bool(_REFERENCE.search(query))
    for call in turn.calls:
        for path, value in call.values:
            if not _appears(hidden, value) or _appears(turn.visible_before, value):
                continue
            said = _appears(query, value)
            if said and _IDENTIFIER.search(value):
                return f"the user says {value!r}, which only a hidden result showed"
            own = any(_appears(c.result, value) for c in turn.calls if c.message < call.message)
            if referring and not said and not own:
                return f"{call.tool}.{path}={value!r} is referred to but was never shown to the user"
    return None


def _looks_cut(answer: str) -> bool:
    """Ends in an ellipsis or a bare word, or leaves a bracket or quote open."""
    text = answer.rstrip()
    if text.endswith(("...", "…")) or text[-1:].isalnum():
        return True
    return text.count("{") != text.count("}") or text.count("[") != text.count("]") or text.count('"') % 2 == 1


def _invented_dependency(dialogue: _Dialogue, text: str, calls: list[_Call]) -> str | None:
    """A sentence says one tool feeds another, and no value of the first's result is in the second's arguments."""
    names = set(dialogue.tools) | {call.tool for call in dialogue.calls}
    for sentence in _SENTENCE_END.split(text):
        claims: list[tuple[str, str]] = []  # (producer, consumer)
        first = _FIRST_BECAUSE.search(sentence)
        if first:
            claims += [(first.group(1), consumer) for consumer in _NEEDS.findall(first.group(2))]
        claims += [(producer, consumer) for consumer, producer in _NEEDS_FROM.findall(sentence)]
        claims += [(producer, call.tool) for producer in _FROM_RESULT.findall(sentence) for call in calls]
        for producer, consumer in claims:
            if (
                producer in names
                and consumer in names
                and producer != consumer
                and not _flows(dialogue, producer, consumer)
            ):
                return f"says {consumer} needs {producer}: {sentence.strip()[:120]!r}"
    return None


def _flows(dialogue: _Dialogue, producer: str, consumer: str) -> bool:
    return any(
        earlier.tool == producer
        and later.tool == consumer
        and earlier.message < later.message
        and _feeds(earlier, later, everything=True)
        for later in dialogue.calls
        for earlier in dialogue.calls
    )


# --- text helpers -----------------------------------------------------------------------------------------------


def _appears(text: str, value: str) -> bool:
    """`value` (lowercased) occurs in `text` (lowercased), not inside a longer word or number (0 is not in 0.001)."""
    start = text.find(value)
    while start != -1:
        end = start + len(value)
        before = text[max(start - 2, 0) : start].rjust(2)
        after = text[end : end + 2].ljust(2)
        joined_before = value[0].isalnum() and (
            before[1].isalnum() or (value[0].isdigit() and before == f"{before[0]}." and before[0].isdigit())
        )
        joined_after = value[-1].isalnum() and (
            after[0].isalnum() or (value[-1].isdigit() and bool(_MORE_DIGITS.match(text, end)))
        )
        if not joined_before and not joined_after:
            return True
        start = text.find(value, start + 1)
    return False


def _normal(value: Any, everything: bool = False) -> str | None:
    """A leaf as the text it shows in; None when trivial (booleans, None, 0, 1, one character) unless `everything`."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower() if everything else None
    if isinstance(value, int | float):
        if value in (0, 1) and not everything:
            return None
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


@cache
def _schema_values(parameters: str) -> frozenset[str]:
    """Every enum member, const and default of a parameters schema (given as JSON text, so it can be cached)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("enum", "const", "default", "examples"):
                if key in node:
                    found.update(value for _, value in _leaves(node[key], ""))
            for key, item in node.items():
                if key not in ("enum", "const", "default", "examples"):
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(parameters))
    return frozenset(found)


@cache
def _parameter_phrases(parameters: str) -> frozenset[str]:
    """Parameter names as a query might spell them: `dir_name` and `dir name`."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for name, item in (node.get("properties") or {}).items():
                found.update({name.lower(), name.lower().replace("_", " ")})
                walk(item)
            for key, item in node.items():
                if key != "properties":
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(parameters))
    return frozenset(found)


@cache
def _first_sentence(description: str) -> str:
    """A description's first sentence, lowercased, without its full stop; empty when under three words."""
    sentence = re.split(r"(?<=[.!?])\s", description.strip(), maxsplit=1)[0].rstrip(".!? ").lower()
    sentence = " ".join(sentence.split())
    return sentence if len(sentence.split()) >= 3 else ""


def _frame(query: str, values: frozenset[str]) -> str:
    """How a query opens: its first three words once values and names are masked (issue 13 counted openings)."""
    masked = _QUOTED.sub("<v>", query)
    masked = _NAME.sub("<name>", masked).lower()
    for value in sorted(values, key=len, reverse=True):
        if _appears(masked, value):
            masked = masked.replace(value, "<v>")
    return " ".join(_TOKEN_WITH_DIGITS.sub("<v>", " ".join(masked.split())).split()[:3])


def _shingles(text: str) -> set[str]:
    words = re.findall(r"\w+", text)
    return {" ".join(words[i : i + 3]) for i in range(max(len(words) - 2, 1))}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):  # content parts
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _result_text(content: str) -> tuple[str, bool]:
    """What a result shows (the leaves of a JSON result, else the text), lowercased, and whether it failed."""
    try:
        data = json.loads(content)
    except ValueError:
        return content.lower(), bool(_ERROR.match(content))
    failed = isinstance(data, dict) and "error" in data
    shown = (
        "\n".join(value for _, value in _leaves(data, "", everything=True))
        if isinstance(data, dict | list)
        else content.lower()
    )
    return shown, failed


def _tools(record: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    tools: dict[str, dict[str, Any]] = {}
    for tool in [*(record.get("tools") or []), *(record.get("extra_tools") or [])]:
        function = tool.get("function", tool) if isinstance(tool, dict) else None
        if isinstance(function, dict) and function.get("name"):
            tools[str(function["name"])] = function
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
    """The hints of our own environments (`travel+messaging` names two), or {} for anything else."""
    from servers import environment_names, get_environment

    hints: dict[str, dict[str, Any]] = {}
    for name in env.split("+"):
        if name not in environment_names():
            return {}
        hints.update({tool: spec.hints() for tool, spec in get_environment(name).tool_specs().items()})
    return hints


def _hint(dialogue: _Dialogue, tool: str, key: str) -> list[str]:
    return list((dialogue.hints.get(tool) or {}).get(key) or ())


def _shape_problem(record: Any) -> str | None:
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
