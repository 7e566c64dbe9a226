"""The offline backend: rule-based and deterministic, no network, honest about being templates.

It writes queries from the trajectory with varied templates and value phrasing, and
reasoning from the graph's facts about each call (why it is needed, where each
argument comes from).  Its calls are the ground truth's, so its samples pass the
same re-execution checks as any model's; what it cannot do is be wrong on its own,
so error turns get their mistake from `mistaken_call`.
"""

import random
import re
from typing import Any

from simulator import ToolInfo
from synthesizer.plan import AdvancedTool, Call, TurnPlan
from synthesizer.roles import AssistantMessage, Backend, Roles, value_text

__all__ = ["OfflineBackend", "OfflineRoles", "goal_of", "mistaken_call", "parameter_words"]

_OPENINGS = [
    "Please {goal}",
    "Could you {goal}?",
    "I'd like you to {goal}",
    "Can you {goal}?",
    "I need to {goal}",
    "Help me {goal}",
    "{Goal}, please",
]
_LATER = ["Now", "Next", "Also", "One more thing", "After that"]
_VALUE_STYLES = ["the {name} is {value}", "use {value} as the {name}", "{name}: {value}", "with {name} {value}"]


class OfflineBackend(Backend):
    """The default backend: no network, the same inputs give the same samples."""

    model = "offline-rules-v1"

    def roles_for(self, tools: dict[str, ToolInfo], rng: random.Random) -> Roles:
        return OfflineRoles(tools, rng)

    async def aclose(self) -> None:
        """Nothing to release: no connection was opened."""


class OfflineRoles(Roles):
    """All four roles by rules and templates, seeded per dialogue."""

    model = "offline-rules-v1"

    def __init__(self, tools: dict[str, ToolInfo], rng: random.Random) -> None:
        self.tools = tools
        self.rng = rng

    async def name_tool(self, turn: TurnPlan) -> AdvancedTool:
        assert turn.advanced_tool is not None
        return turn.advanced_tool

    async def write_query(self, turn: TurnPlan, tools: list[dict[str, Any]]) -> str:
        goal = goal_of(self.tools[turn.target.tool].description)
        opening = self.rng.choice(_OPENINGS).format(goal=goal, Goal=goal[:1].upper() + goal[1:])
        if turn.index > 0:
            lowered = opening if opening.startswith("I") else opening[:1].lower() + opening[1:]
            opening = f"{self.rng.choice(_LATER)}, {lowered}"
        values = [
            self.rng.choice(_VALUE_STYLES).format(name=parameter_words(name), value=value_text(value))
            for name, value in turn.free_inputs.items()
            if name != turn.withheld
        ]
        own_steps = {call.step for call in turn.calls}
        earlier = [
            f"the {parameter_words(parameter)} from before"
            for call in turn.calls
            for parameter, origin in call.provenance.items()
            if origin.get("source") in ("result", "probe") and origin.get("step") not in own_steps
        ]
        values += list(dict.fromkeys(earlier))
        if not values:
            return opening if opening.endswith("?") else opening + "."
        joined = values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]
        return f"{opening.rstrip('?')}; {joined}."

    async def act(
        self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]], turn: TurnPlan, hint: str | None
    ) -> AssistantMessage:
        offered = {tool["function"]["name"] for tool in tools}
        since_query = _since_query(conversation, turn.query)
        executed = _executed(since_query)
        goal = goal_of(self.tools[turn.target.tool].description)
        if turn.variant == "missing_tool" and turn.target.tool not in offered:
            return AssistantMessage(
                content=f"I can't {goal} with the tools I have right now: none of them does that.",
                reasoning=f"The request is to {goal}. I looked through the available tools and none of them can.",
            )
        answered = [m for m in since_query[1:] if m["role"] == "user"]
        if turn.variant == "missing_parameter" and not answered and not executed:
            name = parameter_words(turn.withheld or "")
            return AssistantMessage(
                content=f"To {goal} I need the {name}. Which {name} should I use?",
                reasoning=f"The request is to {goal}, but it does not say the {name}, and no tool can tell me that.",
            )
        done = _matched(turn.calls, executed)
        if done == len(turn.calls):
            result = value_text(turn.target.result)
            return AssistantMessage(content=f"Done: I did what you asked ({turn.target.tool} returned {result[:300]}).")
        call = turn.calls[done]
        reasoning = self._why(turn, call, done, executed, bool(answered))
        return AssistantMessage(
            content="", reasoning=reasoning, tool_calls=[{"name": call.tool, "arguments": call.arguments}]
        )

    async def critique(self, turn: TurnPlan, attempt: list[dict[str, Any]], failure: str) -> str:
        if "state" in failure:
            return "The calls left the data different from what the request implies: check what each call changes."
        return (
            "A result the request depends on never came back: a step is missing or used an input from the wrong place."
        )

    def _why(self, turn: TurnPlan, call: Call, position: int, executed: list[dict[str, Any]], answered: bool) -> str:
        """Reasoning for a call: the plan (first call), an error just seen, why this call, where inputs come from."""
        parts = []
        failures = [e for e in executed if e["is_error"]]
        if failures and position == _matched(turn.calls, executed[: executed.index(failures[-1])]):
            parts.append(f"That call failed: {failures[-1]['result'][:200]} I'll correct it.")
        if position == 0:
            parts.append(self._plan(turn))
        parts.append(f"Now {call.tool}: it will {goal_of(self.tools[call.tool].description)}.")
        for parameter, value in call.arguments.items():
            origin = call.provenance.get(parameter, {})
            name = f"{call.tool}.{parameter}"
            if origin.get("source") in ("result", "probe"):
                source = next((c.tool for c in turn.calls if c.step == origin.get("step")), None)
                where = f"the result of {source} above" if source else "an earlier result in our conversation"
                parts.append(
                    f"The {parameter_words(parameter)} {value_text(value)} comes from {where} ({origin.get('field')})."
                )
            elif name == turn.withheld and answered:
                parts.append(f"The {parameter_words(parameter)} is {value_text(value)}, as you just told me.")
            else:
                parts.append(f"The {parameter_words(parameter)} {value_text(value)} is given in the request.")
        return " ".join(parts)

    def _plan(self, turn: TurnPlan) -> str:
        goal = goal_of(self.tools[turn.target.tool].description)
        if len(turn.calls) == 1:
            return f"The request is to {goal}; {turn.target.tool} does exactly that."
        needs = []
        for call in turn.calls[:-1]:
            feeds = [
                f"{later.tool} needs its {parameter_words(parameter)}"
                for later in turn.calls
                for parameter, origin in later.provenance.items()
                if origin.get("step") == call.step
            ]
            needs.append(f"{call.tool} first, because " + " and ".join(feeds) if feeds else f"{call.tool} first")
        steps = "; then ".join(needs)
        return f"The request is to {goal}. That takes more than one call: {steps}; then {turn.target.tool}."


def mistaken_call(turn: TurnPlan, tools: dict[str, ToolInfo], rng: random.Random) -> AssistantMessage | None:
    """A plausible first call that really fails: skip a prerequisite, or use a wrong id.

    The chain only keeps it when the sandbox really refuses it.
    """
    target = turn.target
    requires = set((tools[target.tool].hints or {}).get("requires", []))
    provided = {c for call in turn.calls[:-1] for c in (tools[call.tool].hints or {}).get("provides", [])}
    if requires & provided:
        return AssistantMessage(
            content="",
            reasoning=f"I'll go straight to {target.tool}.",
            tool_calls=[{"name": target.tool, "arguments": target.arguments}],
        )
    for call in turn.calls:
        for parameter, value in call.arguments.items():
            if isinstance(value, str) and re.search(r"\d+$", value):
                number = re.search(r"\d+$", value)
                assert number is not None
                digits = number.group()
                wrong = value[: number.start()] + str(int(digits) + rng.randint(7, 97)).zfill(len(digits))
                goal = goal_of(tools[call.tool].description)
                return AssistantMessage(
                    content="",
                    reasoning=f"I'll {goal} with {parameter_words(parameter)} {wrong}.",
                    tool_calls=[{"name": call.tool, "arguments": {**call.arguments, parameter: wrong}}],
                )
    return None


def goal_of(description: str) -> str:
    """'Send a message to a user (needs login).' -> 'send a message to a user'."""
    sentence = re.split(r"(?<=[.!?])\s", description.strip().split("\n")[0])[0]
    sentence = re.sub(r"\s*\([^)]*\)", "", sentence).rstrip(".!? ")
    return sentence[:1].lower() + sentence[1:] if sentence[1:2].islower() else sentence


def parameter_words(name: str) -> str:
    """`send_message.receiver_id` -> `receiver id`: a parameter as it reads in a sentence."""
    return name.split(".", 1)[-1].replace("_", " ")


def _since_query(conversation: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    starts = [
        index for index, message in enumerate(conversation) if message["role"] == "user" and message["content"] == query
    ]
    return conversation[starts[-1] :] if starts else conversation


def _executed(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls made in these messages, each with its result text and error flag."""
    results = {m["tool_call_id"]: m for m in messages if m["role"] == "tool"}
    executed = []
    for message in messages:
        for call in message.get("tool_calls") or []:
            result = results.get(call["id"], {})
            executed.append(
                {
                    "tool": call["function"]["name"],
                    "arguments": call["function"]["arguments"],
                    "result": result.get("content", ""),
                    "is_error": bool(result.get("is_error")),
                }
            )
    return executed


def _matched(calls: list[Call], executed: list[dict[str, Any]]) -> int:
    """How many ground-truth calls have been made successfully, in order."""
    done = 0
    for call in executed:
        if (
            done < len(calls)
            and not call["is_error"]
            and (call["tool"], call["arguments"])
            == (
                calls[done].tool,
                calls[done].arguments,
            )
        ):
            done += 1
    return done
