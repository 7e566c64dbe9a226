"""Validation by re-execution: the end state must be the ground truth's, and every ground-truth result must appear."""

from dataclasses import dataclass

from servers import canonical_json
from simulator import Step
from synthesizer.plan import Call

__all__ = ["Verdict", "check_turn"]


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""


def check_turn(
    expected: list[Call], executed: list[Step], candidate_hash: str | None, reference_hash: str | None
) -> Verdict:
    """State check (when both hashes are known) and response check for one turn."""
    if candidate_hash is not None and reference_hash is not None and candidate_hash != reference_hash:
        return Verdict(False, "state check: the end state differs from the ground truth's")
    returned = {canonical_json(step.result) for step in executed if not step.is_error}
    for call in expected:
        if canonical_json(call.result) not in returned:
            return Verdict(False, f"response check: no call returned what the ground truth's {call.tool} returned")
    return Verdict(True)
