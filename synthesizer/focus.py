"""Focused synthesis: turn targets, dependency patterns and variants weighted by where a model failed.

The weights and the share they decide come from `simulator.focus.Focus` (read from `funreason eval
--json`); this module applies them to what the synthesizer decides: which calls of a walk become
turn targets (`focused_target`, the planner's one hook), the shares of the turn variants
(`focused_variants`), and what goes into training files (`is_held_out`); `focus_figures` measures
the make-up of the data it gave, for the report, and `coverage_shortfall` the tools it left thin, for the
walks of `run`'s coverage rounds.
"""

import dataclasses
import math
import random
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from simulator.focus import Focus
from synthesizer.dialogue import Turn
from synthesizer.plan import Call, Variants
from synthesizer.samples import Sample

__all__ = ["COVERAGE_MARGIN", "coverage_shortfall", "focus_figures", "focus_for", "focused_target",
           "focused_variants", "is_held_out"]  # fmt: skip

_RESULT_SOURCES = ("result", "probe")

COVERAGE_MARGIN = 1.25
"""A coverage round aims each thin tool at this many times 1 turn per 1,000: its own walks add turns too."""


def focused_target(
    focus: Focus,
    rng: random.Random,
    by_step: Mapping[int, Call],
    closures: Mapping[int, frozenset[int]],
    candidates: list[int],
    covered: set[int],
) -> int | None:
    """The planner's next turn target (a step among `candidates`), drawn by weight with probability `share`;
    None: the planner picks as without a focus.

    A candidate weighs its tool's failure rate times one plus the failure rates of the dependency patterns its
    turn would show, given the steps earlier-chosen turns `covered` (the patterns of `evaluation.profile`): the
    patterns choose among the failed tools' turns, as a failed tool's turns are where its patterns failed.  That
    is divided by the number of candidates of weighed tools its turn would take in (itself included): a turn
    that swallows the chain of another failed tool leaves that tool no turn of its own.  And it is multiplied by
    one plus the failure rates of the weighed candidates after it that its turn leaves alone: a story's turns
    follow the walk's order, so a turn taken early leaves the failed tools' later calls turns of their own,
    where one taken late would end the story among tools that never failed.
    """
    weighed = {step for step in candidates if focus.tools.get(by_step[step].tool, 0.0) > 0}
    rate = {step: focus.tools.get(by_step[step].tool, 0.0) for step in weighed}
    weights = {
        step: rate[step]
        * (1 + sum(focus.patterns.get(pattern, 0.0) for pattern in _patterns(step, by_step, closures, covered)))
        / max(1, len(weighed & closures[step]))
        * (1 + sum(rate[later] for later in weighed - closures[step] if later > step))
        for step in weighed
    }
    return focus.pick(sorted(weighed), rng, weights)


def focus_for(focus: Focus | None, explored: Mapping[str, Any] | None) -> Focus | None:
    """Synthesis's focus for a trajectory whose exploration recorded `explored` (its focus identity): the
    share of tool decisions its environment got (`Focus.for_env`) when both come from the same eval file."""
    if focus is None or not explored or explored.get("file_sha256") != focus.source:
        return focus
    return dataclasses.replace(focus, in_env=explored.get("share_in_env"))


def focused_variants(variants: Variants, focus: Focus | None) -> Variants:
    """The variants' shares mixed with their failure rates (`plain` is the rest): `Focus.mixed` over all four."""
    if focus is None or not focus.variants:
        return variants
    base = {
        "plain": max(0.0, 1 - variants.missing_parameter - variants.missing_tool - variants.error_recovery),
        "missing_parameter": variants.missing_parameter,
        "missing_tool": variants.missing_tool,
        "error_recovery": variants.error_recovery,
    }
    mixed = focus.mixed(base, focus.variants)
    return Variants(mixed["missing_parameter"], mixed["missing_tool"], mixed["error_recovery"])


def is_held_out(focus: Focus | None, sample: Sample) -> bool:
    """Whether a sample is one of the focus eval's tasks (by id, trajectory or request): never training data."""
    queries = [turn.request for turn in sample.dialogue.turns]
    return focus is not None and focus.is_held_out(sample.id, sample.trajectory_ids, queries)


def focus_figures(samples: Iterable[Sample], focus: Focus, tools: Iterable[str]) -> dict[str, Any]:
    """The focused data's make-up: per tool its failure rate (the profile before), its share of turn targets
    without a focus (uniform: one tool of all `tools`) and in the data, and the turns that call it at all
    (a login is never a turn's target, yet a turn that signs in teaches it); and the focused tools' total shares."""
    targets, calling, held_out = _turn_counts(samples, focus)
    names = sorted(set(tools) | set(focus.tools))
    turns = sum(targets.values())
    focused = [name for name in names if focus.tools.get(name, 0) > 0]
    per_tool = {
        name: {
            "failure_rate": focus.tools.get(name, 0.0),
            "uniform_share": round(1 / len(names), 4),
            "focused_share": round(targets[name] / turns, 4) if turns else 0.0,
            "turns": targets[name],
            "turns_calling": calling[name],
        }
        for name in names
    }
    others = [name for name in names if name not in focused]

    def fewest_per_1000(counts: Counter[str]) -> float | None:
        return round(1000 * min(counts[name] for name in others) / turns, 2) if others and turns else None

    return {
        "file_sha256": focus.source,
        "share": focus.share,
        "turns": turns,
        "focused_tools": focused,
        "focused_tools_uniform_share": round(len(focused) / len(names), 4) if names else 0.0,
        "focused_tools_share": round(sum(targets[name] for name in focused) / turns, 4) if turns else 0.0,
        "fewest_turns_per_1000_of_other_tools": fewest_per_1000(targets),
        "fewest_turns_calling_per_1000_of_other_tools": fewest_per_1000(calling),
        "other_tools_under_1_per_1000": sum(1 for name in others if 1000 * calling[name] < turns),
        "held_out_samples_left_out": held_out,
        "per_tool": per_tool,
    }


def coverage_shortfall(
    samples: Iterable[Sample],
    focus: Focus,
    tools_by_env: Mapping[str, Sequence[str]],
    unreached: Collection[str] = frozenset(),
    round_number: int = 1,
) -> dict[str, list[str]]:
    """A coverage round's targets: per environment, the tools the model passed that fewer than 1 turn per 1,000
    of `samples` call, each as many times as it lacks turns to `COVERAGE_MARGIN` times that, in rounds of one
    each (name order).  Left out: a tool still without a turn whose walks of an earlier round never got to call
    it (`unreached`: a ticket to reopen in no world); one with a turn, or one they reached, gets walks for what it
    still lacks, though they gave it no turn.  Round n sends n walks a turn lacking: the tools still thin after a
    round are those its walks reach least often.  A sampled decision (the focus's uniform part) spreads turns
    unevenly; these walks lift the tools it left thin."""
    targets, calling, _ = _turn_counts(samples, focus)
    turns = sum(targets.values())
    wanted = math.ceil(COVERAGE_MARGIN * turns / 1000)
    shortfall: dict[str, list[str]] = {}
    for env, tools in sorted(tools_by_env.items()):
        lacking = {
            tool: (wanted - calling[tool]) * round_number
            for tool in sorted(tools)
            if focus.tools.get(tool, 0.0) <= 0
            and 1000 * calling[tool] < turns
            and (tool not in unreached or calling[tool] > 0)
        }
        rounds = [
            tool for times in range(max(lacking.values(), default=0)) for tool in lacking if lacking[tool] > times
        ]
        if rounds:
            shortfall[env] = rounds
    return shortfall


def _turn_counts(samples: Iterable[Sample], focus: Focus) -> tuple[Counter[str], Counter[str], int]:
    """Turns by target tool and by each tool they call, over the samples that are not the eval's tasks; and how
    many were."""
    targets: Counter[str] = Counter()
    calling: Counter[str] = Counter()
    held_out = 0
    for sample in samples:
        if is_held_out(focus, sample):
            held_out += 1
            continue
        targets.update(_target(turn) for turn in sample.dialogue.turns)
        calling.update(tool for turn in sample.dialogue.turns for tool in {call["tool"] for call in turn.calls})
    return targets, calling, held_out


def _target(turn: Turn) -> str:
    return turn.target or (turn.calls[-1]["tool"] if turn.calls else "")


def _patterns(
    step: int, by_step: Mapping[int, Call], closures: Mapping[int, frozenset[int]], covered: set[int]
) -> set[str]:
    """The dependency patterns the turn of target `step` would show: values from turns chosen before it (read
    or made there), a state one of its own calls establishes, calls of its own that need nothing of each other."""
    own = sorted(closures[step] - covered)
    found = set()
    depth: dict[int, int] = {}
    for position in own:
        call = by_step[position]
        values = {origin.get("step") for origin in call.provenance.values() if origin.get("source") in _RESULT_SOURCES}
        for producer in values & covered:
            found.add("earlier_object" if by_step[producer].changes_state else "carried_value")
        if (set(call.needs) - values) & set(own):  # a state a call of this very turn sets up
            found.add("implicit_state")
        depth[position] = 1 + max((depth[needed] for needed in call.needs if needed in depth), default=-1)
    if len(depth) != len(set(depth.values())):
        found.add("parallel_calls")
    return found
