"""Coverage walks' way to their target (`ExploreConfig.targets`): what to call when the target, or a call on
the way to it, was refused or changed nothing, and when to ask the same again (or, for a computation that gave
back its input, to ask it with other numbers).  A walk's model of the state is a
flat record of what was called; these read what the sandbox answered instead."""

import re
from typing import Any

from simulator.records import Step, ToolInfo, Trajectory
from simulator.undo import name_words, undoes
from simulator.values import json_types, leaf_values, value_key

__all__ = [
    "blamed",
    "changed_nothing",
    "detour_for",
    "gives_back_its_input",
    "refused_for_the_state",
    "refused_since_success",
    "takes_numbers",
    "undone_since",
    "worth_trying",
]


def undone_since(steps: list[Step], tool: str) -> bool:
    """Whether a later call changed what `tool`'s last successful call changed (the doors it locked were unlocked
    since): the same request again is then a change of its own ("lock them again"), not a repeat."""
    last = next((step for step in reversed(steps) if step.tool == tool and not step.is_error), None)
    if last is None or not last.diff:
        return False
    paths = {tuple(change["path"]) for change in last.diff}
    later = steps[last.index + 1 :]
    return any(tuple(change["path"]) in paths for step in later if not step.is_error for change in step.diff or ())


def detour_for(
    refused: Step,
    tools: dict[str, ToolInfo],
    steps: list[Step],
    called: set[str],
    excluded: set[str],
    target: str,
) -> str | None:
    """What an aimed walk calls when its target, or a call on the way to it, was refused or changed nothing: a tool
    the error names ("press the brake pedal (press_brake_pedal) first"), else one that provides a state the refused
    tool requires and no call has provided, else, for the target, one that reverses it or that it reverses (the
    parking brake was engaged already: release it; nothing to delete: create it).  A detour on the way is not
    reversed: `start_engine` refused as the engine runs already has done its part, and stopping the engine to start
    it again only makes a turn that does not replay.  Never one refused since the walk's last success, nor one whose
    success still stands."""
    open_ = [
        name
        for name in tools
        if name != refused.tool
        and name not in excluded
        and not refused_since_success(steps, name)
        and (name not in called or undone_since(steps, name) or blamed(refused, steps, tools[name]))
    ]
    provided = {condition for name in called for condition in (tools[name].hints or {}).get("provides", [])}
    unmet = set((tools[refused.tool].hints or {}).get("requires", [])) - provided
    named = [name for name in open_ if _names(refused.text, name)]
    providing = [name for name in open_ if unmet & set((tools[name].hints or {}).get("provides", []))]
    words = set(name_words(refused.tool))
    reversing = sorted(  # the one on the most of the same things: release_parking_brake, not release_brake_pedal
        (
            name
            for name in open_
            if refused.tool == target
            and tools[name].read_only is not True
            and (undoes(name, refused.tool) or undoes(refused.tool, name))
        ),
        key=lambda name: -len(words & set(name_words(name))),
    )
    return next((options[0] for options in (named, providing, reversing) if options), None)


def blamed(refused: Step, steps: list[Step], tool: ToolInfo) -> bool:
    """Whether a refusal points at what `tool`'s latest success did, so that doing it again, with other values,
    may clear the way: it names a thing that call made ("order ORD00027 is already filled": a market order fills
    at once, and only a pending one can be cancelled) or the state it provides ("you are logged in as a
    customer": only an agent resolves tickets)."""
    last = next((step for step in reversed(steps) if step.tool == tool.name and not step.is_error), None)
    if last is None or not refused.text:
        return False
    sent = set(map(_spelled, last.arguments.values()))
    made = [value for value in leaf_values(last.result) if isinstance(value, str) and len(value) > 2]
    if any(value not in sent and _names(refused.text, value) for value in made):
        return True
    states = [" ".join(condition.split("_")[1:]) for condition in (tool.hints or {}).get("provides", [])]
    return any(state and state in refused.text for state in states)


def refused_since_success(steps: list[Step], tool: str) -> bool:
    """Whether `tool` was refused after the walk's latest successful call: nothing has changed to let it through."""
    for step in reversed(steps):
        if not step.is_error:
            return False
        if step.tool == tool:
            return True
    return False


def refused_for_the_state(steps: list[Step], tool: str) -> Step | None:
    """`tool`'s latest call when it was refused for the state, not for a value: its error names none of the
    values it was sent ("switch the engine off (stop_engine) before refuelling", not "no order 'ORD00013'"), a
    later call changed the state, and the same call was not refused so before (then it was not the state, or
    not one the walk changes; refused for another reason, the engine is on now but the handbrake is not off).
    Made again with the same values, the refusal and the success show what the change was for, as synthesis
    reads a walk (the same call refused, then done)."""
    last = next((step for step in reversed(steps) if step.tool == tool), None)
    if last is None or not last.is_error:
        return None
    if any(
        step.tool == tool and step.is_error and (step.arguments, step.text) == (last.arguments, last.text)
        for step in steps[: last.index]
    ):
        return None
    if not any(not step.is_error and step.diff != [] for step in steps[last.index + 1 :]):
        return None
    items = [item for value in last.arguments.values() for item in (value if isinstance(value, list) else [value])]
    sent = [_spelled(item) for item in items]
    return None if any(value and value in (last.text or "") for value in sent) else last


def _names(text: str | None, word: str) -> bool:
    """Whether a message names `word` as a word of its own: `stop_engine`, not `stop_engine_timer`."""
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text or "") is not None


def _spelled(value: Any) -> str:
    """A value as an error message would spell it: 30.0 as "30", True as nothing (no message names a flag)."""
    if isinstance(value, bool | dict):
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def worth_trying(trajectory: Trajectory, goal: str, excluded: set[str]) -> bool:
    """Whether an aimed walk calls its goal (the target, or a detour to it) now, whatever its model says is missing
    (the engine runs from the start, so `stop_engine` needs no `start_engine`, which is refused): the target not
    reached yet, and the goal not refused since the walk's latest success."""
    return not trajectory.reached and goal not in excluded and not refused_since_success(trajectory.steps, goal)


def changed_nothing(tool: ToolInfo, step: Step) -> bool:
    """A state change the sandbox says changed nothing (`lock_door` on a locked door): no request would ask it."""
    return tool.read_only is False and step.diff == []


def takes_numbers(tool: ToolInfo) -> bool:
    """Whether every value a tool requires is a number or a list of numbers, values a user states ("the median of
    4, 9 and 12"), not results of earlier calls that no request could say."""

    def numeric(schema: dict[str, Any]) -> bool:
        return bool(json_types(schema)) and json_types(schema) <= {"number", "integer"}

    parameters = tool.parameters
    return bool(tool.required) and all(
        numeric(parameters.get(name, {})) or numeric(parameters.get(name, {}).get("items", {}))
        for name in tool.required
    )


def gives_back_its_input(arguments: dict[str, Any], result: Any, names: dict[str, str]) -> bool:
    """A computation whose answer is one of its own inputs (|3.59| is 3.59; 14.14 mod 91.31 leaves 14.14; 0 over
    21.54 is 0): nobody asks it, and no answer could tell its result from what the user said.  `names` are the
    result fields the tool's hints phrase (`{"remainder": ...}`): what the computation answers."""
    if not names or not isinstance(result, dict):
        return False
    inputs = {value_key(value) for value in arguments.values()}
    named = [  # a zero the inputs do not hold is news (14.14 mod 91.31 goes 0 times); 0 over 21.54 is the 0 again
        value_key(result[field])
        for field in names
        if result.get(field) is not None and (result[field] != 0 or value_key(result[field]) in inputs)
    ]
    return bool(named) and all(value in inputs for value in named)
