"""The outcome-based checker: a turn passes when the sandbox reached the ground truth's state and the asked-for
results were given, whatever path the model took.

Every grade records `CHECKER_VERSION`; `funreason eval --regrade` re-scores stored attempts
from their evidence (calls, answer, state hash) when the checker changes.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

from evaluation.tasks import TaskTurn
from servers import canonical_json

__all__ = ["CHECKER_VERSION", "FAILURE_KINDS", "TurnEvidence", "TurnGrade", "grade_turn", "result_given"]

CHECKER_VERSION = "outcome-1"

FAILURE_KINDS = ("wrong_state", "missing_result", "invalid_call", "no_call", "asked_instead_of_acting", "model_error")
"""Why a turn failed, first match wins: no call at all (asking, or just answering), a refused call on the way
to a wrong state, a wrong state, or the right state without the result the user asked for."""


@dataclass
class TurnEvidence:
    """What the model did in one turn, as recorded: enough to grade it again without re-running anything."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    """`{"tool", "arguments", "result", "is_error"}` for every call the model made, refused ones included."""
    answer: str = ""
    """The model's last words in the turn."""
    asked: bool = False
    """The model answered without calling before acting (a question, or a refusal)."""
    state_hash: str | None = None
    """The sandbox state hash when the turn ended."""
    finished: bool = True
    """False when the turn ran out of steps before the model answered in words."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TurnGrade:
    passed: bool
    state_ok: bool
    results_ok: bool
    failure: str | None
    calls: int
    invalid_calls: int
    checker: str = CHECKER_VERSION

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def grade_turn(turn: TaskTurn, evidence: TurnEvidence) -> TurnGrade:
    """Grade one turn from its evidence against the task's ground truth."""
    state_ok = turn.state_hash is None or evidence.state_hash == turn.state_hash
    results_ok = all(result_given(result, evidence) for result in turn.expected_results)
    invalid = sum(1 for call in evidence.calls if call["is_error"])
    passed = state_ok and results_ok
    return TurnGrade(
        passed,
        state_ok,
        results_ok,
        None if passed else _failure(turn, evidence, state_ok),
        len(evidence.calls),
        invalid,
    )


def _failure(turn: TaskTurn, evidence: TurnEvidence, state_ok: bool) -> str:
    if turn.calls and not evidence.calls:
        asked = evidence.asked or "?" in evidence.answer
        should_act = turn.variant in ("plain", "error_recovery")
        return "asked_instead_of_acting" if asked and should_act else "no_call"
    if not state_ok:
        return "invalid_call" if any(call["is_error"] for call in evidence.calls) else "wrong_state"
    return "missing_result"


def result_given(result: Any, evidence: TurnEvidence) -> bool:
    """A result is given when a successful call returned it, or when the answer states every value in it."""
    wanted = canonical_json(result)
    if any(not call["is_error"] and canonical_json(call["result"]) == wanted for call in evidence.calls):
        return True
    values = _leaf_values(result)
    return bool(values) and all(value in evidence.answer for value in values)


def _leaf_values(value: Any) -> list[str]:
    """The strings and numbers inside a result, as they would read in a sentence (flags and nulls say nothing)."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaf_values(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaf_values(item)]
    if isinstance(value, bool) or value is None:
        return []
    return [str(value)]
