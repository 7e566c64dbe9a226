"""A pruned plan replays: a kept call whose success an earlier, unasked-for change made possible keeps that change.

The walks are executed on the real filesystem and vehicle servers, and the planned calls again in a fresh sandbox.
"""

import dataclasses
import random

import anyio

from simulator import ServerTarget, Trajectory, replay
from synthesizer.plan import DialoguePlan, Variants, plan_turns, successful_calls


def _from(step, field):
    return {"source": "result", "step": step, "field": field}


POOL = {"source": "pool"}


async def _walk_and_replay(walk, targets, env="filesystem"):
    """Execute `walk` (tool, arguments or a function of the results so far, provenance), plan one turn per
    target step, and replay the plan's calls in a fresh sandbox: the plan's turns and the replayed steps."""
    async with ServerTarget(envs=(env,)).connect() as connection:
        tools = {tool.name: tool for tool in connection.tools}
        await connection.reset(0)
        trajectory = Trajectory("t-1", "run", 0, env, "default", 0, walk[-1][0])
        for index, (tool, arguments, provenance) in enumerate(walk):
            results = [step.result for step in trajectory.steps]
            step = await connection.call(tool, arguments(results) if callable(arguments) else arguments)
            assert not step.is_error, step.text
            trajectory.steps.append(dataclasses.replace(step, index=index, provenance=provenance))
        calls = successful_calls(trajectory, tools)
        plan = plan_turns(DialoguePlan(trajectory), calls, targets, tools, Variants(0, 0, 0), random.Random(0))
        planned = [(call.tool, call.arguments) for turn in plan.turns for call in turn.calls]
        steps, _ = await replay(connection, planned, 0)
    return plan, steps


def test_a_copy_onto_a_name_a_removal_freed_keeps_the_removal():
    """The walk of a rejected sample: touch X, rm X, mkdir D, cp D X; the turns ask for the touch and the cp."""
    walk = [
        ("touch", {"file_name": "ideas.txt"}, {"file_name": POOL}),
        ("rm", lambda results: {"path": results[0]["path"]}, {"path": _from(0, "path")}),
        ("mkdir", {"dir_name": "backup"}, {"dir_name": POOL}),
        (
            "cp",
            lambda results: {"source": results[2]["path"], "destination": results[0]["path"]},
            {"source": _from(2, "path"), "destination": _from(0, "path")},
        ),
    ]
    plan, steps = anyio.run(_walk_and_replay, walk, [0, 3])
    assert [[call.tool for call in turn.calls] for turn in plan.turns] == [["touch"], ["rm", "mkdir", "cp"]]
    assert [step.text for step in steps if step.is_error] == []


def test_starting_the_engine_again_keeps_the_stop_in_between():
    """start, stop, start: the second start is possible only because of the stop, which no turn asked for."""
    walk = [
        ("lock_all_doors", {}, {}),
        ("press_brake_pedal", {"force_newtons": 400}, {"force_newtons": POOL}),
        ("start_engine", {}, {}),
        ("stop_engine", {}, {}),
        ("start_engine", {}, {}),
    ]
    plan, steps = anyio.run(_walk_and_replay, walk, [2, 4], "vehicle")
    assert [[call.tool for call in turn.calls] for turn in plan.turns] == [
        ["lock_all_doors", "press_brake_pedal", "start_engine"],
        ["stop_engine", "start_engine"],
    ]
    assert [step.text for step in steps if step.is_error] == []
