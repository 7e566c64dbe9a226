"""The offline backend: rule-based and deterministic, no network, honest about being templates.

Requests and answers come from the phrasing each tool declares (`synthesizer.wording`);
reasoning comes from the turn's real data flow: which values the user gave, which a call
must look up and for which later call, which state a call needs.  Its calls are the ground
truth's, made batch by batch (independent calls together), so its samples pass the same
re-execution checks as any model's; what it cannot do is be wrong on its own, so error
turns get their mistake from `mistaken_call`.
"""

import random
from typing import Any

from servers.phrasing import value_words
from simulator import ToolInfo
from synthesizer.plan import AdvancedTool, Call, TurnPlan
from synthesizer.roles import AssistantMessage, Backend, Roles
from synthesizer.wording import answer_for, parameter_words, request_for, rewordings

__all__ = ["OfflineBackend", "OfflineRoles", "mistaken_call", "parameter_words"]

_OPENERS = [
    "{target} is what does it.",
    "{target} is the call for this.",
    "For this I need {target}.",
    "This comes down to {target}.",
    "{target} is the tool that does this.",
    "{target} does exactly what is asked.",
    "What is asked is what {target} does.",
    "I can do this with {target}.",
]
"""How the reasoning of a turn opens: each names the turn's target within its first words, so no opening is
shared by many turns."""
_REWORDINGS = 6
"""Other wordings kept per request, for the near-duplicate pass to choose from (`wording.rewordings`)."""
_NO_TOOL = [
    "None of the tools I have can do that yet, so I can't help with it right now.",
    "I'm sorry, I don't have a tool for that at the moment.",
    "I can't do that with the tools available to me right now.",
]
_ASK = [
    "I need the {words} to do that. What is it?",
    "Which {words} should I use?",
    "Before I go ahead: what's the {words}?",
    "Could you tell me the {words}? I can't do this without it.",
]


class OfflineBackend(Backend):
    """The default backend: no network, the same inputs give the same samples."""

    model = "offline-rules-v2"

    def roles_for(self, tools: dict[str, ToolInfo], rng: random.Random) -> Roles:
        return OfflineRoles(tools, rng)

    async def aclose(self) -> None:
        """Nothing to release: no connection was opened."""


class OfflineRoles(Roles):
    """All four roles by rules and templates, seeded per dialogue."""

    model = OfflineBackend.model

    def __init__(self, tools: dict[str, ToolInfo], rng: random.Random) -> None:
        self.tools = tools
        self.rng = rng

    async def name_tool(self, turn: TurnPlan) -> AdvancedTool:
        assert turn.advanced_tool is not None
        return turn.advanced_tool

    async def write_query(self, turn: TurnPlan, tools: list[dict[str, Any]]) -> str:
        return request_for(turn, self.tools, self.rng)

    async def reword(self, turn: TurnPlan, tools: list[dict[str, Any]]) -> tuple[str, ...]:
        return rewordings(turn, self.tools, _REWORDINGS)

    async def act(
        self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]], turn: TurnPlan, hint: str | None
    ) -> AssistantMessage:
        offered = {tool["function"]["name"] for tool in tools}
        since_query = _since_query(conversation, turn.query)
        executed = _executed(since_query)
        if turn.variant == "missing_tool" and turn.target.tool not in offered:
            return AssistantMessage(
                content=self.rng.choice(_NO_TOOL),
                reasoning=f"This needs {turn.target.tool}, and no tool I have been given does what it does.",
            )
        answered = [m for m in since_query[1:] if m["role"] == "user"]
        if turn.variant == "missing_parameter" and not answered and not executed:
            words = parameter_words(turn.withheld or "")
            return AssistantMessage(
                content=self.rng.choice(_ASK).format(words=words),
                reasoning=f"The request does not say the {words}, only the user knows it, and I must not guess it.",
            )
        done = _matched(turn.calls, executed)
        if done == len(turn.calls):
            return AssistantMessage(content=answer_for(turn, self.tools, self.rng))
        batch = next(batch for batch in turn.batches if batch[-1] >= done)
        calls = [turn.calls[position] for position in batch if position >= done]
        return AssistantMessage(
            content="",
            reasoning=self._reasoning(turn, calls, executed, bool(answered)),
            tool_calls=[{"name": call.tool, "arguments": call.arguments} for call in calls],
        )

    async def critique(self, turn: TurnPlan, attempt: list[dict[str, Any]], failure: str) -> str:
        if "state" in failure:
            return "The calls left the data different from what the request implies: check what each call changes."
        if "ungrounded" in failure:
            return "An argument was used that neither the user nor an earlier result gave: look it up or ask."
        return (
            "A result the request depends on never came back: a step is missing or used an input from the wrong place."
        )

    def _reasoning(self, turn: TurnPlan, calls: list[Call], executed: list[dict[str, Any]], answered: bool) -> str:
        """Why these calls now: the plan (first batch), an error just seen, where each input comes from."""
        parts = []
        failures = [call for call in executed if call["is_error"]]
        if failures and failures[-1] is executed[-1]:
            error = failures[-1]["result"].split("\n")[0][:200]
            parts.append(f"That call failed: {error}. {_lesson(turn, failures[-1], self.tools)}")
        if calls[0] is turn.calls[0]:
            parts.append(self._plan(turn, answered))
        for call in calls:
            parts += self._inputs(turn, call)
        if len(calls) > 1:
            names = ", ".join(call.tool for call in calls[:-1]) + f" and {calls[-1].tool}"
            parts.append(f"{names} don't depend on each other, so I'll make those calls together.")
        return " ".join(parts)

    def _plan(self, turn: TurnPlan, answered: bool) -> str:
        target = turn.target
        parts = [self.rng.choice(_OPENERS).format(target=target.tool)]
        given = [
            f"the {parameter_words(key)} {_quoted(value)}"
            for key, value in turn.free_inputs.items()
            if key != turn.withheld and not isinstance(value, bool)
        ]
        if turn.withheld and turn.variant == "missing_parameter" and answered:
            given.append(f"the {parameter_words(turn.withheld)} the user just told me")
        if given:
            parts.append("I have " + value_words(given) + " from the user.")
        steps = {call.step: call for call in turn.calls}
        for call in turn.calls:
            for parameter, origin in call.provenance.items():
                producer = steps.get(origin.get("step", -1))
                if producer is not None and producer is not call and origin.get("source") in ("result", "probe"):
                    parts.append(
                        f"{call.tool} needs the {parameter_words(parameter)}, which I don't have yet: "
                        f"{producer.tool} gives it."
                    )
            for needed in call.needs:
                producer = steps.get(needed)
                if producer is not None and not any(
                    origin.get("step") == needed for origin in call.provenance.values()
                ):
                    parts.append(f"{call.tool} only works once {producer.tool} has been done, so that comes first.")
        if len(turn.calls) == 1:
            parts.append("One call does it.")
        return " ".join(parts)

    def _inputs(self, turn: TurnPlan, call: Call) -> list[str]:
        """Where a call's looked-up inputs come from, said once the result that gave them is in view."""
        steps = {earlier.step: earlier for earlier in [*turn.earlier_calls, *turn.calls]}
        lines = []
        earlier = {earlier.step for earlier in turn.earlier_calls}
        for parameter, origin in call.provenance.items():
            producer = steps.get(origin.get("step", -1))
            if producer is None or origin.get("source") not in ("result", "probe"):
                continue
            value = call.arguments.get(parameter)
            if producer.step in earlier:
                lines.append(
                    f"{call.tool} takes {_quoted(value)} as its {parameter_words(parameter)}: {producer.tool} "
                    "returned it earlier in our conversation."
                )
            elif not parameter.endswith("token"):
                words = parameter_words(parameter)
                lines.append(f"{producer.tool} returned {_quoted(value)}: that is the {words} for {call.tool}.")
        return lines


def mistaken_call(turn: TurnPlan, tools: dict[str, ToolInfo], rng: random.Random) -> AssistantMessage | None:
    """A first call that really fails because of a step skipped: the target before the state it needs.

    Only for a state no tool description declares (the walk saw the target refused until another call
    ran), which the assistant could not have foreseen; a declared prerequisite, or one the user asked
    for, is no mistake to teach.  Only where every argument of the target is already known at the start
    of the turn (said by the user or shown by an earlier turn), so the mistake never changes or invents a
    value; the chain keeps it only when the sandbox really refuses it.
    """
    target = turn.target
    state_needs = [
        needed for needed in target.discovered if not any(o.get("step") == needed for o in target.provenance.values())
    ]
    in_turn = {call.step for call in turn.calls}
    value_needs_in_turn = [o.get("step") for o in target.provenance.values() if o.get("step") in in_turn]
    if not any(needed in in_turn for needed in state_needs) or value_needs_in_turn:
        return None
    if turn.withheld and turn.free_input_of(turn.withheld)[0] is target:
        return None
    return AssistantMessage(
        content="",
        reasoning=f"This looks like a job for {target.tool}; I'll call it straight away.",
        tool_calls=[{"name": target.tool, "arguments": target.arguments}],
    )


def _lesson(turn: TurnPlan, failure: dict[str, Any], tools: dict[str, ToolInfo]) -> str:
    if failure["tool"] == turn.target.tool:
        first = next((call.tool for call in turn.calls if call.step in turn.target.needs), None)
        if first:
            return f"I skipped a step: {first} has to come first. The values stay as the user gave them."
    return "I'll take the step it needs first and keep the user's values as they are."


def _quoted(value: Any) -> str:
    words = value_words(value)
    return f'"{words}"' if isinstance(value, str) and " " in words else words


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
