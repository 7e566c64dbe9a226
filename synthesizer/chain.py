"""The guided iterative chain: answer a turn, execute for real, validate, and retry with a critic's hint."""

import dataclasses
import json
import random
from dataclasses import dataclass, field
from typing import Any

from servers import hash_state
from simulator import Connection, Step, ToolInfo
from synthesizer.dialogue import Dialogue, Turn, Variant
from synthesizer.errors import LLMError
from synthesizer.filters import query_problems
from synthesizer.grounding import ungrounded_arguments
from synthesizer.offline import mistaken_call, parameter_words
from synthesizer.plan import Call, DialoguePlan, TurnPlan, value_path
from synthesizer.roles import AssistantMessage, Roles, value_text
from synthesizer.samples import Reject, Sample
from synthesizer.validate import Verdict, check_turn
from synthesizer.wording import Unphrasable

__all__ = ["DialogueRunner", "openai_tool"]


def openai_tool(tool: ToolInfo) -> dict[str, Any]:
    """A primitive tool as the chat API and the exported samples show it."""
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.input_schema},
    }


@dataclass
class _Attempt:
    messages: list[dict[str, Any]] = field(default_factory=list)
    executed: list[Step] = field(default_factory=list)
    offered: list[dict[str, Any]] = field(default_factory=list)


class DialogueRunner:
    """Runs planned dialogues in a candidate sandbox, checked against a reference sandbox."""

    def __init__(
        self,
        roles: Roles,
        candidate: Connection,
        reference: Connection,
        tools: dict[str, ToolInfo],
        *,
        max_attempts: int,
        rng: random.Random,
        min_turns: int = 1,
    ) -> None:
        self.roles = roles
        self.candidate = candidate
        self.reference = reference
        self.tools = tools
        self.max_attempts = max_attempts
        self.rng = rng
        self.min_turns = min_turns
        self.schemas = {name: tool.input_schema for name, tool in tools.items()}
        self.seed = 0
        """The sandbox seed of the dialogue being run (the trajectory's)."""

    async def run(self, plan: DialoguePlan, sample_id: str) -> Sample | Reject:
        """The plan's turns, one after another, as a sample; a reject at the first turn that cannot be made.

        The plan is read, never changed: its ground truth re-executed gives new turn plans, and each
        accepted turn gives a new `Dialogue`.
        """
        trajectory = plan.trajectory
        self.seed = trajectory.seed
        reject = _rejecter(sample_id, trajectory.id, self.roles.model)
        try:
            setup, planned = await self._ground_truth(plan)
        except _GroundTruthDrift as error:
            return reject(str(error), 0)
        accepted: list[tuple[str, dict[str, Any]]] = [(call.tool, call.arguments) for call in setup]
        await self._restore(accepted)
        initial_state = await self.candidate.state()
        withheld = {turn.withheld for turn in planned if turn.variant == Variant.MISSING_TOOL}
        offered = [openai_tool(tool) for name, tool in self.tools.items() if name not in withheld]
        dialogue, attempts = Dialogue(), 0
        for turn in planned:
            conversation = dialogue.messages
            records = dialogue.records()
            try:
                shown = " ".join(m["content"] for m in conversation if m["role"] in ("user", "assistant")).lower()
                turn = dataclasses.replace(turn, shown=shown)
                turn = dataclasses.replace(turn, advanced_tool=await self.roles.name_tool(turn))
                turn = dataclasses.replace(turn, query=await self.roles.write_query(turn, offered))
                values = [value for call in turn.calls for value in call.arguments.values()]
                if problems := query_problems(turn.query, self.tools.values(), values):
                    raise Unphrasable(f"the request {problems[0]}: {turn.query!r}")
                others = await self.roles.reword(turn, offered)
                rewordings = tuple(text for text in others if not query_problems(text, self.tools.values(), values))
            except Unphrasable as error:
                if turn.index < self.min_turns:
                    return reject(f"turn {turn.index + 1}: {error}", attempts, conversation, records)
                break  # the dialogue ends before a request no user could make
            except LLMError as error:
                return reject(f"turn {turn.index + 1}: {error}", attempts + 1, conversation, records)
            try:
                attempt, verdict, used, variant = await self._solve(turn, conversation, accepted, offered)
            except LLMError as error:
                return reject(f"turn {turn.index + 1}: {error}", attempts + 1, conversation, records)
            attempts += used
            made = _turn(turn, variant, attempt.messages, used, rewordings)
            if not verdict.ok:
                failed = [*conversation, *attempt.messages], [*records, made.record()]
                return reject(f"turn {turn.index + 1}: {verdict.reason} (after {used} attempts)", attempts, *failed)
            dialogue = dialogue.then(made)
            accepted.extend((step.tool, step.arguments) for step in attempt.executed)
            offered = attempt.offered
        withheld = {turn.withheld for turn in dialogue.turns if turn.variant is Variant.MISSING_TOOL}
        return Sample(
            id=sample_id,
            trajectory_ids=[trajectory.id],
            env=trajectory.env,
            scenario=trajectory.scenario,
            seed=trajectory.seed,
            model=self.roles.model,
            dialogue=dialogue.map_messages(lambda messages: [_public(message) for message in messages]),
            tools=[openai_tool(tool) for name, tool in self.tools.items() if name not in withheld],
            extra_tools=[openai_tool(self.tools[name]) for name in sorted(withheld)],
            verified=await self.candidate.confirmed_fresh(self.seed),
            attempts=attempts,
            initial_state=initial_state,
            setup=[call.to_json() for call in setup],
        )

    async def _solve(
        self,
        turn: TurnPlan,
        conversation: list[dict[str, Any]],
        accepted: list[tuple[str, dict[str, Any]]],
        offered: list[dict[str, Any]],
    ) -> tuple[_Attempt, Verdict, int, Variant]:
        """Up to `max_attempts` tries at the turn, each with the critic's hint on the last; the variant it ended
        with (error recovery is plain when the sandbox accepts the would-be mistake)."""
        verdict = Verdict(False, "no attempt was made")
        attempt = _Attempt()
        variant = Variant(turn.variant)
        for number in range(1, self.max_attempts + 1):
            await self._restore(accepted)
            attempt = _Attempt(offered=[tool for tool in offered if tool["function"]["name"] != turn.withheld])
            if variant is not Variant.MISSING_TOOL:
                attempt.offered = list(offered)
            attempt.messages.append({"role": "user", "content": turn.query})
            if variant is Variant.ERROR_RECOVERY and not await self._make_mistake(turn, attempt):
                variant = Variant.PLAIN  # the sandbox accepted the would-be mistake; undo it and answer plainly
                await self._restore(accepted)
                attempt = _Attempt(offered=list(offered), messages=[{"role": "user", "content": turn.query}])
            verdict = await self._converse(turn, conversation, attempt)
            if verdict.ok:
                state = await self.candidate.state() if self.candidate.fresh_state else None
                verdict = check_turn(
                    turn.calls, attempt.executed, hash_state(state) if state is not None else None, turn.state_hash
                )
            if verdict.ok and (ungrounded := ungrounded_arguments(conversation + attempt.messages, self.schemas)):
                verdict = Verdict(False, f"ungrounded argument: {ungrounded[0]}")
            if verdict.ok:
                return attempt, verdict, number, variant
            turn = dataclasses.replace(turn, hint=await self.roles.critique(turn, attempt.messages, verdict.reason))
        return attempt, verdict, self.max_attempts, variant

    async def _converse(self, turn: TurnPlan, conversation: list[dict[str, Any]], attempt: _Attempt) -> Verdict:
        """Let the assistant act until it answers in words; play the simulated user where the variant needs it."""
        for _ in range(2 * len(turn.calls) + 6):
            message = await self.roles.act(conversation + attempt.messages, attempt.offered, turn, turn.hint)
            unreadable = [call["error"] for call in message.tool_calls if "error" in call]
            if unreadable:
                return Verdict(False, f"the assistant produced an unreadable tool call ({unreadable[0]})")
            await self._execute(turn, message, attempt)
            if message.tool_calls:
                continue
            if not message.content.strip():
                return Verdict(False, "the assistant said nothing and called nothing")
            if turn.variant == "missing_parameter" and not attempt.executed and _asked(attempt):
                value = turn.free_inputs.get(turn.withheld or "")
                words = parameter_words(turn.withheld or "")
                reply = self.rng.choice(_GIVEN).format(words=words, value=value_text(value))
                attempt.messages.append({"role": "user", "content": reply})
                continue
            if turn.variant == "missing_tool" and turn.withheld not in _names(attempt.offered):
                tool = openai_tool(self.tools[turn.withheld or ""])
                attempt.offered = [*attempt.offered, tool]
                announcement = f"A new tool is available: {json.dumps(tool['function'], ensure_ascii=False)}"
                attempt.messages.append({"role": "system", "content": announcement})
                attempt.messages.append({"role": "user", "content": self.rng.choice(_GO_AHEAD)})
                continue
            return Verdict(True)
        return Verdict(False, "the assistant did not finish within the step limit")

    async def _execute(self, turn: TurnPlan, message: AssistantMessage, attempt: _Attempt) -> None:
        calls = []
        for call in message.tool_calls:
            call_id = f"call_{turn.index}_{len(attempt.executed) + len(calls)}"
            calls.append(
                {"id": call_id, "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}
            )
        entry: dict[str, Any] = {"role": "assistant", "content": message.content}
        if message.reasoning:
            entry["reasoning"] = message.reasoning
        if calls:
            entry["tool_calls"] = calls
        attempt.messages.append(entry)
        for call in calls:
            function = call["function"]
            step = await self.candidate.call(function["name"], function["arguments"])
            attempt.executed.append(step)
            attempt.messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call["id"],
                    "name": function["name"],
                    "content": step.text,
                    "is_error": step.is_error,
                }
            )

    async def _make_mistake(self, turn: TurnPlan, attempt: _Attempt) -> bool:
        """Inject a call that really fails; False (and nothing kept) when the sandbox accepts it."""
        mistake = mistaken_call(turn, self.tools, self.rng)
        if mistake is None:
            return False
        await self._execute(turn, mistake, attempt)
        return attempt.executed[-1].is_error

    async def _restore(self, accepted: list[tuple[str, dict[str, Any]]]) -> None:
        """The candidate sandbox as it stood after the accepted turns: fresh, then the accepted calls again."""
        await self.candidate.reset(self.seed)
        for tool, arguments in accepted:
            await self.candidate.call(tool, arguments)

    async def _ground_truth(self, plan: DialoguePlan) -> tuple[list[Call], list[TurnPlan]]:
        """Re-execute the pruned ground truth in a fresh sandbox: the setup and turns with its results and states.

        Pruning left out calls of the walk, so ids and counters may come out differently: an
        argument that came from an earlier result is read again, at the same place, from the
        re-executed result.  A turn whose calls no longer succeed ends the dialogue there
        (or rejects it, with fewer than `min_turns` turns left).
        """
        await self.reference.reset(self.seed)
        walk_results = {call.step: call.result for call in plan.setup}
        walk_results.update({call.step: call.result for turn in plan.turns for call in turn.calls})
        replayed: dict[int, Any] = {}
        setup = []
        for call in plan.setup:  # an earlier part of a recorded session: the state this dialogue starts from
            arguments = _rederived(call, walk_results, replayed)
            step = await self.reference.call(call.tool, arguments)
            if step.is_error:
                raise _GroundTruthDrift(f"the earlier part of the session does not replay: {call.tool} failed")
            replayed[call.step] = step.result
            setup.append(dataclasses.replace(call, arguments=arguments))
        turns: list[TurnPlan] = []
        earlier: list[Call] = []
        for number, turn in enumerate(plan.turns):
            calls = []
            for call in turn.calls:
                arguments = _rederived(call, walk_results, replayed)
                step = await self.reference.call(call.tool, arguments)
                if step.is_error:
                    if number >= self.min_turns:
                        return setup, turns
                    raise _GroundTruthDrift(
                        f"the pruned ground truth does not replay: {call.tool} failed ({step.text})"
                    )
                replayed[call.step] = step.result
                calls.append(dataclasses.replace(call, arguments=arguments, result=step.result))
            state = await self.reference.state() if self.reference.fresh_state else None
            advanced = turn.advanced_tool and dataclasses.replace(turn.advanced_tool, result=calls[-1].result)
            turns.append(
                dataclasses.replace(
                    turn,
                    calls=calls,
                    earlier_calls=list(earlier),
                    state_hash=hash_state(state) if state is not None else None,
                    advanced_tool=advanced,
                )
            )
            earlier += calls
        return setup, turns


_GIVEN = ["The {words} is {value}.", "It's {value}.", "Use {value}.", "Oh, sorry: {value}.", "{value} is the {words}."]
_GO_AHEAD = [
    "That tool is available now. Please go ahead.",
    "I've just enabled it for you, so you can do it now.",
    "You should have it now. Could you try again?",
    "It's been added. Please carry on.",
    "OK, that's switched on now; go ahead.",
]


class _GroundTruthDrift(Exception):
    """The pruned ground truth cannot be re-executed: a call it keeps needed something pruning left out."""


_MISSING = object()


def _rederived(call: Call, walk_results: dict[int, Any], replayed: dict[int, Any]) -> dict[str, Any]:
    """`call`'s arguments with every value taken from an earlier result read again from its re-executed result."""
    arguments = dict(call.arguments)
    for parameter, origin in call.provenance.items():
        step = origin.get("step")
        if parameter not in arguments or step not in replayed or step not in walk_results:
            continue
        path = value_path(walk_results[step], arguments[parameter])
        value = _at(replayed[step], path) if path is not None else _MISSING
        if value is not _MISSING:
            arguments[parameter] = value
    return arguments


def _at(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return data


def _rejecter(sample_id: str, trajectory_id: str, model: str):  # type: ignore[no-untyped-def]
    def reject(reason: str, attempts: int, messages: list | None = None, turns: list | None = None) -> Reject:
        """A reject keeping the dialogue as far as it got (`messages`, with `turns` as a sample keeps them)."""
        return Reject(sample_id, trajectory_id, model, reason, attempts, list(messages or []), list(turns or []))

    return reject


def _turn(
    turn: TurnPlan, variant: Variant, messages: list[dict[str, Any]], attempts: int, rewordings: tuple[str, ...] = ()
) -> Turn:
    """The dialogue's turn made of a planned turn, its messages, how many attempts it took and the other
    wordings of its request."""
    return Turn(
        request=turn.query,
        messages=tuple(messages),
        variant=variant,
        withheld=turn.withheld,
        target=turn.target.tool,
        calls=tuple(call.to_json() for call in turn.calls),
        state_hash=turn.state_hash,
        source=turn.query_source,
        advanced_tool=turn.advanced_tool.to_json() if turn.advanced_tool else None,
        attempts=attempts,
        rewordings=rewordings,
    )


def _asked(attempt: _Attempt) -> bool:
    last = attempt.messages[-1]
    return last["role"] == "assistant" and "?" in (last.get("content") or "")


def _names(tools: list[dict[str, Any]]) -> set[str]:
    return {tool["function"]["name"] for tool in tools}


def _public(message: dict[str, Any]) -> dict[str, Any]:
    """What a sample keeps of a message: the error flag only steered synthesis."""
    return {key: value for key, value in message.items() if key != "is_error"}
