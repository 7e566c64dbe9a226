"""Recorded sessions as stories: every goal a client pursued becomes a turn, in the order it pursued them.

An explored walk is raw material: the planner picks the few targets a user would ask for and
prunes the rest.  A recorded session is already a story, so nothing of it is chosen away:

* A *goal* is a successful call the client made for its own sake: every state change, and every
  look-up whose result no later call takes.  A look-up whose result a later call takes (the user
  id before a message) is a step of that later goal, which keeps its request a hard query.
* Each goal is one turn, with the prerequisites of its closure that no earlier turn holds; every
  successful call belongs to exactly one turn, in recorded order.
* A call the server refused is left out (the dialogue teaches the calls that worked); the
  sample's `goals` record says which and why.
* A session of more goals than a dialogue may hold is cut into consecutive parts of near-equal
  size.  A later part starts from the state the earlier ones left: their calls are replayed,
  unseen, before its first turn.  What a later part takes from an earlier one's results the user
  says again ("delete message MSG0005"), except a session credential nobody says (a token): the
  log-in that gave it is made again, from the user's own credentials, in the first turn needing it.
"""

import dataclasses
import math
import random
from typing import Any

from simulator import Store, ToolInfo, Trajectory
from synthesizer.plan import Askable, Call, DialoguePlan, Variants, closure, plan_turns, successful_calls
from synthesizer.samples import SampleStore

__all__ = ["SessionPart", "account_for", "plan_session", "session_accounts"]

_RESULT_SOURCES = ("result", "probe")


@dataclasses.dataclass(frozen=True)
class SessionPart:
    """One sample's share of a recorded session: its plan and the account of the session's goals."""

    plan: DialoguePlan
    part: int
    """0 for the first part; later parts start where the one before ended."""
    goals: dict[str, Any]
    """`recorded` (goals in the session), `kept` (this part's), `part`/`parts` and `dropped` (calls left
    out, each with its step, tool and reason)."""


def plan_session(
    trajectory: Trajectory,
    tools: dict[str, ToolInfo],
    turns: tuple[int, int],
    variants: Variants,
    rng: random.Random,
    askable: Askable,
) -> list[SessionPart]:
    """The recorded session as consecutive dialogue plans holding every goal; [] when it has no goal.

    `turns` bounds the turns of one dialogue; a session of more goals is cut into parts.
    `askable(target, closure)` is the query writer's judgement, as for `plan_dialogue`.
    """
    calls = successful_calls(trajectory, tools)
    dropped = [
        {"step": step.index, "tool": step.tool, "reason": f"refused by the server: {_first_line(step)}"}
        for step in trajectory.steps
        if step.is_error
    ]
    goals = _goals(calls, tools, askable)
    if not goals:
        return []
    parts = _cut(goals, turns)
    plans: list[SessionPart] = []
    for number, part_goals in enumerate(parts):
        start = parts[number - 1][-1] if number else -1  # the earlier parts hold every call up to their last goal
        setup = [call for call in calls if call.step <= start]
        own = _continuing([call for call in calls if start < call.step <= part_goals[-1]], setup)
        plan = plan_turns(DialoguePlan(trajectory, setup=setup), own, part_goals, tools, variants, rng)
        record = {"recorded": len(goals), "kept": len(plan.turns), "part": number + 1, "parts": len(parts)}
        plans.append(SessionPart(plan, number, {**record, "dropped": dropped}))
    return plans


def account_for(goals: dict[str, Any], planned: dict[int, str], kept: set[int]) -> dict[str, Any]:
    """A part's goals record once it ran: planned goals (step -> tool) its dialogue did not reach are dropped.

    The chain ends a dialogue before a request no user could make, or where the ground truth no
    longer replays; what came after is then said here, not lost silently.
    """
    lost = [
        {"step": step, "tool": tool, "reason": "the dialogue ended before it (no request a user could make)"}
        for step, tool in planned.items()
        if step not in kept
    ]
    return {**goals, "kept": len(kept), "dropped": sorted([*goals["dropped"], *lost], key=lambda d: d["step"])}


def session_accounts(store: Store) -> list[dict[str, Any]]:
    """Per recorded session in the store: goals recorded, goals in samples, goals dropped with their reasons.

    A session that gave no sample is listed with its reject's reason.
    """
    accounts: dict[str, dict[str, Any]] = {}
    for sample in SampleStore(store).iter_samples():
        if sample.goals is None:
            continue
        trajectory = sample.trajectory_ids[0]
        fresh = {"recorded": sample.goals["recorded"], "in_samples": 0, "dropped": {}}
        account = accounts.setdefault(trajectory, fresh)
        account["in_samples"] += sample.goals["kept"]
        account["dropped"].update({str(d["step"]): d for d in sample.goals["dropped"]})
    rows = store.db.execute(
        "SELECT r.trajectory_id, r.reason FROM rejects r JOIN trajectories t ON t.id = r.trajectory_id "
        "WHERE t.source = 'record'"
    ).fetchall()
    for trajectory, reason in rows:
        accounts.setdefault(trajectory, {"recorded": None, "in_samples": 0, "dropped": {}, "reason": reason})
    return [
        {"trajectory": trajectory, **account, "dropped": sorted(account["dropped"].values(), key=lambda d: d["step"])}
        for trajectory, account in sorted(accounts.items())
    ]


def _goals(calls: list[Call], tools: dict[str, ToolInfo], askable: Askable) -> list[int]:
    """Steps of the calls made for their own sake: all but look-ups whose result a later call takes.

    A look-up stays a goal of its own where the later request could not say what it picked
    without it (two cards of one holder): the user saw the list, then chose from it.
    """
    taken = {
        origin["step"]
        for call in calls
        for origin in call.provenance.values()
        if origin.get("source") in _RESULT_SOURCES and "step" in origin
    }
    by_step = {call.step: call for call in calls}
    goals = [call.step for call in calls if not (tools[call.tool].read_only is True and call.step in taken)]
    steps, earlier = list(goals), set()
    for goal in goals:
        needed = closure(goal, by_step)
        if not askable(by_step[goal], [by_step[step] for step in sorted(needed)]):
            steps += [step for step in needed - earlier if step not in goals]  # its own look-ups only
        earlier |= needed
    return sorted(set(steps))


def _cut(goals: list[int], turns: tuple[int, int]) -> list[list[int]]:
    """Goals in consecutive parts of at most `turns[1]`, as equal in size as they can be."""
    count = max(1, math.ceil(len(goals) / turns[1]))
    size, extra = divmod(len(goals), count)
    parts, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        parts.append(goals[start:end])
        start = end
    return parts


def _continuing(own: list[Call], setup: list[Call]) -> list[Call]:
    """A later part's calls: values from an earlier part are the user's to say again, credentials are remade.

    The earlier part's results are not in this dialogue.  A value the user can say (a message
    id, a file name) becomes the user's own; a credential nobody says keeps its producing call,
    made again in this part.
    """
    if not setup:
        return own
    earlier = {call.step: call for call in setup}
    remade: dict[int, Call] = {}
    continued = []
    for call in own:
        provenance = dict(call.provenance)
        needs = set(call.needs)
        for parameter, origin in call.provenance.items():
            step = origin.get("step")
            if origin.get("source") not in _RESULT_SOURCES or step not in earlier:
                continue
            if parameter.endswith("token"):
                remade[step] = earlier[step]
                continue
            provenance[parameter] = {"source": "user", "seen_in": origin}
            needs.discard(step)
        needs -= set(earlier) - set(remade)
        continued.append(dataclasses.replace(call, provenance=provenance, needs=tuple(sorted(needs))))
    return sorted([*remade.values(), *continued], key=lambda call: call.step)


def _first_line(step: Any) -> str:
    text = step.text if isinstance(getattr(step, "text", None), str) else str(step.result)
    return (text.strip().splitlines() or [""])[0][:200]
