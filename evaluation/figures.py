"""Eval figures from attempts: turn and dialogue accuracy, pass^k (τ-bench's), per environment and variant,
calls per turn against the ground truth, failure kinds."""

from collections import Counter, defaultdict
from collections.abc import Iterable
from math import comb
from typing import Any

from evaluation.checker import FAILURE_KINDS
from evaluation.runner import Attempt

__all__ = ["eval_figures", "pass_hat_k"]


def pass_hat_k(successes: Iterable[tuple[int, int]], k: int) -> float | None:
    """τ-bench's pass^k: the mean over tasks of C(c, k) / C(n, k) for c successes in n trials (None if no n >= k)."""
    values = [comb(c, k) / comb(n, k) for n, c in successes if n >= k]
    return sum(values) / len(values) if values else None


def eval_figures(attempts: list[Attempt], k: int) -> dict[str, Any]:
    """Every figure `funreason eval` reports, as JSON-ready data."""
    figures = _group(attempts, k)
    envs = sorted({attempt.task.env for attempt in attempts})
    figures["per_env"] = {env: _group([a for a in attempts if a.task.env == env], k) for env in envs}
    by_variant: dict[str, list[bool]] = defaultdict(list)
    for attempt in attempts:
        for turn, grade in zip(attempt.task.turns, attempt.grades, strict=True):
            by_variant[turn.variant].append(grade.passed)
    figures["per_variant"] = {
        variant: {"turns": len(passed), "turn_accuracy": _share(sum(passed), len(passed))}
        for variant, passed in sorted(by_variant.items())
    }
    checkers = sorted({grade.checker for attempt in attempts for grade in attempt.grades})
    figures["models"] = sorted({attempt.model for attempt in attempts})
    figures["checker"] = checkers
    return figures


def _group(attempts: list[Attempt], k: int) -> dict[str, Any]:
    turns = [(turn, grade) for a in attempts for turn, grade in zip(a.task.turns, a.grades, strict=True)]
    passed_turns = sum(1 for _, grade in turns if grade.passed)
    by_task: dict[str, list[bool]] = defaultdict(list)
    for attempt in attempts:
        by_task[attempt.task.id].append(attempt.passed)
    successes = [(len(results), sum(results)) for results in by_task.values()]
    failures = Counter(grade.failure for _, grade in turns if grade.failure)
    calls = sum(grade.calls for _, grade in turns)
    invalid = sum(grade.invalid_calls for _, grade in turns)
    return {
        "tasks": len(by_task),
        "attempts": len(attempts),
        "turns": len(turns),
        "turn_accuracy": _share(passed_turns, len(turns)),
        "dialogue_accuracy": _share(sum(a.passed for a in attempts), len(attempts)),
        "pass^k": {str(j): pass_hat_k(successes, j) for j in range(1, k + 1)},
        "calls_per_turn": _share(calls, len(turns)),
        "ground_truth_calls_per_turn": _share(sum(len(turn.calls) for turn, _ in turns), len(turns)),
        "invalid_call_share": _share(invalid, calls),
        "failures": {kind: failures.get(kind, 0) for kind in FAILURE_KINDS},
    }


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None
