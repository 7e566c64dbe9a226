"""The four LLM roles (tooling, querying, reasoning, critiquing) behind one interface, and the model backend."""

import json
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from simulator import ToolInfo
from synthesizer.errors import LLMError
from synthesizer.llm import ChatModel
from synthesizer.plan import AdvancedTool, TurnPlan

__all__ = ["AssistantMessage", "Backend", "ModelBackend", "ModelRoles", "Roles", "value_text"]


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


class ModelBackend(Backend):
    """Every role played by one chat model."""

    def __init__(self, chat: ChatModel) -> None:
        self.chat = chat
        self.model = chat.model
        self._roles = ModelRoles(chat)

    def roles_for(self, tools: dict[str, ToolInfo], rng: random.Random) -> Roles:
        return self._roles

    async def aclose(self) -> None:
        await self.chat.aclose()


class ModelRoles(Roles):
    """Every role played by a chat model behind an OpenAI-compatible endpoint."""

    def __init__(self, chat: ChatModel) -> None:
        self.chat = chat
        self.model = chat.model

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
        values = {name: value for name, value in turn.free_inputs.items() if name != turn.withheld}
        request = {
            "advanced_tool": {"name": tool.name, "description": tool.description},
            "values_to_mention": {name.split(".", 1)[1]: value for name, value in values.items()},
        }
        if turn.withheld:
            request["leave_out"] = turn.withheld.split(".", 1)[1]
        reply = await self.chat.chat(
            [
                {"role": "system", "content": _QUERYING},
                {"role": "user", "content": json.dumps(request, ensure_ascii=False)},
            ]
        )
        query = reply.content.strip()
        missing = [name for name, value in values.items() if str(value) not in query]
        if not query or missing:
            raise LLMError(f"the query writer left out {missing or 'everything'}: {query[:120]!r}")
        return query

    async def act(
        self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]], turn: TurnPlan, hint: str | None
    ) -> AssistantMessage:
        system = _REASONING + (f"\n\nA reviewer looked at your last attempt: {hint}" if hint else "")
        reply = await self.chat.chat([{"role": "system", "content": system}, *_for_endpoint(conversation)], tools)
        reasoning = reply.reasoning or (reply.content if reply.tool_calls else "")
        content = "" if reply.tool_calls and not reply.reasoning else reply.content
        return AssistantMessage(content=content, reasoning=reasoning, tool_calls=reply.tool_calls)

    async def critique(self, turn: TurnPlan, attempt: list[dict[str, Any]], failure: str) -> str:
        transcript = json.dumps(_for_endpoint(attempt), ensure_ascii=False)[:6000]
        reply = await self.chat.chat(
            [
                {"role": "system", "content": _CRITIQUING},
                {"role": "user", "content": f"Check that failed: {failure}\nAttempt: {transcript}"},
            ]
        )
        return reply.content.strip() or failure


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
    "You write what a user types to an assistant that has tools. Write ONE natural request that achieves the "
    "workflow's goal. Mention every value in values_to_mention exactly as given, but never mention the intermediate "
    "steps or tool names: the user states the goal, the assistant must work out the steps. If leave_out is given, "
    "the request must not contain that value (the user forgot it). Answer with the request only."
)
_REASONING = (
    "You are an assistant that solves the user's request with the tools provided. Think step by step about which "
    "calls are needed and where each argument comes from (the request, or an earlier tool result), then call the "
    "tools. If the request lacks a value you need, ask the user for it instead of guessing. If no tool can do what "
    "is asked, say so. When the task is done, answer briefly with the outcome."
)
_CRITIQUING = (
    "You review a failed attempt to solve a request with tools. Write a short hint (one or two sentences) that "
    "points at the mistake - a wrong or missing call, an argument from the wrong source, a missing step - without "
    "giving the answer: do not state the exact values or the exact calls."
)
