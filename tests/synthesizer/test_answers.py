"""An answer covers every part the user asked about: each computed value a request spelled out, then the target.

The calls are really executed on the math (or messaging) server over MCP (in-process); its tools' own phrasing words the
request and the answer.
"""

import random

import anyio

from simulator import ServerTarget, Trajectory, replay
from synthesizer.chat_flow import appears
from synthesizer.plan import Variants, plan_dialogue
from synthesizer.wording import answer_for, askable, request_for


def _computed(step, tool):
    return {"source": "result", "step": step, "tool": tool, "field": "result"}


POOL = {"source": "pool"}


def _replayed_walk(calls, env="math"):
    async def execute():
        async with ServerTarget(envs=(env,)).connect() as connection:
            tools = {tool.name: tool for tool in connection.tools}
            return tools, await replay(connection, [(tool, arguments) for tool, arguments, _ in calls], seed=0)

    tools, (steps, final_hash) = anyio.run(execute)
    for step, (_, _, provenance) in zip(steps, calls, strict=True):
        step.provenance = provenance
    trajectory = Trajectory(
        "run-answers-0", "run-answers", 0, env, "default", 0, calls[-1][0], reached=True, steps=steps
    )
    trajectory.final_state_hash = final_hash
    return trajectory, tools


def test_a_nested_computation_is_answered_step_by_step():
    """Default run: "What's the logarithm of 85.68 divided by 32.91 to base 1.07 mod 5?" was answered with the
    remainder only; the quotient and the logarithm the request spelled out were never told."""
    walk, tools = _replayed_walk(
        [
            ("divide", {"a": 85.68, "b": 32.91}, {"a": POOL, "b": POOL}),
            ("logarithm", {"number": 2.60346399270738, "base": 1.07}, {"number": _computed(0, "divide"), "base": POOL}),
            ("modulo", {"dividend": 14.142210711681, "divisor": 5}, {"dividend": _computed(1, "logarithm")}),
        ]
    )
    assert not any(step.is_error for step in walk.steps)
    plan = plan_dialogue(walk, tools, (1, 1), Variants(0, 0, 0), random.Random(0), askable=askable)
    turn = plan.turns[0]
    assert [call.tool for call in turn.calls] == ["divide", "logarithm", "modulo"]
    rng = random.Random(0)
    turn.query = request_for(turn, tools, rng)
    assert "divided by" in turn.query.lower() or "over" in turn.query.lower()
    answer = answer_for(turn, tools, rng)
    quotient, logarithm = (walk.steps[0].result["result"], walk.steps[1].result["result"])
    # each spelled-out value is said as the next call took it, and in the order the calls gave them
    assert appears(answer.lower(), repr(quotient)) and appears(answer.lower(), repr(logarithm)), answer
    assert answer.lower().index(repr(quotient)) < answer.lower().index(repr(logarithm))
    assert "4.14" in answer  # the target's own result, as its answer reports it


def test_a_computation_that_gives_back_its_input_is_no_request():
    """Default run: "the absolute value of the standard deviation of ..." is the standard deviation again; no
    answer could tell the target's result from its input, and nobody asks it."""
    walk, tools = _replayed_walk(
        [
            ("calculate_standard_deviation", {"numbers": [2.0, 9.5]}, {"numbers": POOL}),
            ("absolute_value", {"number": 3.75}, {"number": _computed(0, "calculate_standard_deviation")}),
        ]
    )
    plan = plan_dialogue(walk, tools, (1, 1), Variants(0, 0, 0), random.Random(0), askable=askable)
    assert [call.tool for call in plan.turns[0].calls] == ["calculate_standard_deviation"]


def test_a_change_that_returns_nothing_is_answered_as_done():
    """BFCL's `mkdir` returns None when it made the folder: its answers read "Nothing came back" (46 of 1,402
    file-system answers on the BFCL run)."""

    async def execute():
        async with ServerTarget(envs=("bfcl:GorillaFileSystem",)).connect() as connection:
            tools = {tool.name: tool for tool in connection.tools}
            return tools, await replay(connection, [("mkdir", {"dir_name": "drafts"})], seed=0)

    tools, (steps, _) = anyio.run(execute)
    assert steps[0].result is None and not steps[0].is_error
    steps[0].provenance = {"dir_name": POOL}
    walk = Trajectory(
        "run-fs-0", "run-fs", 0, "bfcl:GorillaFileSystem", "default", 0, "mkdir", reached=True, steps=steps
    )
    turn = plan_dialogue(walk, tools, (1, 1), Variants(0, 0, 0), random.Random(0), askable=askable).turns[0]
    answer = answer_for(turn, tools, random.Random(0))
    assert "drafts" in answer and "nothing" not in answer.lower(), answer


def test_the_users_own_id_looked_up_for_their_login_is_who_they_are_not_a_question():
    """Default run: "Please find out Karim's user id for me. Search for every message containing 'review'." then
    logged in as the Karim it looked up; the user is Karim: "I'm Karim", and no answer reports their own id."""
    walk, tools = _replayed_walk(
        [
            ("get_user_id", {"user_name": "Farah"}, {"user_name": POOL}),
            ("log_in", {"user_id": "USR006"}, {"user_id": {**_computed(0, "get_user_id"), "field": "user_id"}}),
            ("search_messages", {"keyword": "review"}, {"keyword": POOL}),
        ],
        env="messaging",
    )
    assert not any(step.is_error for step in walk.steps)
    plan = plan_dialogue(walk, tools, (1, 1), Variants(0, 0, 0), random.Random(0), askable=askable)
    turn = plan.turns[0]
    assert [call.tool for call in turn.calls] == ["get_user_id", "log_in", "search_messages"]
    for seed in range(8):
        request = request_for(turn, tools, random.Random(seed))
        assert "I'm Farah" in request and "user id" not in request.lower(), request
        assert not turn.asked
