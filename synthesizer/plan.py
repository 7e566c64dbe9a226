"""Planning a dialogue from a trajectory: each turn is one request, its target call and that call's prerequisites.

A turn's ground truth is a *target* call plus its *prerequisite closure*: the calls whose
results feed its arguments (transitively) and the calls that establish a state it needs
(declared `requires`/`provides`, observed: the same tool failed until that call ran, or the
change it undoes on the same object: `remove_contact` needs the `add_contact` of that user).
Every other call of the walk is left out, so no call in a sample is one nobody asked for.
The kept calls are grouped into batches: calls that do not depend on each other go in
one assistant message (parallel), a call never shares a message with one it depends on.

A turn's *free inputs* are the argument values no earlier call produced: they must be in
the user's words.  The calls compose one *advanced tool* whose parameters are the free
inputs and whose result is the target's result (FunReason-MT, advanced tool-query
synthesis).  The walk's results are only a guide: the runner re-executes the pruned
ground truth in a fresh sandbox and takes results and end states from that run.
"""

import dataclasses
import functools
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from servers import canonical_json
from simulator import ToolInfo, Trajectory
from simulator.detours import gives_back_its_input
from simulator.undo import undoes
from simulator.values import leaf_values, value_key

__all__ = [
    "AdvancedTool",
    "Call",
    "DialoguePlan",
    "TargetChoice",
    "TurnPlan",
    "Variants",
    "closure",
    "is_identifier",
    "plan_dialogue",
    "plan_turns",
    "successful_calls",
    "value_path",
]

_LOGIN = re.compile(r"(log_?in|sign_?in|authenticat|login)", re.IGNORECASE)
_LOGOUT = re.compile(r"(log_?out|sign_?out|logoff|logout)", re.IGNORECASE)
_SHORT_STORY = 4
"""Below this many turns a story may also change topic with a single call (a real user sometimes does); past it a
change of topic is a chain, so that a request standing on its own is a hard one.  At 3, BFCL's classes lost their
dependent dialogues (78% -> 70%) for 4 points of chains on ours."""
_RESULT_SOURCES = ("result", "probe")
_USER_SOURCES = ("pool", "user")
"""Argument sources only the user can know (scenario pools, a recorded user's words), so the user may be asked."""


@dataclass(frozen=True)
class Variants:
    """Shares of turns given each harder variant (the rest are plain)."""

    missing_parameter: float = 0.15
    missing_tool: float = 0.1
    error_recovery: float = 0.15


@dataclass
class Call:
    """One ground-truth call: as the explorer executed it, then as the pruned re-execution answered."""

    step: int
    tool: str
    arguments: dict[str, Any]
    result: Any
    provenance: dict[str, dict[str, Any]]
    needs: tuple[int, ...] = ()
    """Steps of the calls this one depends on: values it takes and states it needs."""
    choices: frozenset[str] = frozenset()
    """Parameters whose value was picked out of a list an earlier call returned: the user must say which."""
    discovered: tuple[int, ...] = ()
    """Steps of the state changes this call was seen to need: it was refused until they ran (no hint said so)."""
    changes_state: bool = True
    """False for a tool that declares itself read-only (a look-up)."""
    result_names: dict[str, str] = field(default_factory=dict)
    """How a person names a computed field of the result (the tool's `names` hint), e.g. "the sum of {a} and {b}"."""

    def to_json(self) -> dict[str, Any]:
        return {"tool": self.tool, "arguments": self.arguments, "result": self.result}


@dataclass
class AdvancedTool:
    """The calls of one turn composed into one tool: free inputs in, the target's result out."""

    name: str
    description: str
    parameters: dict[str, Any]
    result: Any
    calls: list[str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


Askable = Callable[[Call, list[Call], Sequence[Call]], bool]
"""`askable(target, closure, earlier)`: whether a user could ask for `target` with what `closure` and `earlier`
turns' calls show (`synthesizer.wording.askable`)."""


@dataclass
class TurnPlan:
    index: int
    calls: list[Call]
    """In execution order; the target is last."""
    free_inputs: dict[str, Any]
    """`tool.parameter` (`tool.parameter.2` for a second call of the tool) -> the value the user states."""
    batches: list[list[int]] = field(default_factory=list)
    """Positions in `calls`, one list per assistant message: independent calls together."""
    variant: str = "plain"
    withheld: str | None = None
    """missing_parameter: the free input left out of the query; missing_tool: the tool withheld."""
    advanced_tool: AdvancedTool | None = None
    query: str = ""
    hint: str | None = None
    """The critic's last hint, shown to the reasoning role on the next attempt."""
    state_hash: str | None = None
    """The sandbox's state hash after the ground truth of this turn and the ones before it."""
    earlier_calls: list[Call] = field(default_factory=list)
    """The ground-truth calls of the turns before this one (their results are in the dialogue)."""
    shown: str = ""
    """What the user has read and written before this turn (queries and answers), lower-cased."""
    asked: tuple[int, ...] = ()
    """Steps of the look-ups the request asks about besides the target ("tell me Bob's id"): the answer
    reports them too."""
    query_source: str = "phrasing"
    """Who wrote the request: `model`, or `phrasing` (the tools' declared requests: offline, or the draft a
    model was given and whose rewrites all failed the query check)."""

    @property
    def target(self) -> Call:
        return self.calls[-1]

    def free_input_of(self, key: str) -> tuple[Call, str]:
        """The call and parameter a free-input key belongs to."""
        tool, parameter = key.split(".")[:2]
        occurrence = int(key.split(".")[2]) if key.count(".") > 1 else 1
        calls = [call for call in self.calls if call.tool == tool and parameter in call.arguments]
        return calls[occurrence - 1], parameter


@dataclass
class DialoguePlan:
    trajectory: Trajectory
    turns: list[TurnPlan] = field(default_factory=list)
    setup: list[Call] = field(default_factory=list)
    """Calls replayed, unseen, before the first turn: an earlier part of the same recorded session."""


def plan_dialogue(
    trajectory: Trajectory,
    tools: dict[str, ToolInfo],
    turns: tuple[int, int],
    variants: Variants,
    rng: random.Random,
    askable: Askable = lambda target, closure, earlier=(): True,
    prefer: "TargetChoice | None" = None,
    *,
    target_turn: bool = False,
) -> DialoguePlan | None:
    """Choose the turns' targets and their closures; None when fewer than `turns[0]` targets exist.

    `askable(target, closure, earlier=())` says whether a user could ask for the target with what the
    closure's calls show, after the `earlier` turns' calls (the query writer's judgement); other calls are no
    targets, and a call askable only after earlier turns is a target only after them.
    `prefer` may pick a turn's target before the rule does (`synthesizer.focus.focused_target`).
    `target_turn`: a story that gives the walk's target a turn wins over one that does not, whatever else
    (a coverage round's walk, made for that turn).
    """
    if trajectory.status != "complete":
        return None
    calls = successful_calls(trajectory, tools)
    by_step = {call.step: call for call in calls}
    closures = {call.step: closure(call.step, by_step) for call in calls}
    eligible = [
        call
        for call in calls
        if askable(call, [by_step[step] for step in sorted(closures[call.step])])
        and not any(_gives_back_its_input(by_step[step]) for step in closures[call.step])
    ]
    looks_up = {call.step for call in calls if tools[call.tool].read_only is True}
    logins = {call.step for call in calls if _opens_session(tools[call.tool])}
    choose = functools.partial(prefer, by_step, closures) if prefer is not None else None
    wanted = {call.step for call in calls if call.tool == trajectory.target}
    targets = _story_targets(
        eligible,
        by_step,
        closures,
        rng.randint(*turns),
        logins,
        rng,
        choose,
        _after(askable, by_step, closures),
        wanted,
        turns[0],
        target_turn,
    )
    if len(targets) < turns[0]:  # no story that long: the deepest chains, none a login only to log out again
        fitting = [call for call in eligible if _fits(call, closures[call.step], set(), by_step, logins)]
        targets = _choose_targets(fitting, closures, rng.randint(*turns), turns[0], looks_up, rng, choose)
    if len(targets) < turns[0]:
        return None
    return plan_turns(DialoguePlan(trajectory), calls, targets, tools, variants, rng)


def plan_turns(
    plan: DialoguePlan,
    calls: list[Call],
    targets: list[int],
    tools: dict[str, ToolInfo],
    variants: Variants,
    rng: random.Random,
) -> DialoguePlan:
    """`plan` with one turn per target step, in step order: the target and what of its closure no earlier turn has.

    `calls` are the trajectory's successful calls (`successful_calls`); a call of an earlier
    turn that a later one needs is taken from the dialogue's history, not made again.
    """
    by_step = {call.step: call for call in calls}
    closures = {call.step: closure(call.step, by_step) for call in calls}
    assigned: set[int] = set()
    for target in sorted(targets):
        earlier = [call for turn in plan.turns for call in turn.calls]
        own = {
            step: _from_earlier_turns(by_step[step], earlier, closures[target] - assigned)
            for step in closures[target] - assigned
        }
        # earlier turns' calls as they were planned (a look-up they took from history is no need of theirs)
        steps = sorted(closure(target, {**by_step, **{call.step: call for call in earlier}, **own}) - assigned)
        assigned |= set(steps)
        turn_calls = [own[step] for step in steps]
        batches = _batches(turn_calls)
        ordered = [turn_calls[position] for batch in batches for position in batch]
        turn = TurnPlan(len(plan.turns), ordered, _free_inputs(ordered))
        turn.batches = _batches(ordered)
        turn.earlier_calls = [call for earlier in plan.turns for call in earlier.calls]
        turn.advanced_tool = compose_advanced_tool(turn, tools)
        plan.turns.append(turn)
    _assign_variants(plan, tools, variants, rng)
    return plan


TargetChoice = Callable[[dict[int, Call], dict[int, frozenset[int]], list[int], set[int]], int | None]
"""`prefer(calls by step, closures, candidate steps, steps covered so far)`: a turn target, or None for the rule."""


def compose_advanced_tool(turn: TurnPlan, tools: dict[str, ToolInfo]) -> AdvancedTool:
    """The deterministic part of tool synthesis: parameters are the free inputs, result the target's result."""
    properties = {}
    for key in turn.free_inputs:
        call, parameter = turn.free_input_of(key)
        schema = dict(tools[call.tool].parameters.get(parameter, {}))
        schema.pop("default", None)
        schema.setdefault("description", f"The {parameter.replace('_', ' ')}.")
        properties[_public_name(key, turn.free_inputs)] = schema
    target = tools[turn.target.tool]
    chain = [call.tool for call in turn.calls]
    return AdvancedTool(
        name=f"{turn.target.tool}_workflow" if len(chain) > 1 else turn.target.tool,
        description=target.description.split("\n")[0],
        parameters={"type": "object", "properties": properties, "required": list(properties)},
        result=turn.target.result,
        calls=chain,
    )


def successful_calls(trajectory: Trajectory, tools: dict[str, ToolInfo]) -> list[Call]:
    """The walk's successful calls, each with the steps it depends on (values, declared and observed states)."""
    calls: list[Call] = []
    provided: dict[str, int] = {}  # state condition -> the latest successful call that established it
    failed_at: dict[str, tuple[int, dict[str, Any]]] = {}  # tool -> step and arguments of its latest failure
    succeeded = {step.index for step in trajectory.steps if not step.is_error}
    first_seen: dict[str, dict[str, Any]] = {}  # a value -> where the dialogue first had it
    for step in trajectory.steps:
        if step.tool not in tools:
            continue
        hints = tools[step.tool].hints or {}
        if step.is_error:
            failed_at[step.tool] = (step.index, step.arguments)
            continue
        schema = tools[step.tool].parameters
        provenance = {
            name: _as_user_said(
                _earliest(origin, step.arguments.get(name), first_seen), step.arguments.get(name), name, tools
            )
            if not _implied(step.arguments.get(name), schema.get(name, {}))
            else {"source": "schema"}
            for name, origin in step.provenance.items()
        }
        needs = {
            origin["step"]
            for origin in provenance.values()
            if origin.get("source") in _RESULT_SOURCES and origin.get("step") in succeeded
        }
        needs |= {provided[condition] for condition in hints.get("requires", []) if condition in provided}
        if _declares_nothing(tools[step.tool]):  # no hints to go by: the same name is the same thing
            needs |= {
                call.step
                for call in calls
                if call.changes_state
                and _declares_nothing(tools[call.tool])
                and _shares_a_name(call.arguments, step.arguments)
            }
        needs |= _undone_here(step, calls, tools) | _redone_here(step, calls, tools) | _freed_here(step, calls, tools)
        failure = failed_at.get(step.tool)
        discovered: set[int] = set()
        declared = hints.get("requires") and all(condition in provided for condition in hints["requires"])
        if failure is not None and failure[1] == step.arguments and not declared:
            # observed: refused, the state changed, then done (what it declares needing already explains a refusal)
            discovered = {
                call.step
                for call in calls
                if call.step > failure[0] and tools[call.tool].read_only is not True and call.tool != step.tool
            }
            needs |= discovered
        results = {call.step: call.result for call in calls}
        choices = frozenset(
            parameter
            for parameter, origin in provenance.items()
            if origin.get("step") in results
            and any(
                isinstance(key, int) for key in value_path(results[origin["step"]], step.arguments.get(parameter)) or ()
            )
        )
        calls.append(
            Call(
                step.index,
                step.tool,
                step.arguments,
                step.result,
                provenance,
                tuple(sorted(needs)),
                choices,
                tuple(sorted(discovered)),
                tools[step.tool].read_only is not True,
                dict((tools[step.tool].hints or {}).get("names") or {}),
            )
        )
        for condition in hints.get("provides", []):
            provided[condition] = step.index
        for name, value in step.arguments.items():
            if provenance.get(name, {}).get("source") not in _RESULT_SOURCES:  # and each item of a list said
                for said in (value, *leaf_values(value)):
                    first_seen.setdefault(value_key(said), {"source": "user"})
        for value in leaf_values(step.result):
            first_seen.setdefault(value_key(value), {"source": "result", "step": step.index, "tool": step.tool})
    return calls


def _undone_here(step: Any, calls: list[Call], tools: dict[str, ToolInfo]) -> set[int]:
    """The latest earlier state change that `step` reverses on the same object (`remove_contact` after
    `add_contact` of the same user, `stop_engine` after `start_engine`): undoing needs something done, so that
    call is a prerequisite."""
    if tools[step.tool].read_only is True:
        return set()
    for call in reversed(calls):
        if call.changes_state and _same_object(step.arguments, call.arguments) and undoes(step.tool, call.tool):
            return {call.step}
    return set()


def _redone_here(step: Any, calls: list[Call], tools: dict[str, ToolInfo]) -> set[int]:
    """The change that undid an earlier `step.tool` on the same object, when nothing did it again since
    (`start_engine`, `stop_engine`, `start_engine`): doing the same again needs it undone, so that call is a
    prerequisite (left out, the engine is still running and the second start fails on replay).  Not when the
    arguments differ: the brake pressed at 400 N after it was pressed at 700 N and let go is a change of its
    own, and needs no letting go."""
    if tools[step.tool].read_only is True:
        return set()
    undo = None
    for call in reversed(calls):
        if not call.changes_state or not _same_object(step.arguments, call.arguments):
            continue
        if call.tool == step.tool:
            return set() if undo is None or call.arguments != step.arguments else {undo}
        if undo is None and undoes(call.tool, step.tool):
            undo = call.step
    return set()


def _named(arguments: dict[str, Any]) -> set[str]:
    return {canonical_json(value) for value in arguments.values() if isinstance(value, str | int) and value}


def _same_object(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two calls act on the same thing: a value they share, or no name at all (the one engine)."""
    mine, theirs = _named(one), _named(other)
    return bool(mine & theirs) if mine else not theirs


def _freed_here(step: Any, calls: list[Call], tools: dict[str, ToolInfo]) -> set[int]:
    """The latest earlier state change on an object `step` changes, when that change undid something (`rm X`
    before `mv Y X`): the name was free, the contact gone, only because of it, so that call is a prerequisite."""
    if tools[step.tool].read_only is True:
        return set()
    named = _named(step.arguments)
    for call in reversed(calls):
        if call.changes_state and named & {canonical_json(value) for value in call.arguments.values()}:
            return {call.step} if any(undoes(call.tool, name) for name in tools) else set()
    return set()


def _declares_nothing(tool: ToolInfo) -> bool:
    """A tool of someone else's (no dependency hints, no phrasing): only names can tell what it acts on."""
    hints = tool.hints or {}
    return not any(hints.get(key) for key in ("consumes", "produces", "requires", "provides", "asks"))


def _shares_a_name(earlier: dict[str, Any], later: dict[str, Any]) -> bool:
    """Whether a later call names something (a file, a folder, an id) an earlier state change named."""
    names = {value for value in earlier.values() if isinstance(value, str) and len(value) > 1}
    return any(isinstance(value, str) and value in names for value in later.values())


def _earliest(origin: dict[str, Any], value: Any, first_seen: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Where a looked-up value really came from: the first place the walk had it.

    The explorer credits the latest result that held a value; when the user gave it, or an
    earlier call returned it, the later call is no producer of it and no prerequisite.
    """
    if origin.get("source") not in _RESULT_SOURCES:
        return origin
    first = first_seen.get(value_key(value))
    return (
        origin if first is None or first.get("step") == origin.get("step") else {**first, "field": origin.get("field")}
    )


def _from_earlier_turns(call: Call, earlier: list[Call], own: set[int]) -> Call:
    """`call` taking what an earlier turn's results already hold from there, not from a look-up of its own turn.

    The walk may have looked a value up again after the dialogue had it; in the dialogue the
    assistant already has it from the earlier turn, so the repeated look-up is no prerequisite.
    """
    provenance = dict(call.provenance)
    needs = set(call.needs)
    for parameter, origin in call.provenance.items():
        if origin.get("source") not in _RESULT_SOURCES or origin.get("step") not in own:
            continue
        value = canonical_json(call.arguments.get(parameter))
        holder = next(
            (e for e in reversed(earlier) if value in {canonical_json(leaf) for leaf in leaf_values(e.result)}), None
        )
        if holder is not None:
            provenance[parameter] = {**origin, "step": holder.step, "tool": holder.tool}
            if not any(o.get("step") == origin["step"] for name, o in provenance.items() if name != parameter):
                needs.discard(origin["step"])
            needs.add(holder.step)
    if provenance == call.provenance:
        return call
    return dataclasses.replace(call, provenance=provenance, needs=tuple(sorted(needs)))


def _implied(value: Any, schema: dict[str, Any]) -> bool:
    """A value the schema itself offers (an enum member, a const) or too short to tell where it came from."""
    members = [m for option in schema.get("anyOf", [schema]) for m in [*option.get("enum", []), option.get("const")]]
    return (isinstance(value, str) and len(value) < 2) or (value is not None and value in members)


def _as_user_said(origin: dict[str, Any], value: Any, parameter: str, tools: dict[str, ToolInfo]) -> dict[str, Any]:
    """A looked-up value the user would simply say (a city, a name, an amount) becomes the user's own value.

    Identifiers stay looked up: nobody knows that Bob is USR002, but anybody can say "Dubai"
    or "1500", and a look-up made only to find such a value is a call nobody needs.  So do
    computed values (a field the producing tool `names`, "the sum of 3 and 4"): nobody knows
    them before the call, so the call is part of the chain and the request says the phrase;
    but not a one-digit result (a quotient of 0), which any text holds, so no reader could
    tell the chain from the words.  Nor does anybody say 116.499999997775: a float of more
    digits than a person types is a result, never the user's.
    """
    if origin.get("source") not in _RESULT_SOURCES or is_identifier(value, parameter) or machine_float(value):
        return origin
    producer = tools.get(origin.get("tool", ""))
    computed = producer is not None and origin.get("field") in ((producer.hints or {}).get("names") or {})
    if computed and len(value_key(value)) > 1:
        return origin
    return {"source": "user", "seen_in": origin}


def machine_float(value: Any) -> bool:
    """A float with more significant digits than a person types (62.0668921458098, not 12.96 or 1500.5)."""
    if not isinstance(value, float) or value.is_integer():
        return False
    digits = str(abs(value)).split("e")[0].replace(".", "").strip("0")  # as it is said: 5.283440000000001
    return len(digits) > 8


def is_identifier(value: Any, parameter: str) -> bool:
    """An id, code, symbol or path: something a person names things by, not a quantity, a name or a sentence.
    A number is one only as an id (`tweet_id` 2, `order_id` 12446: a counter made it, nobody could say it)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return parameter == "id" or parameter.endswith("_id")
    if not isinstance(value, str) or not value or any(char.isspace() for char in value):
        return False
    return bool(re.search(r"[\d._/-]", value)) or value.isupper() or parameter.endswith(("id", "code", "symbol"))


def closure(step: int, by_step: dict[int, Call]) -> frozenset[int]:
    """The call and, transitively, every call it needs."""
    seen = {step}
    frontier = [step]
    while frontier:
        for needed in by_step[frontier.pop()].needs:
            if needed not in seen:
                seen.add(needed)
                frontier.append(needed)
    return frozenset(seen)


def _choose_targets(
    calls: list[Call],
    closures: dict[int, frozenset[int]],
    count: int,
    least: int,
    looks_up: set[int],
    rng: random.Random,
    prefer: Callable[[list[int], set[int]], int | None] | None = None,
) -> list[int]:
    """Up to `count` targets, deepest chains first; a call already inside a chosen closure is no new target.

    A target's turn only gets the calls of its closure that no earlier-chosen target has.
    Single-call requests are taken only to reach `least` turns (chains are what make a
    request hard), those with values of the user's own first; failing that, a state change
    inside a chain (`looks_up` are the read-only steps).  Ties break by the seeded rng.
    """
    order = {call.step: rng.random() for call in calls}
    said = {  # values of the user's own: a request with none reads the same in every dialogue
        call.step: sum(origin.get("source") not in _RESULT_SOURCES for origin in call.provenance.values())
        for call in calls
    }
    chosen: list[int] = []
    covered: set[int] = set()
    while len(chosen) < count:
        candidates = [call.step for call in calls if call.step not in covered]
        if not candidates:
            break
        best = prefer(candidates, covered) if prefer is not None else None
        if best is None:
            best = max(candidates, key=lambda step: (len(closures[step] - covered), said[step], order[step]))
            if len(closures[best] - covered) < 2 and len(chosen) >= least:
                break
        chosen.append(best)
        covered |= closures[best]
    # Too few requests: a call inside a chosen chain may be a request of its own, in an earlier turn
    # ("log me in", then "send Bob a message"); the later turn then keeps only what is left.
    spare = sorted(
        (call.step for call in calls if call.step not in chosen),
        key=lambda step: (step in looks_up, -said[step], order[step]),
    )
    return chosen + spare[: max(0, least - len(chosen))]


def _after(
    askable: Askable, by_step: dict[int, Call], closures: dict[int, frozenset[int]]
) -> Callable[[int, set[int]], bool]:
    """`askable` of a step once the calls `covered` are earlier turns': a request may point back at them; never one
    whose own calls hold a computation that gives back its input (|16| after a sum of 16), as for a first turn."""
    memo: dict[tuple[int, frozenset[int]], bool] = {}

    def askable_after(step: int, covered: set[int]) -> bool:
        key = (step, frozenset(covered))
        if key not in memo:
            own = [by_step[needed] for needed in sorted(closures[step] - covered)]
            memo[key] = not any(map(_gives_back_its_input, own)) and askable(
                by_step[step], own, [by_step[done] for done in sorted(covered)]
            )
        return memo[key]

    return askable_after


def _story_targets(
    calls: list[Call],
    every_call: dict[int, Call],
    closures: dict[int, frozenset[int]],
    count: int,
    logins: set[int],
    rng: random.Random,
    prefer: Callable[[list[int], set[int]], int | None] | None = None,
    askable_after: Callable[[int, set[int]], bool] = lambda step, covered: False,
    wanted: set[int] = frozenset(),
    least: int = 1,
    wanted_first: bool = False,
) -> list[int]:
    """Up to `count` targets in walk order, each later one acting on what an earlier turn made or showed.

    A story starts at some target and goes on, step by step, to a later call whose closure reaches into
    what the turns so far hold (a value their results revealed, a state they set; a login's session
    does not count): the later request builds on the earlier ones, as the explorer's story goals
    walked.  A linked follow-up is taken even when it is one call ("cancel that booking"); an unlinked
    one (a change of topic) only when nothing linked is left, and only a chain, or any call while the
    story is shorter than `_SHORT_STORY`.  No target is a login,
    none undoes in its own turn what its own closure did (set, then clear), and none logs out right
    after its own login.  A call no request could name alone (the message the assistant sent, by its id)
    may be a later target when `askable_after(step, covered)`: its request points back at what the turns
    so far made or found.  `wanted` are the calls of the tool the walk was sampled for: a next target among equally
    linked ones is one of them, and one that no linked turn leads to may open a story that starts later
    (a change of topic), so that every tool the explorer targets gets turns of its own.  Of the stories,
    one of `least` turns or more wins, then (`wanted_first`) one with a `wanted` call, then one with a linked
    turn, then one with a `wanted` call, then the
    one whose requests standing on their own are chains most often (`_chains_less_single_calls`), then one
    that starts with a chain (first requests alike in every dialogue make near-duplicates), then one with two
    linked turns or more, then the most linked turns, then the most turns, then the deepest start; ties
    break by the seeded rng.
    `prefer(options, covered)` may pick a story's start (not where `wanted_first`: the start may be the one that
    leads to the wanted call), and each next target, before the rule does (a focus; where `wanted_first`, none
    past a wanted call the story has yet to take).
    """
    targets = {call.step for call in calls}
    order = {call.step: rng.random() for call in calls}
    order |= {step: rng.random() for step in every_call if step not in order}
    best: tuple[tuple[bool, bool, int, bool, int, bool, int, int, int, int, float], list[int]] = (
        (False, False, -1, False, -(10**6), False, -1, -1, -1, -1, 0.0),
        [],
    )
    starts = [
        start
        for start in sorted(targets, key=order.__getitem__)
        if _fits(every_call[start], closures[start], set(), every_call, logins)
    ]
    picked_start = prefer(sorted(starts), set()) if prefer is not None and starts and not wanted_first else None
    if picked_start is not None:  # a focus chose where the story starts; the rule tells the rest
        starts = [picked_start]
    told: list[tuple[list[int], list[bool]]] = []  # each start's story, and whether each of its turns is linked
    for start in starts:
        story, covered, links = [start], set(closures[start]), [False]
        while len(story) < count:
            options = [
                step
                for step in sorted(every_call)
                if step > story[-1]
                and step not in covered
                and _fits(every_call[step], closures[step], covered, every_call, logins)
                and (step in targets or (closures[step] & covered and askable_after(step, covered)))
            ]
            ranked = [
                (
                    bool((closures[step] & covered) - logins),
                    step in wanted,
                    len(closures[step] - covered),
                    -step,
                    order[step],
                    step,
                )
                for step in options
            ]
            ranked = [rank for rank in ranked if rank[0] or rank[2] >= 2 or len(story) < _SHORT_STORY]
            if not ranked:
                break
            # a walk made for its wanted call: while the story lacks it, the focus may not pick past it, nor past a
            # call it needs that the pick leaves out (the handbrake let off before the brake: a later turn that
            # lets it off after the brake was let go does not replay)
            lacking = wanted_first and not wanted & set(story)
            due = min((step for step in wanted if step > story[-1] and step not in covered), default=None)
            needed = sorted(closures[due] - covered) if lacking and due is not None else []
            choosable = [
                rank[-1]
                for rank in ranked
                if not needed
                or (rank[-1] <= due and all(step > rank[-1] or step in closures[rank[-1]] for step in needed))
            ]
            picked = prefer(choosable, covered) if prefer is not None and choosable else None
            choice = next(rank for rank in ranked if rank[-1] == picked) if picked is not None else max(ranked)
            story.append(choice[-1])
            links.append(choice[0])
            covered |= closures[choice[-1]]
        told.append((story, links))
    # The walk's own target where no linked turn leads to it ("how much fuel do I have?" at the start of a
    # walk that went on elsewhere): a change of topic before a story that starts later, when both fit.
    told += [
        ([step, *story[: count - 1]], [False, *links[: count - 1]])
        for step in sorted(wanted & set(starts))
        for story, links in told
        if story[0] > step and not closures[step] & set().union(*map(closures.get, story[: count - 1]))
    ]
    for story, links in told:
        linked = sum(links)
        chain = len(closures[story[0]] - logins) >= 2
        score = (
            len(story) >= least,
            wanted_first and bool(wanted & set(story)),
            min(linked, 1),
            bool(wanted & set(story)),
            _chains_less_single_calls(story, closures),
            chain,
            min(linked, 2),
            linked,
            len(story),
            len(closures[story[0]]),
            order[story[0]],
        )
        if score > best[0]:
            best = (score, story)
    return best[1]


def _chains_less_single_calls(story: list[int], closures: dict[int, frozenset[int]]) -> int:
    """Of a story's requests that build on no earlier turn, not even on its login (its start, a change of topic),
    the chains of calls less the single calls: a request standing on its own is hard when it needs steps it
    leaves unsaid (look the id up, then act on it), as directed sampling's deep dependency paths are."""
    balance, covered = 0, set()
    for step in story:
        if not closures[step] & covered:
            balance += 1 if len(closures[step]) >= 2 else -1
        covered |= closures[step]
    return balance


def _fits(target: Call, closure: frozenset[int], covered: set[int], by_step: dict[int, Call], logins: set[int]) -> bool:
    """A target a story may take: no login, no state change of its own turn that a later call of the turn
    undoes (set, then clear; press the brake, then release it) or sets again to something else (a ticket filed as X,
    then renamed Y), and no logout right after its own login.
    A later turn does not pick out of a listing it makes itself ("List who isingh follows. Show me Arjun's
    profile."): the user has not seen the list yet; the listing is a turn of its own, and the pick follows it."""
    if target.step in logins:
        return False
    own = [by_step[step] for step in sorted(closure - covered)]
    if any(
        _reverses(later, earlier) or _overwrites(later, earlier)
        for position, later in enumerate(own)
        for earlier in own[:position]
    ):
        return False
    if covered and _picks_from_own_listing(own):
        return False
    if _picks_from_own_listing(own, changes=True):  # a list a change of this very turn showed: nobody saw it
        return False
    own = [call for call in own if call.step != target.step]
    return not (own and any(call.step in logins for call in own) and _LOGOUT.search(target.tool))


def _gives_back_its_input(call: Call) -> bool:
    return gives_back_its_input(call.arguments, call.result, call.result_names)


def _picks_from_own_listing(own: list[Call], changes: bool = False) -> bool:
    """Whether a call of these picks a value out of the result of a look-up among them (of a state change among
    them, with `changes`: add_to_watchlist's result lists the whole watchlist, and a pick from it is no request)."""
    looked_up = {call.step for call in own if call.changes_state == changes}
    return any(call.provenance[name].get("step") in looked_up for call in own for name in call.choices)


def _reverses(later: Call, earlier: Call) -> bool:
    """Whether state change `later` undoes state change `earlier` on the same object, by the tools' names: an
    object `earlier` named or made (`remove_contact(USR031)` after `add_contact("Olga")` gave USR031); a call
    sending no value acts on the one thing its tool acts on."""
    if not (later.changes_state and earlier.changes_state and undoes(later.tool, earlier.tool)):
        return False
    sent = {canonical_json(value) for value in later.arguments.values()}
    touched = {canonical_json(value) for value in [*earlier.arguments.values(), *leaf_values(earlier.result)]}
    return not sent or bool(sent & touched)


def _overwrites(later: Call, earlier: Call) -> bool:
    """Whether state change `later` sets again, to something else, what state change `earlier` set on the object
    it made ("file a low-priority ticket named X ... call it Y instead, and make it urgent"): in one message a
    person says Y and urgent to begin with; as a later turn ("rename that ticket") it is a change of mind."""
    if not (later.changes_state and earlier.changes_state):
        return False
    made = [  # ids the earlier change brought into being, which the later one acts on
        name
        for name, origin in later.provenance.items()
        if origin.get("step") == earlier.step and later.arguments[name] not in earlier.arguments.values()
    ]
    return bool(made) and any(
        name in earlier.arguments and earlier.arguments[name] != value
        for name, value in later.arguments.items()
        if name not in made
    )


def _opens_session(tool: ToolInfo) -> bool:
    """A login: it provides a `*logged_in` condition (or, declaring nothing, is named so)."""
    provides = (tool.hints or {}).get("provides") or []
    if provides:
        return any("logged_in" in condition for condition in provides)
    # a read-only tool named so (get_login_status) only says whether there is a session
    return bool(_LOGIN.search(tool.name)) and not _LOGOUT.search(tool.name) and tool.read_only is not True


def _batches(calls: list[Call]) -> list[list[int]]:
    """Positions grouped by dependency depth within the turn: a call runs one batch after the last it needs."""
    depth: dict[int, int] = {}
    for call in calls:
        depth[call.step] = 1 + max((depth[needed] for needed in call.needs if needed in depth), default=-1)
    batches: list[list[int]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for position, call in enumerate(calls):
        batches[depth[call.step]].append(position)
    return batches


def _free_inputs(calls: list[Call]) -> dict[str, Any]:
    """`tool.param` -> value for every argument no earlier call produced (a repeated tool gets `.2`, `.3`)."""
    free: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for call in calls:
        seen[call.tool] = seen.get(call.tool, 0) + 1
        suffix = f".{seen[call.tool]}" if seen[call.tool] > 1 else ""
        for parameter, value in call.arguments.items():
            if call.provenance.get(parameter, {}).get("source") not in _RESULT_SOURCES:
                free[f"{call.tool}.{parameter}{suffix}"] = value
    return free


def _public_name(key: str, free_inputs: dict[str, Any]) -> str:
    """`send_message.message` -> `message` unless two calls share the parameter name."""
    parameter = key.split(".")[1]
    clashes = [other for other in free_inputs if other.split(".")[1] == parameter]
    return parameter if len(clashes) == 1 else key.replace(".", "_")


def _assign_variants(plan: DialoguePlan, tools: dict[str, ToolInfo], variants: Variants, rng: random.Random) -> None:
    """Harder variants only where they teach the right lesson.

    Missing parameter: the withheld value is a required one only the user could know (a pool
    value, not a default or a looked-up id; an optional one is nothing to ask for).  Missing
    tool: a tool the dialogue has not used yet, announced later.  Error recovery: always where
    the walk saw the target refused until a state change no hint declares (the assistant
    learns the step from the error); else by share.  The runner keeps it only when the
    sandbox really refuses the mistaken call.
    """
    for turn in plan.turns:
        roll = rng.random()
        if set(turn.target.discovered) & {call.step for call in turn.calls}:
            turn.variant = "error_recovery"  # the walk's own lesson: refused, then the missing step, then done
            continue
        askable = sorted(key for key in turn.free_inputs if _only_the_user_knows(turn, key, tools))
        if roll < variants.missing_parameter and askable:
            turn.variant, turn.withheld = "missing_parameter", rng.choice(askable)
        elif roll < variants.missing_parameter + variants.missing_tool and turn.index < len(plan.turns) - 1:
            used_before = {call.tool for earlier in plan.turns[: turn.index] for call in earlier.calls}
            if turn.target.tool not in used_before:
                turn.variant, turn.withheld = "missing_tool", turn.target.tool
        elif roll < variants.missing_parameter + variants.missing_tool + variants.error_recovery:
            turn.variant = "error_recovery"


def _only_the_user_knows(turn: TurnPlan, key: str, tools: dict[str, ToolInfo]) -> bool:
    """Whether a free input is a required value the user said: one a user could forget and be asked for."""
    call, parameter = turn.free_input_of(key)
    return call.provenance.get(parameter, {}).get("source") in _USER_SOURCES and parameter in tools[call.tool].required


def value_path(data: Any, value: Any, path: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """Where `value` first sits inside `data` (keys and list positions), or None."""
    if data == value and path:
        return path
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, item in items:
        found = value_path(item, value, (*path, key))
        if found is not None:
            return found
    return None
