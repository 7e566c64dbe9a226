"""The four LLM roles (tooling, querying, reasoning, critiquing) behind one interface, and the model backend."""

import json
import logging
import random
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from simulator import ToolInfo
from synthesizer.filters import query_problems
from synthesizer.llm import ChatModel
from synthesizer.plan import AdvancedTool, TurnPlan
from synthesizer.wording import request_for

logger = logging.getLogger(__name__)

__all__ = ["AssistantMessage", "Backend", "ModelBackend", "ModelRoles", "Roles", "query_problem", "value_text"]


@dataclass
class AssistantMessage:
    """One assistant message: reasoning (chain of thought), visible content, tool calls."""

    content: str
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


class Roles(ABC):
    """What synthesis asks of a model; `model` names it in every record it helps make."""

    model: str

    @abstractmethod
    async def name_tool(self, turn: TurnPlan) -> AdvancedTool:
        """Tooling: name and describe the turn's advanced tool (its parameters are fixed by the plan)."""

    @abstractmethod
    async def write_query(self, turn: TurnPlan, tools: list[dict[str, Any]]) -> str:
        """Querying: the user's request against the advanced tool; intermediate steps stay implicit."""

    async def reword(self, turn: TurnPlan, tools: list[dict[str, Any]]) -> tuple[str, ...]:
        """Other requests asking what `turn.query` asks, for a run that says it too often; none by default
        (a model would be asked again for each)."""
        return ()

    @abstractmethod
    async def act(
        self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]], turn: TurnPlan, hint: str | None
    ) -> AssistantMessage:
        """Reasoning: the next assistant message, given everything said and returned so far."""

    @abstractmethod
    async def critique(self, turn: TurnPlan, attempt: list[dict[str, Any]], failure: str) -> str:
        """Critiquing: a hint that names the error without giving the answer."""


def value_text(value: Any) -> str:
    """How a value reads inside a sentence."""
    if isinstance(value, str):
        return value if value.replace("_", "").replace("-", "").replace(".", "").isalnum() else f'"{value}"'
    return json.dumps(value, ensure_ascii=False)


class Backend(ABC):
    """Where the roles come from: one per dialogue; `model` is recorded with every sample."""

    model: str

    @abstractmethod
    def roles_for(self, tools: dict[str, ToolInfo], rng: random.Random) -> Roles:
        """The roles for one dialogue over these tools, seeded for it."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections at the end of a synthesis run."""

    @property
    def key(self) -> str:
        """What makes two runs' samples the same work: part of every sample id, so a re-run skips only that."""
        return self.model

    @property
    def requests_sent(self) -> int:
        """Requests sent to a model so far (progress shows them)."""
        return 0


class ModelBackend(Backend):
    """Every role played by one chat model."""

    def __init__(self, chat: ChatModel, tools: dict[str, ToolInfo] | None = None) -> None:
        self.chat = chat
        self.model = chat.model
        self.tools = tools or {}

    def roles_for(self, tools: dict[str, ToolInfo], rng: random.Random) -> Roles:
        return ModelRoles(self.chat, tools, rng)

    async def aclose(self) -> None:
        await self.chat.aclose()

    @property
    def key(self) -> str:
        """Endpoint and model: starting the server, or pointing at another, is new work, not a finished run."""
        return self.chat.endpoint

    @property
    def requests_sent(self) -> int:
        return self.chat.usage.requests


class ModelRoles(Roles):
    """Every role played by a chat model behind an OpenAI-compatible endpoint."""

    query_attempts = 3

    def __init__(
        self, chat: ChatModel, tools: dict[str, ToolInfo] | None = None, rng: random.Random | None = None
    ) -> None:
        self.chat = chat
        self.model = chat.model
        self.tools = tools or {}
        self.rng = rng or random.Random(0)

    async def name_tool(self, turn: TurnPlan) -> AdvancedTool:
        tool = turn.advanced_tool
        assert tool is not None
        if len(tool.calls) == 1:
            return tool
        reply = await self.chat.chat(
            [
                {"role": "system", "content": _TOOLING},
                {"role": "user", "content": json.dumps({"calls": tool.calls, "description": tool.description})},
            ]
        )
        try:
            named = json.loads(reply.content)
            name, description = str(named["name"]), str(named["description"])
        except (ValueError, KeyError, TypeError):
            return tool  # the composed name stands; it never reaches a sample
        if not name.replace("_", "").isalnum():
            return tool
        return AdvancedTool(name, description, tool.parameters, tool.result, tool.calls)

    async def write_query(self, turn: TurnPlan, tools: list[dict[str, Any]]) -> str:
        tool = turn.advanced_tool
        assert tool is not None
        # What the tools' own phrasing says (raises Unphrasable; a turn that cannot withhold its value turns plain).
        draft = request_for(turn, self.tools, self.rng)
        # Only a missing-parameter turn withholds a value; a missing-tool turn withholds a tool name.
        left_out = turn.withheld if turn.variant == "missing_parameter" else None
        values = {name: value for name, value in turn.free_inputs.items() if name != left_out}
        request: dict[str, Any] = {
            "goal": _goal(tool.description),
            "draft": draft,
            "values_to_mention": {_words(name, values): value for name, value in values.items()},
        }
        if left_out:
            request["leave_out"] = _words(left_out, turn.free_inputs)
        messages = [
            {"role": "system", "content": _QUERYING},
            {"role": "user", "content": json.dumps(request, ensure_ascii=False)},
        ]
        known = [*self.tools.values(), ToolInfo(tool.name, tool.description, {"type": "object"})]
        forbidden = turn.free_inputs.get(left_out) if left_out else None
        if forbidden in values.values():
            forbidden = None  # the same value is also one the user gives elsewhere in the request
        problem = "no answer"
        for _ in range(self.query_attempts):
            reply = await self.chat.chat(messages)
            query = _unwrapped(reply.content)
            problem = query_problem(query, list(values.values()), known, forbidden)
            if problem is None:
                turn.query_source = "model"
                return query
            messages += [
                {"role": "assistant", "content": reply.content},
                {"role": "user", "content": f"That will not do: {problem}. Write the request again."},
            ]
        # the draft passed the same checks when the tools' phrasing wrote it: the turn keeps it, marked as such
        logger.info("the query writer failed %d times (last: %s); the draft stands", self.query_attempts, problem)
        return draft

    async def act(
        self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]], turn: TurnPlan, hint: str | None
    ) -> AssistantMessage:
        # The stable parts first (system text, then the tool list a template renders after it, then the
        # conversation so far) and the reviewer's hint last: a retry then repeats its first try's prompt
        # byte for byte up to the hint, which is what a server's prefix cache reuses.
        messages = [{"role": "system", "content": _REASONING}, *_for_endpoint(conversation)]
        if hint:
            messages.append({"role": "user", "content": f"{_REVIEWED} {hint}"})
        reply = await self.chat.chat(messages, tools)
        reasoning = reply.reasoning or (reply.content if reply.tool_calls else "")
        content = "" if reply.tool_calls and not reply.reasoning else reply.content
        return AssistantMessage(content=content, reasoning=reasoning, tool_calls=reply.tool_calls)

    async def critique(self, turn: TurnPlan, attempt: list[dict[str, Any]], failure: str) -> str:
        transcript = json.dumps(_for_endpoint(attempt), ensure_ascii=False)[:6000]
        reply = await self.chat.chat(
            [
                {"role": "system", "content": _CRITIQUING},
                {"role": "user", "content": f"Attempt: {transcript}\nCheck that failed: {failure}"},
            ]
        )
        return reply.content.strip() or failure


def query_problem(query: str, values: list[Any], tools: Iterable[ToolInfo], left_out: Any = None) -> str | None:
    """Why a written query is not something a user would type, or None when it will do.

    What a model writer gets wrong beyond `filters.query_problems` (tool names, identifiers,
    forms): JSON, lists of steps, the assistant's voice, a value left out or given away.
    """
    text = query.strip()
    if not text:
        return "it is empty"
    if text.startswith(("{", "[", "```")) or _is_json(text):
        return "it is JSON or code, not what a user types"
    if len(_STEP_LINE.findall(text)) >= 2 or re.search(r"\bstep 1\b", text, re.IGNORECASE):
        return "it lists steps; the user states the goal and the assistant works out the steps"
    if _ASSISTANT_VOICE.match(text):
        return "it is in the assistant's voice; write what the user says"
    if problems := query_problems(text, tools, values):
        return f"it {problems[0]}"
    missing = [value for value in values if not _mentions(text, value)]
    if missing:
        return f"it leaves out {value_text(missing[0])}, which the user must give"
    if left_out is not None and not isinstance(left_out, bool) and str(left_out) and _mentions(text, left_out):
        return f"it gives {value_text(left_out)}, which the user should have forgotten"
    return None


def _mentions(text: str, value: Any) -> bool:
    """A value appears in the words: text as written, numbers as numbers, every item of a list or object."""
    if value is None or isinstance(value, bool):
        return True  # a flag or an absent value is implied by the wording, not quoted
    if isinstance(value, list | tuple):
        return all(_mentions(text, item) for item in value)
    if isinstance(value, dict):
        return all(_mentions(text, item) for item in value.values())
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) in text or str(value) in text
    return str(value).lower() in text.lower()


_REQUEST_KEYS = {"request", "query", "question", "message", "text", "content", "prompt", "user"}
"""The one key of a JSON object a model wraps its request in; `{"user_name": "Bob"}` is no request but values."""


def _unwrapped(text: str) -> str:
    """The request itself when a model wraps it: in a code fence, quotes, or a JSON object with one text field
    (`{"request": "..."}`); anything else as written, for the checks to judge."""
    text = re.sub(r"^```\w*\s*|\s*```$", "", text.strip())
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and len(data) == 1 and next(iter(data)).lower() in _REQUEST_KEYS:
        data = next(iter(data.values()))
    if isinstance(data, str):
        return data.strip()
    return text.strip().strip('"').strip()


def _is_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict | list)
    except ValueError:
        return False


def _goal(description: str) -> str:
    """What the advanced tool achieves, without how it is composed (the user never sees the steps)."""
    return re.sub(r"\s*\(composes:[^)]*\)", "", description.split("\n")[0]).strip()


def _words(name: str, names: dict[str, Any]) -> str:
    """`send_message.receiver_id` -> `receiver id`; `send message receiver id 2` when two calls share it."""
    parameter = name.split(".")[1]
    clashes = [other for other in names if other.split(".")[1] == parameter]
    return (parameter if len(clashes) == 1 else name.replace(".", " ")).replace("_", " ")


def _for_endpoint(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our messages as the chat API takes them: no private keys, arguments as JSON strings."""
    converted = []
    for message in messages:
        message = {key: value for key, value in message.items() if key not in ("reasoning", "is_error")}
        if message.get("tool_calls"):
            message["tool_calls"] = [
                {**call, "function": {**call["function"], "arguments": json.dumps(call["function"]["arguments"])}}
                for call in message["tool_calls"]
            ]
        converted.append(message)
    return converted


_TOOLING = (
    "You name composite tools. Given the primitive calls a workflow makes and what its last call does, answer with "
    'JSON only: {"name": "snake_case_verb_noun", "description": "one sentence saying what the whole workflow does"}.'
)
_QUERYING = (
    "You write what a user types to an assistant that has tools. Write ONE natural request, one or two sentences "
    "in the user's own voice, that asks for the goal: rephrase the draft in your own words (or keep it when it "
    "reads well). Mention every value in values_to_mention exactly as given. "
    "Never list steps, never name tools or functions, never answer with JSON: the user states the goal, the "
    "assistant works out the steps. If leave_out is given, do not give that value (the user forgot it). "
    "Answer with the request only."
)
_REASONING = (
    "You are an assistant that solves the user's request with the tools provided. Think step by step about which "
    "calls are needed and where each argument comes from (the request, or an earlier tool result), then call the "
    "tools. If the request lacks a value you need, ask the user for it instead of guessing. If no tool can do what "
    "is asked, say so. When the task is done, answer briefly with the outcome."
)
_REVIEWED = "A reviewer looked at your last attempt:"
_STEP_LINE = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022])\s+", re.MULTILINE)
_ASSISTANT_VOICE = re.compile(
    r"^(?:sure|certainly|of course|okay|ok|here is|here's|i will|i'll|i can|i have|i've|let me|to do this|"
    r"as an ai|the user|user:|assistant:|request:)\b",
    re.IGNORECASE,
)
_CRITIQUING = (
    "You review a failed attempt to solve a request with tools. Write a short hint (one or two sentences) that "
    "points at the mistake - a wrong or missing call, an argument from the wrong source, a missing step - without "
    "giving the answer: do not state the exact values or the exact calls."
)
