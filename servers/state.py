"""The state base model: canonical JSON, one hash, compact diffs."""

import hashlib
import json
import re
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

__all__ = ["StateModel", "apply_diff", "canonical_json", "diff_states", "hash_state", "same_data"]

_MISSING = object()


class StateModel(BaseModel):
    """Base of every environment state and of every entity inside one.

    `extra="forbid"` makes a scenario with a misspelt field fail loudly instead of
    silently dropping it.  Assignments are not re-validated: a tool may pass through
    inconsistent states mid-call, and validating the whole state on every assignment
    costs O(state); the contract tests re-validate the state after every call instead.
    """

    model_config = ConfigDict(extra="forbid")

    def snapshot(self) -> dict[str, Any]:
        """The state as plain JSON data; cheap enough to take before every write."""
        return self.model_dump(mode="json")

    def state_hash(self) -> str:
        """sha256 of the canonical JSON: equal states, equal hashes."""
        return hash_state(self.snapshot())


def canonical_json(data: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: the one form that hashes and compares."""
    encoded = _by_orjson(data)
    return encoded.decode() if encoded is not None else _by_stdlib(data)


def same_data(first: Any, second: Any) -> bool:
    """Whether two JSON values are one document, types included: 1, 1.0 and True compare equal in
    Python but write (and hash) differently.  False when either is not plain JSON data."""
    try:
        return orjson.dumps(first) == orjson.dumps(second)
    except orjson.JSONEncodeError:
        return False


def hash_state(data: Any) -> str:
    """sha256 hex digest of `canonical_json(data)`."""
    encoded = _by_orjson(data)
    return hashlib.sha256(encoded if encoded is not None else _by_stdlib(data).encode()).hexdigest()


_ORJSON_CANONICAL = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)
_EXPONENT = re.compile(rb"e(?<=[0-9]e)[-+]")
"""A float with an exponent as orjson writes one (`1e+16`, `1.5e-07` in Python), not a hex token's `2e6`."""


def _by_stdlib(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _by_orjson(data: Any) -> bytes | None:
    """`_by_stdlib(data)` as UTF-8, by orjson (about 8x faster on a state, which the explorer
    hashes after every trajectory); None where orjson would write other bytes: floats that
    Python writes with an exponent (orjson writes 1e-05 as 0.00001), integers beyond 64 bits,
    keys that are not strings, strings that are not UTF-8, types that are not JSON's.
    One difference is left: NaN and the infinities, which JSON cannot hold and states never
    do (pydantic dumps them as null), come out as null.
    """
    try:
        encoded = orjson.dumps(data, option=_ORJSON_CANONICAL)
    except orjson.JSONEncodeError:
        return None
    if b"0.0000" in encoded or _EXPONENT.search(encoded):
        return None
    return encoded


def diff_states(before: Any, after: Any) -> list[dict[str, Any]]:
    """A compact, JSON-serialisable diff between two snapshots.

    Operations are `{"op": "add"|"remove"|"replace", "path": [keys...], "value": ...}`
    in the spirit of JSON Patch, with the path as a list so keys may hold "/".
    Dicts are compared key by key; lists and scalars are replaced whole, which keeps
    diffs short for the small lists environments hold.
    """
    ops: list[dict[str, Any]] = []
    _diff_into(before, after, [], ops)
    return ops


def apply_diff(data: Any, ops: list[dict[str, Any]]) -> Any:
    """Apply `diff_states` output to a snapshot (a deep copy is returned)."""
    result = json.loads(json.dumps(data))
    for op in ops:
        path = op["path"]
        if not path:
            result = op.get("value")
            continue
        parent = result
        for key in path[:-1]:
            parent = parent[key]
        if op["op"] == "remove":
            del parent[path[-1]]
        else:
            parent[path[-1]] = op["value"]
    return result


def _diff_into(before: Any, after: Any, path: list[str], ops: list[dict[str, Any]]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key, old in before.items():
            new = after.get(key, _MISSING)
            if new is _MISSING:
                ops.append({"op": "remove", "path": [*path, key]})
            elif new != old:
                _diff_into(old, new, [*path, key], ops)
        for key, new in after.items():
            if key not in before:
                ops.append({"op": "add", "path": [*path, key], "value": new})
    elif before != after:
        ops.append({"op": "replace", "path": path, "value": after})
