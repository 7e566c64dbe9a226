"""Planning a dialogue from a trajectory: turns, their ground-truth calls, free inputs and the advanced tool.

A trajectory's successful calls are cut into 2-5 user turns in one sandbox.  Each
turn's *free inputs* are the argument values no earlier call produced (they must
appear in the user's words); every other argument is implicit, to be taken from an
earlier result, which is what makes the query hard.  The turn's calls compose one
*advanced tool* whose parameters are the free inputs and whose result is the last
call's result (FunReason-MT, advanced tool-query synthesis).
"""

import random
from dataclasses import asdict, dataclass, field
from typing import Any

from simulator import ToolInfo, Trajectory

__all__ = ["AdvancedTool", "Call", "DialoguePlan", "TurnPlan", "Variants", "plan_dialogue"]


@dataclass(frozen=True)
class Variants:
    """Shares of turns given each harder variant (the rest are plain)."""

    missing_parameter: float = 0.15
    missing_tool: float = 0.1
    error_recovery: float = 0.15


@dataclass
class Call:
    """One ground-truth call, as the explorer executed it."""

    step: int
    tool: str
    arguments: dict[str, Any]
    result: Any
    provenance: dict[str, dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"tool": self.tool, "arguments": self.arguments, "result": self.result}


@dataclass
class AdvancedTool:
    """The calls of one turn composed into one tool: free inputs in, final result out."""

    name: str
    description: str
    parameters: dict[str, Any]
    result: Any
    calls: list[str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TurnPlan:
    index: int
    calls: list[Call]
    free_inputs: dict[str, Any]
    variant: str = "plain"
    withheld: str | None = None
    """missing_parameter: the free input left out of the query; missing_tool: the tool withheld."""
    advanced_tool: AdvancedTool | None = None
    query: str = ""
    hint: str | None = None
    """The critic's last hint, shown to the reasoning role on the next attempt."""

    @property
    def target(self) -> Call:
        return self.calls[-1]


@dataclass
class DialoguePlan:
    trajectory: Trajectory
    turns: list[TurnPlan] = field(default_factory=list)


def plan_dialogue(
    trajectory: Trajectory,
    tools: dict[str, ToolInfo],
    turns: tuple[int, int],
    variants: Variants,
    rng: random.Random,
) -> DialoguePlan | None:
    """Cut a trajectory into turns; None when it has too few successful calls for `turns[0]` turns."""
    calls = [
        Call(step.index, step.tool, step.arguments, step.result, step.provenance)
        for step in trajectory.steps
        if not step.is_error and step.tool in tools
    ]
    if trajectory.status != "complete" or len(calls) < turns[0]:
        return None
    boundaries = [index + 1 for index, call in enumerate(calls[:-1]) if _ends_a_goal(call, calls, tools)]
    count = min(rng.randint(*turns), len(boundaries) + 1)
    if count < turns[0]:
        return None
    cuts = sorted(rng.sample(boundaries, count - 1)) + [len(calls)]
    plan = DialoguePlan(trajectory)
    start = 0
    used = {origin.get("step") for call in calls for origin in call.provenance.values()}
    for index, end in enumerate(cuts):
        segment = calls[start:end]
        # A look-up whose result nothing uses is exploration noise, not a step the request needs.
        turn_calls = [
            call
            for position, call in enumerate(segment)
            if position == len(segment) - 1 or tools[call.tool].read_only is not True or call.step in used
        ]
        turn = TurnPlan(index, turn_calls, _free_inputs(turn_calls, tools))
        turn.advanced_tool = compose_advanced_tool(turn, tools)
        plan.turns.append(turn)
        start = end
    _assign_variants(plan, variants, rng)
    return plan


def compose_advanced_tool(turn: TurnPlan, tools: dict[str, ToolInfo]) -> AdvancedTool:
    """The deterministic part of tool synthesis: parameters are the free inputs, result the last result."""
    properties = {}
    for name in turn.free_inputs:
        tool_name, parameter = name.split(".", 1)
        schema = dict(tools[tool_name].parameters.get(parameter, {}))
        schema.pop("default", None)
        schema.setdefault("description", f"The {parameter.replace('_', ' ')}.")
        properties[_public_name(name, turn.free_inputs)] = schema
    target = tools[turn.target.tool]
    chain = [call.tool for call in turn.calls]
    return AdvancedTool(
        name=f"{turn.target.tool}_workflow" if len(chain) > 1 else turn.target.tool,
        description=target.description.split("\n")[0]
        + (f" (composes: {' -> '.join(chain)})" if len(chain) > 1 else ""),
        parameters={"type": "object", "properties": properties, "required": list(properties)},
        result=turn.target.result,
        calls=chain,
    )


def _ends_a_goal(call: Call, calls: list[Call], tools: dict[str, ToolInfo]) -> bool:
    """A turn may end after a call that changes state or whose result is the point of asking."""
    return tools[call.tool].read_only is not True or not any(
        origin.get("step") == call.step for later in calls for origin in later.provenance.values()
    )


def _free_inputs(calls: list[Call], tools: dict[str, ToolInfo]) -> dict[str, Any]:
    """`tool.param` -> value for every argument no earlier call produced."""
    free = {}
    for call in calls:
        for parameter, value in call.arguments.items():
            if call.provenance.get(parameter, {}).get("source") not in ("result", "probe"):
                free[f"{call.tool}.{parameter}"] = value
    return free


def _public_name(name: str, free_inputs: dict[str, Any]) -> str:
    """`send_message.message` -> `message` unless two tools share the parameter name."""
    parameter = name.split(".", 1)[1]
    clashes = [other for other in free_inputs if other.split(".", 1)[1] == parameter]
    return parameter if len(clashes) == 1 else name.replace(".", "_")


def _assign_variants(plan: DialoguePlan, variants: Variants, rng: random.Random) -> None:
    for turn in plan.turns:
        roll = rng.random()
        if roll < variants.missing_parameter and turn.free_inputs:
            turn.variant, turn.withheld = "missing_parameter", rng.choice(sorted(turn.free_inputs))
        elif roll < variants.missing_parameter + variants.missing_tool and turn.index < len(plan.turns) - 1:
            used_before = {call.tool for earlier in plan.turns[: turn.index] for call in earlier.calls}
            if turn.target.tool not in used_before:
                turn.variant, turn.withheld = "missing_tool", turn.target.tool
        elif roll < variants.missing_parameter + variants.missing_tool + variants.error_recovery:
            turn.variant = "error_recovery"
