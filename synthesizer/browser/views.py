"""Samples and rejects as the browser and `funreason show` read them: chats cut into turns, each call with its
state diff and where each of its arguments came from.

A view is plain JSON, the one shape both renderers (the page's script, the terminal's `rich`) read:

    {"id", "kind": "sample" | "reject" | "attempt", "env", "scenario", "status", "reason", "reason_kind",
     "variants", "targets", "turns": [{"variant", "target", "withheld", "attempts", "failure",
     "messages": [...]}], "calls": {call_id: {"turn", "diff", "origins": {parameter: origin}}}, "walk": [...]}

An origin is `{"kind": "result", "call": id, "tool", "field"}` (an earlier call's result), `{"kind": "user",
"turn": n, "said": k}` (the user's k-th message in turn n said it, a name like `premium_economy` also in
words), `{"kind": "walk", "tool", "field"}` (a result of the walk that the dialogue never shows: a story
dialogue asks for a later step without the one it read its value from) or `{"kind": <provenance source>}`
(a pool, the schema, ...).  A sample's turns are its dialogue's (`sample_view`); a reject's, and a model's
attempt's, are cut where each turn's query is said (`dialogue_turns`).
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from servers import canonical_json
from simulator import Store
from synthesizer.dialogue import Dialogue, Variant
from synthesizer.errors import DatasetError
from synthesizer.samples import Reject, Sample, SampleStore

__all__ = ["dialogue_turns", "reason_kind", "record_view", "sample_view", "store_view", "store_views", "view_to_show"]


def store_views(store_path: Path) -> Iterator[dict[str, Any]]:
    """Every sample of the store (id order), then every reject, as views."""
    with Store(store_path) as store:
        samples = SampleStore(store)
        for sample in samples.iter_samples():
            yield sample_view(sample, _steps(store, sample.trajectory_ids))
        for reject in samples.iter_rejects():
            yield _reject_view(store, reject)


def store_view(store_path: Path, view_id: str) -> dict[str, Any] | None:
    """The sample or reject `view_id` of the store as a view; None when it holds neither."""
    with Store(store_path) as store:
        samples = SampleStore(store)
        if store.db.execute("SELECT 1 FROM samples WHERE id = ?", [view_id]).fetchall():
            sample = samples.get_sample(view_id)
            return sample_view(sample, _steps(store, sample.trajectory_ids))
        reject = samples.get_reject(view_id)
        return None if reject is None else _reject_view(store, reject)


def record_view(record: dict[str, Any], store_path: Path | None = None) -> dict[str, Any]:
    """An exported line (OpenAI or funreason format, with our `metadata`) as a view; with the store it came from,
    its calls get their recorded diffs and provenance."""
    meta = record.get("metadata") or {}
    if "messages" not in record or "sample_id" not in meta:
        raise ValueError("the line is not an exported chat sample (no messages, or no metadata.sample_id)")
    sample = Sample(
        id=meta["sample_id"],
        trajectory_ids=meta.get("trajectory_ids") or [],
        env=meta.get("env", "?"),
        scenario=meta.get("scenario", "?"),
        seed=meta.get("seed", 0),
        model=meta.get("model", "?"),
        dialogue=Dialogue.read(record["messages"], meta.get("turns") or []),
        tools=record.get("tools") or [],
        verified=bool(meta.get("verified")),
        attempts=sum(turn.get("attempts") or 0 for turn in meta.get("turns") or []),
    )
    if store_path is None:
        view = sample_view(sample)
    else:
        with Store(store_path) as store:
            view = sample_view(sample, _steps(store, sample.trajectory_ids))
    if not any("attempts" in turn for turn in meta.get("turns") or []):
        view["attempts"] = None  # exports do not keep them, nor who wrote each request
        for turn in view["turns"]:
            turn.update(attempts=None, query_source=None)
    return view


def view_to_show(what: str, db: Path | None = None) -> dict[str, Any]:
    """What `funreason show` shows: `FILE:LINE` (1-based) of an export, or a sample or reject id of the store `db`;
    a line without messages (sharegpt, bfcl) is read from `db` by its `metadata.sample_id`."""
    file, _, line = what.rpartition(":")
    if file and line.isdigit() and Path(file).is_file():
        number = int(line)
        with Path(file).open(encoding="utf-8") as lines:
            text = next((row for index, row in enumerate(lines, 1) if index == number), None)
        if text is None or number < 1:
            raise DatasetError(f"{file} has no line {line}")
        try:
            record = json.loads(text)
            sample_id = (record.get("metadata") or {}).get("sample_id")
            if "messages" not in record and sample_id and db is not None:  # sharegpt, bfcl: the store has it
                what = sample_id
            else:
                return record_view(record, db)
        except (ValueError, AttributeError) as error:
            raise DatasetError(f"{file}:{line}: {error}") from None
    if db is None:
        raise DatasetError(f"{what!r} is no FILE:LINE of an existing file; to read a sample id, pass --db")
    view = store_view(db, what)
    if view is None:
        raise DatasetError(f"{db} holds no sample or reject {what!r}")
    return view


def sample_view(sample: Sample, steps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A sample as a view; `steps` (the trajectory's recorded steps) give each call its diff and provenance."""
    dialogue = sample.dialogue
    turns = [{"messages": list(turn.messages)} for turn in dialogue.turns]
    if turns:  # what comes before the first request goes with the first turn
        turns[0]["messages"][:0] = dialogue.preamble
    calls: dict[str, dict[str, Any]] = {}
    _link_calls(turns, steps or [], calls)
    for turn, planned in zip(turns, dialogue.turns, strict=True):
        turn.update(
            variant=str(planned.variant or Variant.PLAIN),
            target=planned.target,
            withheld=planned.withheld,
            attempts=planned.attempts,
            query_source=planned.source,
        )
    return {
        "id": sample.id,
        "kind": "sample",
        "env": sample.env,
        "scenario": sample.scenario,
        "status": "verified" if sample.verified else "unverified",
        "seed": sample.seed,
        "model": sample.model,
        "attempts": sample.attempts,
        "trajectory_id": sample.trajectory_ids[0] if sample.trajectory_ids else None,
        "reason": None,
        "reason_kind": None,
        "variants": sorted({turn["variant"] for turn in turns if "variant" in turn}),
        "targets": [turn["target"] for turn in turns if turn.get("target")],
        "turns": turns,
        "calls": calls,
        "walk": [],
    }


def _reject_view(store: Store, reject: Reject) -> dict[str, Any]:
    trajectory = store.db.execute(
        "SELECT env, scenario, target FROM trajectories WHERE id = ?", [reject.trajectory_id]
    ).fetchall()
    env, scenario, target = trajectory[0] if trajectory else ("?", "?", None)
    walk = _steps(store, [reject.trajectory_id])
    turns, calls = dialogue_turns(reject.messages, [turn["query"] for turn in reject.turns], walk)
    failed_turn = _failed_turn(reject.reason)
    for number, (turn, planned) in enumerate(zip(turns, reject.turns, strict=False)):
        turn.update({key: planned.get(key) for key in ("variant", "target", "withheld", "attempts")})
        if failed_turn == number + 1:
            turn["failure"] = {"kind": reason_kind(reject.reason), "why": reject.reason}
    return {
        "id": reject.id,
        "kind": "reject",
        "env": env,
        "scenario": scenario,
        "status": "rejected",
        "reason": reject.reason,
        "reason_kind": reason_kind(reject.reason),
        "failed_turn": failed_turn,
        "attempts": reject.attempts,
        "model": reject.model,
        "trajectory_id": reject.trajectory_id,
        "variants": sorted({turn["variant"] for turn in turns if turn.get("variant")}),
        "targets": [turn["target"] for turn in reject.turns if turn.get("target")] or ([target] if target else []),
        "turns": turns,
        "calls": calls,
        "walk": [{key: value for key, value in step.items() if key != "key"} for step in walk],
    }


def dialogue_turns(
    messages: list[dict[str, Any]], queries: list[str], steps: list[dict[str, Any]] | None = None
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """A chat cut into turns (each starting where its query is said) and its calls by id, each with its diff
    and argument origins: from `steps` (recorded steps: diff and provenance) where one matches, else from
    where the value shows earlier in the chat."""
    turns = _turns(messages, queries)
    calls: dict[str, dict[str, Any]] = {}
    _link_calls(turns, steps or [], calls)
    return turns, calls


def reason_kind(reason: str) -> str:
    """'turn 2: state check: ... (after 3 attempts)' -> 'state check'; the values in it masked ("the user would
    say '…', which only an earlier result showed", "add.b=… is nothing the user could know or name"), so that a
    run at scale has a few dozen kinds, not one per value."""
    text = reason.split(": ", 1)[1] if reason.startswith("turn ") else reason
    text = _ASSIGNED.sub("=…", _QUOTED.sub("'…'", text))
    return text.split(":")[0].split(" (")[0]


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_ASSIGNED = re.compile(r"=(?:'…'|[^\s,;:]+)")


def _failed_turn(reason: str) -> int | None:
    head = reason.split(":", 1)[0]
    return int(head[5:]) if head.startswith("turn ") and head[5:].isdigit() else None


def _turns(messages: list[dict[str, Any]], queries: list[str]) -> list[dict[str, Any]]:
    """Messages cut where each turn's query is said (a system message or a follow-up stays in its turn, what
    comes before the first query goes with the first turn)."""
    dialogue = Dialogue.at_requests(messages, queries)
    turns = [{"messages": list(turn.messages)} for turn in dialogue.turns] or [{"messages": []}]
    turns[0]["messages"][:0] = dialogue.preamble
    return turns if turns[0]["messages"] else []


def _link_calls(turns: list[dict[str, Any]], steps: list[dict[str, Any]], calls: dict[str, dict[str, Any]]) -> None:
    """Each call's diff and origins: its recorded step (same tool, same arguments), else what the dialogue shows."""
    by_step: dict[int, str] = {}
    results: list[tuple[str, str, set[str]]] = []  # (call id, tool, the result's values as text), as they came
    said: list[tuple[int, int, str]] = []  # (turn, which of the user's messages in it, their words)
    used: set[int] = set()
    for number, turn in enumerate(turns):
        for message in turn["messages"]:
            if message["role"] == "user":
                said.append((number, sum(1 for entry in said if entry[0] == number), message.get("content") or ""))
            elif message["role"] == "tool":
                results.append((message.get("tool_call_id", ""), message.get("name", ""), _leaves(_decoded(message))))
            for call in message.get("tool_calls") or []:
                tool, arguments = call["function"]["name"], _arguments(call["function"]["arguments"])
                step = _matching_step(steps, tool, arguments, used)
                if step is not None:
                    used.add(step["index"])
                    by_step[step["index"]] = call["id"]
                provenance = step["provenance"] if step else {}
                calls[call["id"]] = {
                    "turn": number,
                    "tool": tool,
                    "diff": step["diff"] if step else None,
                    "step": step["index"] if step else None,
                    "origins": {
                        name: _origin(value, provenance.get(name, {}), by_step, results, said)
                        for name, value in arguments.items()
                    },
                }


def _origin(
    value: Any,
    provenance: dict[str, Any],
    by_step: dict[int, str],
    results: list[tuple[str, str, set[str]]],
    said: list[tuple[int, int, str]],
) -> dict[str, Any]:
    if provenance.get("source") == "result" and provenance.get("step") in by_step:
        call = by_step[provenance["step"]]
        return {"kind": "result", "call": call, "tool": provenance.get("tool"), "field": provenance.get("field")}
    if _telling(value):
        texts = _spellings(value)
        for call, tool, leaves in reversed(results):
            if texts & leaves:
                return {"kind": "result", "call": call, "tool": tool, "field": provenance.get("field")}
        for turn, nth, words in said:
            if any(text in words for text in texts):
                return {"kind": "user", "turn": turn, "said": nth}
    if provenance.get("source") == "result":  # the step it came from is not in the dialogue: no call to point at
        return {"kind": "walk", "tool": provenance.get("tool"), "field": provenance.get("field")}
    return {"kind": provenance.get("source") or "model"}


def _telling(value: Any) -> bool:
    """Whether finding `value` somewhere says it came from there (not a flag, a small number or a short word)."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return abs(value) >= 10 or value != int(value)
    return isinstance(value, str) and len(value) >= 3


def _spellings(value: Any) -> set[str]:
    """How a value reads in text: 1500.0 also as 1500, premium_economy also as premium economy."""
    if isinstance(value, float) and value == int(value):
        return {str(value), str(int(value))}
    if isinstance(value, str) and "_" in value.strip("_"):
        return {value, value.replace("_", " ")}
    return {str(value)}


def _leaves(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {leaf for item in value.values() for leaf in _leaves(item)}
    if isinstance(value, list):
        return {leaf for item in value for leaf in _leaves(item)}
    return _spellings(value)


def _matching_step(steps: list[dict[str, Any]], tool: str, arguments: dict[str, Any], used: set[int]) -> dict | None:
    key = canonical_json(arguments)
    for step in steps:
        if step["index"] in used or step["tool"] != tool or step["is_error"]:
            continue
        if "key" not in step:  # worked out once per step, and only for the tools the dialogue calls
            step["key"] = canonical_json(step["arguments"])
        if step["key"] == key:
            return step
    return None


def _steps(store: Store, trajectory_ids: list[str]) -> list[dict[str, Any]]:
    """The recorded steps of these trajectories, decoded."""
    rows: list[tuple[Any, ...]] = []
    for trajectory_id in trajectory_ids:
        rows += store.db.execute(
            "SELECT idx, tool, arguments, result, text, is_error, diff, provenance FROM steps "
            "WHERE trajectory_id = ? ORDER BY idx",
            [trajectory_id],
        ).fetchall()
    return [_walk_step(row) for row in rows]


def _walk_step(row: tuple[Any, ...]) -> dict[str, Any]:
    index, tool, arguments, result, text, is_error, diff, provenance = row
    decoded = orjson.loads(arguments) if arguments else {}
    return {
        "index": index,
        "tool": tool,
        "arguments": decoded,
        "result": orjson.loads(result) if result else None,
        "text": text,
        "is_error": bool(is_error),
        "diff": orjson.loads(diff) if diff else None,
        "provenance": orjson.loads(provenance) if provenance else {},
    }


def _arguments(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, str):
        try:
            arguments = orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return {}
    return arguments if isinstance(arguments, dict) else {}


def _decoded(message: dict[str, Any]) -> Any:
    content = message.get("content") or ""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return content
