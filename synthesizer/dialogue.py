"""A dialogue as one typed value: its turns, each with its request, messages, variant, withheld value and ground truth.

The chain builds a `Dialogue` turn by turn (each accepted turn gives a new value; nothing edits one in
place), a `Sample` carries it, and the exporters, the evaluation tasks and `funreason quality` read its
turns instead of guessing where a turn starts from the text of its messages.  The store keeps it as it
always has (`messages` in one list, `turns` as records with their `query`), so this module is the one
place that cuts messages into turns: `Dialogue.stored` at each stored turn's request, `Dialogue.read`
for anyone's chat JSONL (at the requests its metadata names, else at every user message that neither
answers the assistant's question nor follows a system message that announces a tool), and
`Dialogue.at_requests` for a reject or a model's attempt that may stop before its last request.
"""

import itertools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

__all__ = ["Dialogue", "Turn", "Variant", "message_text", "split_think"]

Message = dict[str, Any]

_ASKS = re.compile(r"\?(?:\s+[^?.!]*[.!])?\s*$")  # ends with a question, or with one more sentence after it
_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)


class Variant(StrEnum):
    """What a turn teaches; the values are the strings stored samples and exports have always carried."""

    PLAIN = "plain"
    MISSING_PARAMETER = "missing_parameter"
    """The request leaves out a value only the user knows: the assistant must ask (`withheld` names it)."""
    MISSING_TOOL = "missing_tool"
    """The tool the turn needs (`withheld`) is offered only once the assistant says it cannot act."""
    ERROR_RECOVERY = "error_recovery"
    """A call really fails and the assistant recovers from the error."""


_VARIANTS = {variant.value: variant for variant in Variant}


@dataclass(frozen=True, slots=True)
class Turn:
    """One user request and everything up to the next: its messages, what it teaches and its ground truth."""

    request: str
    messages: tuple[Message, ...]
    """The request first, then the assistant's calls, results, questions, the user's follow-ups, announcements."""
    variant: Variant | None = Variant.PLAIN
    """None only for a turn read from someone else's data, whose records do not say."""
    withheld: str | None = None
    """missing_parameter: the free input (`tool.parameter`) the request leaves out; missing_tool: the tool."""
    target: str | None = None
    """The tool of the turn's goal call."""
    calls: tuple[dict[str, Any], ...] = ()
    """Ground truth, `{"tool", "arguments", "result"}` each, in execution order."""
    state_hash: str | None = None
    """The sandbox state hash after the ground truth of this turn and every earlier one."""
    source: str = "phrasing"
    """Who wrote the request: `model`, or `phrasing` (the tools' declared requests)."""
    advanced_tool: dict[str, Any] | None = None
    """The turn's calls composed into one tool (`synthesizer.plan.AdvancedTool.to_json()`)."""
    attempts: int = 0
    template_request: bool = False
    """The request is a description template, kept by `--allow-template-requests`."""
    rewordings: tuple[str, ...] = ()
    """Other requests asking the same, the near-duplicate pass's to choose from (`wording.rewordings`); never
    exported."""

    @property
    def follow_up(self) -> str | None:
        """The user's answer once the assistant asked (a user message after the request, not after a system one)."""
        answers = [
            message["content"]
            for previous, message in zip(self.messages, self.messages[1:], strict=False)
            if message.get("role") == "user" and previous.get("role") != "system"
        ]
        return answers[-1] if answers else None

    @property
    def announcement(self) -> list[Message]:
        """The system message that offers a withheld tool and the user's go-ahead after it (empty when none)."""
        pairs = [
            [{"role": "system", "content": previous["content"]}, {"role": "user", "content": message["content"]}]
            for previous, message in zip(self.messages, self.messages[1:], strict=False)
            if message.get("role") == "user" and previous.get("role") == "system"
        ]
        return pairs[-1] if pairs else []

    def record(self) -> dict[str, Any]:
        """The turn as the store keeps it (and reports show it): the record `Turn.from_record` reads."""
        record = {
            "query": self.request,
            "query_source": self.source,
            "variant": None if self.variant is None else str(self.variant),
            "withheld": self.withheld,
            "target": self.target,
            "advanced_tool": self.advanced_tool,
            "calls": list(self.calls),
            "state_hash": self.state_hash,
            "attempts": self.attempts,
        }
        record |= {"template_request": True} if self.template_request else {}
        return record | ({"rewordings": list(self.rewordings)} if self.rewordings else {})

    @classmethod
    def from_record(cls, record: dict[str, Any], messages: Sequence[Message]) -> "Turn":
        """A stored turn record (older stores lack some keys) with its messages; a variant that is none of
        ours (someone else's metadata) reads as unknown."""
        return cls(
            request=str(record.get("query") or (message_text(messages[0].get("content")) if messages else "")),
            messages=messages if isinstance(messages, tuple) else tuple(messages),
            variant=_VARIANTS.get(record.get("variant")),
            withheld=record.get("withheld"),
            target=record.get("target"),
            calls=tuple(record.get("calls") or ()),
            state_hash=record.get("state_hash"),
            source=record.get("query_source") or "phrasing",
            advanced_tool=record.get("advanced_tool"),
            attempts=record.get("attempts") or 0,
            template_request=bool(record.get("template_request")),
            rewordings=tuple(record.get("rewordings") or ()),
        )


@dataclass(frozen=True, slots=True)
class Dialogue:
    """A whole dialogue: what comes before its first request (a system prompt in others' data), then its turns."""

    turns: tuple[Turn, ...] = ()
    preamble: tuple[Message, ...] = ()

    @property
    def messages(self) -> list[Message]:
        """Every message in order, as a chat API reads the dialogue."""
        return list(itertools.chain(self.preamble, *(turn.messages for turn in self.turns)))

    def then(self, turn: Turn) -> "Dialogue":
        """This dialogue with `turn` after its last one."""
        return replace(self, turns=(*self.turns, turn))

    def reworded(self, index: int, request: str) -> "Dialogue":
        """The dialogue with turn `index` asked in other words: its request and the user message that says it."""
        turn = self.turns[index]
        said = {**turn.messages[0], "content": request}
        others = tuple(text for text in turn.rewordings if text != request)
        changed = replace(turn, request=request, messages=(said, *turn.messages[1:]), rewordings=others)
        return replace(self, turns=(*self.turns[:index], changed, *self.turns[index + 1 :]))

    def truncated(self, turns: int) -> "Dialogue":
        """The dialogue ending after its first `turns` turns."""
        return replace(self, turns=self.turns[:turns])

    def with_turns(self, change: Callable[[int, Turn], Turn]) -> "Dialogue":
        """Each turn replaced by `change(position, turn)`."""
        return replace(self, turns=tuple(change(number, turn) for number, turn in enumerate(self.turns)))

    def map_messages(self, change: Callable[[Sequence[Message]], Iterable[Message]]) -> "Dialogue":
        """The same turns, each one's messages (and the preamble) replaced by `change(messages)`."""
        return Dialogue(
            tuple(replace(turn, messages=tuple(change(turn.messages))) for turn in self.turns),
            tuple(change(self.preamble)),
        )

    def regrouped(self, messages: Sequence[Message]) -> "Dialogue":
        """`messages`, one for one the first of this dialogue's (changed or not), cut into the same turns."""
        start = len(self.preamble)
        turns = []
        for turn in self.turns:
            if start >= len(messages):
                break
            turns.append(replace(turn, messages=tuple(messages[start : start + len(turn.messages)])))
            start += len(turn.messages)
        return Dialogue(tuple(turns), tuple(messages[: len(self.preamble)]))

    def records(self) -> list[dict[str, Any]]:
        """Per turn the record the store keeps (`Turn.record`)."""
        return [turn.record() for turn in self.turns]

    @classmethod
    def read(cls, messages: Sequence[Message], records: Sequence[dict[str, Any]] = ()) -> "Dialogue":
        """Anyone's chat as a dialogue: cut where each record's `query` is said when every one is, in order;
        else at each user message that neither answers an assistant's question nor follows a system message.

        The records (an export's `metadata.turns`, someone's own) give the turns their variant, target and
        the rest when there is one per turn.
        """
        queries = [str(record["query"]).strip() for record in records if record.get("query")]
        starts = _request_starts(messages, queries)
        if not queries or len(starts) < len(queries):
            starts = _asked_starts(messages)
        return cls._cut(messages, starts, records if len(records) == len(starts) else None)

    @classmethod
    def at_requests(cls, messages: Sequence[Message], requests: Sequence[str]) -> "Dialogue":
        """Messages cut where each request is said, in order, as far as they hold them (a rejected dialogue, a
        model's attempt that stopped early); the turns know nothing but their request and messages."""
        return cls._cut(messages, _request_starts(messages, [request.strip() for request in requests]), None)

    @classmethod
    def stored(cls, messages: Sequence[Message], records: Sequence[dict[str, Any]]) -> "Dialogue":
        """A stored sample's dialogue: its messages cut where each turn record's `query` is said.

        Raises `ValueError` when the messages do not hold every record's request, in order.
        """
        starts = _request_starts(messages, [str(record.get("query") or "").strip() for record in records])
        if len(starts) < len(records):
            raise ValueError(f"its messages hold the requests of {len(starts)} of its {len(records)} turns in order")
        return cls._cut(messages, starts, records)

    @classmethod
    def _cut(
        cls, messages: Sequence[Message], starts: list[int], records: Sequence[dict[str, Any]] | None
    ) -> "Dialogue":
        turns = []
        for number, start in enumerate(starts):
            part = tuple(messages[start : starts[number + 1] if number + 1 < len(starts) else len(messages)])
            if records is not None:
                turns.append(Turn.from_record(records[number], part))
            else:
                turns.append(Turn(message_text(part[0].get("content")), part, variant=None))
        return cls(tuple(turns), tuple(messages[: starts[0]] if starts else messages))


def message_text(content: Any) -> str:
    """A message's content as text (content parts joined)."""
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)


def split_think(text: str) -> tuple[str, str]:
    """An assistant's text as (the reasoning of its `<think>` blocks, the words outside them, stripped)."""
    return "\n".join(_THINK.findall(text)), _THINK.sub("", text).strip()


def _request_starts(messages: Sequence[Message], queries: list[str]) -> list[int]:
    """Where the queries are said, in order, as far as the messages hold them (read for every stored sample)."""
    starts: list[int] = []
    for position, message in enumerate(messages):
        if len(starts) == len(queries):
            break
        if message.get("role") != "user":
            continue
        content = message.get("content")
        text = content if isinstance(content, str) else message_text(content)
        if text.strip() == queries[len(starts)]:
            starts.append(position)
    return starts


def _asked_starts(messages: Sequence[Message]) -> list[int]:
    """User messages that open a turn: not an answer to the assistant's question, nor after a system message."""
    starts: list[int] = []
    previous: Message | None = None
    for position, message in enumerate(messages):
        role = message.get("role")
        if role == "user" and not (starts and previous is not None and _continued_by_user(previous)):
            starts.append(position)
        if role != "tool":
            previous = message
    return starts


def _continued_by_user(previous: Message) -> bool:
    """Whether a user message after `previous` continues the turn: a go-ahead after a tool was announced, or
    the answer to the assistant's question (its words, without reasoning, end with one)."""
    if previous.get("role") == "system":
        return True
    if previous.get("role") != "assistant":
        return False
    return bool(_ASKS.search(split_think(message_text(previous.get("content")))[1]))
