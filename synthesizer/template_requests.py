"""Requests nobody would say: a tool's description pasted into a template, or a JSON value pasted whole.

A tool with no phrasing (no `asks`, neither from its server nor from a hints file) gets, without a
model, the request "I need you to <its description>, for <values>."  That is worse than no data, so
such a sample becomes a reject (the count and the fix are printed: `funreason annotate` then
`--hints`, or `--llm openai`); `--allow-template-requests` keeps it, each such turn marked
`template_request` in its metadata.  A request that writes out a JSON record or list (a parameter
that takes records, phrased by no template) is never kept.
"""

import dataclasses
import re
from collections.abc import Mapping

from simulator import ToolInfo
from synthesizer.samples import Reject, Sample, SampleStore

__all__ = ["PASTED_REASON", "TEMPLATE_REASON", "keep_phrased", "template_note"]

TEMPLATE_REASON = "template request"
"""How a reject for this reason starts (counted by `template_note`)."""

PASTED_REASON = "pasted value"
"""How a reject starts whose request writes out a JSON record or list (`[{"title": ...}]`)."""

_RAW_JSON = re.compile(r"\[\s*\{|\{\s*\"")


def keep_phrased(outcome: Sample | Reject, tools: Mapping[str, ToolInfo], allow: bool) -> Sample | Reject:
    """`outcome` unless one of its requests is a description template: then a reject, or (`allow`) the
    sample with those turns marked."""
    if isinstance(outcome, Reject):
        return outcome
    turns = outcome.dialogue.turns
    pasted = next((turn.request for turn in turns if _RAW_JSON.search(turn.request)), None)
    if pasted is not None:  # a record or a list of them written out as JSON: no user says that
        reason = f"{PASTED_REASON}: {pasted[:80]!r}"
        return Reject(outcome.id, outcome.trajectory_ids[0], outcome.model, reason, outcome.attempts)
    templated = [
        position
        for position, turn in enumerate(turns)
        if turn.source != "model" and not ((tools.get(turn.target or "") or _NONE).hints or {}).get("asks")
    ]
    if not templated:
        return outcome
    if allow:
        marked = outcome.dialogue.with_turns(
            lambda position, turn: dataclasses.replace(turn, template_request=position in templated)
        )
        return dataclasses.replace(outcome, dialogue=marked)
    target = turns[templated[0]].target
    reason = f"{TEMPLATE_REASON}: {target} has no phrasing, so its request would paste its description"
    return Reject(
        id=outcome.id,
        trajectory_id=outcome.trajectory_ids[0],
        model=outcome.model,
        reason=reason,
        attempts=outcome.attempts,
    )


def template_note(samples: SampleStore) -> str | None:
    """One line for the user when samples were held back for their template requests, with the fix."""
    count = sum(reject.reason.startswith(TEMPLATE_REASON) for reject in samples.iter_rejects())
    if not count:
        return None
    return (
        f"{count} samples not kept: their requests would paste tool descriptions (tools without phrasing); "
        "draft phrasing with 'funreason annotate ... --out hints.toml' and pass --hints hints.toml, or use "
        "--llm openai, or keep them marked with --allow-template-requests"
    )


_NONE = ToolInfo("", "", {})
