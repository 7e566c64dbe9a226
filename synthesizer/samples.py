"""Synthesized samples and rejects, kept in the same SQLite file as the trajectories."""

import hashlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson

from simulator.errors import StoreError
from simulator.store import Store
from synthesizer.dialogue import Dialogue, Variant

__all__ = ["Reject", "Sample", "SampleStore", "run_of"]


@dataclass
class Sample:
    """A verified (or, for servers without a fresh state, unvalidated) multi-turn dialogue.

    `dialogue` holds the turns, each with its messages in OpenAI chat format (assistant
    messages may carry `reasoning`, the chain of thought, kept apart so each export can
    place it), its request, variant, advanced tool and ground-truth calls.  `tools` are
    the primitive tools offered, OpenAI function format.  The store keeps the dialogue as
    `messages` and per-turn records (`turns`), as it always has.
    """

    id: str
    trajectory_ids: list[str]
    env: str
    scenario: str
    seed: int
    model: str
    dialogue: Dialogue
    tools: list[dict[str, Any]]
    verified: bool
    attempts: int
    initial_state: dict[str, Any] | None = None
    extra_tools: list[dict[str, Any]] = field(default_factory=list)
    """Tools withheld at the start and offered later in the dialogue (missing-tool turns)."""
    setup: list[dict[str, Any]] = field(default_factory=list)
    """Calls (`tool`, `arguments`, `result`) made before the first turn, unseen: a recorded session's
    earlier part, which left the state this dialogue starts from (`initial_state` is the state after them)."""
    goals: dict[str, Any] | None = None
    """For a recorded session: its goals recorded, kept in this sample and dropped with reasons."""
    focus: dict[str, Any] | None = None
    """The focus it was made with (`--focus EVAL.json`): the eval file's sha256, the share and the weights."""

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.dialogue.messages

    @property
    def n_calls(self) -> int:
        return sum(len(message.get("tool_calls") or []) for message in self.messages)

    def truncated(self, turns: int) -> "Sample":
        """The same dialogue ending after its first `turns` turns (still verified: later turns only came after)."""
        dialogue = self.dialogue.truncated(turns)
        withheld = {turn.withheld for turn in dialogue.turns if turn.variant is Variant.MISSING_TOOL}
        return replace(
            self,
            dialogue=dialogue,
            extra_tools=[tool for tool in self.extra_tools if tool["function"]["name"] in withheld],
        )

    def reworded(self, index: int, request: str) -> "Sample":
        """The same sample with turn `index` asked in other words (still verified: its calls are the same)."""
        return replace(self, dialogue=self.dialogue.reworded(index, request))

    def provenance(self) -> dict[str, Any]:
        return (
            {
                "sample_id": self.id,
                "env": self.env,
                "scenario": self.scenario,
                "seed": self.seed,
                "model": self.model,
                "trajectory_ids": self.trajectory_ids,
                "verified": self.verified,
            }
            | ({"goals": self.goals, "setup": self.setup} if self.goals is not None else {})
            | ({"focus": self.focus} if self.focus is not None else {})
        )


@dataclass
class Reject:
    """A trajectory that gave no sample, and why."""

    id: str
    trajectory_id: str
    model: str
    reason: str
    attempts: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    """The dialogue as far as it got: the accepted turns, then the failed attempt (what the report shows)."""
    turns: list[dict[str, Any]] = field(default_factory=list)
    """Per turn of `messages`, as a sample keeps them (query, variant, target, ...); the failed one last."""


class SampleStore:
    """Sample, reject and LLM-cache tables on top of a trajectory store.

    Lean rows: a sample's tool list and initial state are what it shares with every other
    sample of its environment and scenario (two thirds of its bytes), so each distinct one is
    stored once, in `tool_sets` and `states` keyed by the sha256 of its JSON, and the sample's
    `data` holds the rest.  Rows of older stores (no hashes, full JSON in `data`) still read;
    opening such a store adds the two columns and tables, so new rows are lean.  Samples that
    `iter_samples` yields from one tool set or state share its decoded object: copy before changing.

    Writer discipline (the store and the cache may be two connections to one file):
    every write is its own short transaction, and every read that can overlap a write
    is read to the end before it returns.  In WAL mode a connection that still holds
    a read snapshot cannot write once another connection has committed ("database is
    locked", and no busy timeout helps), so no read may stay open across a write.
    Only `iter_samples`/`iter_rejects` stream, for exports, which write nothing here.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db
        with self.db.conn:
            if "samples" not in self.db.table_names():
                self.db["samples"].create(
                    {
                        "id": str,
                        "trajectory_id": str,
                        "env": str,
                        "verified": int,
                        "n_turns": int,
                        "n_calls": int,
                        "model": str,
                        "data": str,
                        "tools_hash": str,
                        "state_hash": str,
                    },
                    pk="id",
                )
                self.db["rejects"].create(
                    {"id": str, "trajectory_id": str, "model": str, "reason": str, "attempts": int, "data": str},
                    pk="id",
                )
                self.db["llm_cache"].create({"key": str, "request": str, "reply": str}, pk="key")
            if "data" not in self.db["rejects"].columns_dict:  # older stores kept only the reason
                self.db["rejects"].add_column("data", str)
            if "tools_hash" not in self.db["samples"].columns_dict:
                self.db["samples"].add_column("tools_hash", str)
                self.db["samples"].add_column("state_hash", str)
            for table, column in _SHARED.items():
                self.db[table].create({"hash": str, column: str}, pk="hash", if_not_exists=True)
        self._shared: dict[str, dict[str, Any]] = {table: {} for table in _SHARED}

    def done_ids(self) -> set[str]:
        """Ids of samples and rejects already written: synthesis skips them on a re-run."""
        rows = self.db.execute("SELECT id FROM samples UNION ALL SELECT id FROM rejects").fetchall()
        return {sample_id for (sample_id,) in rows}

    def save_sample(self, sample: Sample) -> None:
        row = {
            "id": sample.id,
            "trajectory_id": sample.trajectory_ids[0],
            "env": sample.env,
            "verified": int(sample.verified),
            "n_turns": len(sample.dialogue.turns),
            "n_calls": sample.n_calls,
            "model": sample.model,
            "data": _dumps(_own_fields(sample)),
            "tools_hash": None,
            "state_hash": None,
        }
        with self.db.conn:
            row["tools_hash"] = self._put_shared("tool_sets", sample.tools)
            if sample.initial_state is not None:
                row["state_hash"] = self._put_shared("states", sample.initial_state)
            self.db["samples"].insert(row, ignore=True)

    def save_reject(self, reject: Reject) -> None:
        row = asdict(reject)
        row["data"] = _dumps({"messages": row.pop("messages"), "turns": row.pop("turns")})
        with self.db.conn:
            self.db["rejects"].insert(row, ignore=True)

    def reject_sample(self, sample_id: str, reason: str) -> None:
        """Turn a stored sample into a reject with `reason`, in one transaction."""
        rows = self.db.execute("SELECT trajectory_id, model, data FROM samples WHERE id = ?", [sample_id]).fetchall()
        if not rows:
            return
        row = rows[0]
        data = orjson.loads(row[2])
        kept = _dumps({"messages": data.get("messages", []), "turns": data.get("turns", [])})
        with self.db.conn:
            self.db.execute("DELETE FROM samples WHERE id = ?", [sample_id])
            self.db["rejects"].insert(
                {
                    "id": sample_id,
                    "trajectory_id": row[0],
                    "model": row[1],
                    "reason": reason,
                    "attempts": data.get("attempts", 0),
                    "data": kept,
                },
                replace=True,
            )

    def get_sample(self, sample_id: str) -> Sample:
        (row,) = self.db.execute(f"SELECT {_ROW} FROM samples WHERE id = ?", [sample_id]).fetchall()
        return self._sample(*row, shared=False)

    def replace_sample(self, sample: Sample) -> None:
        """Store a changed version of a sample under its id, in one transaction."""
        with self.db.conn:
            self.db.execute("DELETE FROM samples WHERE id = ?", [sample.id])
        self.save_sample(sample)

    def unverify_runs(self, run_ids: set[str]) -> int:
        """Take back `verified` from the samples of these runs (a leak found after they were kept means
        their resets were never real either); how many were taken back."""
        ids = [
            sample_id
            for sample_id, trajectory_id in self.db.execute("SELECT id, trajectory_id FROM samples WHERE verified")
            if run_of(trajectory_id) in run_ids
        ]
        for sample_id in ids:
            self.replace_sample(replace(self.get_sample(sample_id), verified=False))
        return len(ids)

    def iter_samples(self, *, verified_only: bool = False) -> Iterator[Sample]:
        """Stream samples in id order, never all in memory."""
        where = "WHERE verified = 1" if verified_only else ""
        for row in self.db.execute(f"SELECT {_ROW} FROM samples {where} ORDER BY id"):
            yield self._sample(*row, shared=True)

    def iter_rejects(self) -> Iterator[Reject]:
        for row in self.db.query("SELECT * FROM rejects ORDER BY id"):
            yield _reject(row)

    def get_reject(self, reject_id: str) -> Reject | None:
        rows = list(self.db.query("SELECT * FROM rejects WHERE id = ?", [reject_id]))
        return _reject(rows[0]) if rows else None

    def set_held_out(self, sample_ids: list[str]) -> None:
        """Mark these samples (and no others) as the held-out evaluation split, kept out of training files."""
        with self.db.conn:
            self.db["held_out"].drop(ignore=True)
            self.db["held_out"].create({"sample_id": str}, pk="sample_id")
            self.db["held_out"].insert_all([{"sample_id": sample_id} for sample_id in sample_ids])

    def held_out_ids(self) -> set[str]:
        if "held_out" not in self.db.table_names():
            return set()
        return {sample_id for (sample_id,) in self.db.execute("SELECT sample_id FROM held_out")}

    def counts(self) -> dict[str, int]:
        def scalar(sql: str) -> int:
            return int(self.db.execute(sql).fetchall()[0][0] or 0)

        return {
            "samples": scalar("SELECT count(*) FROM samples"),
            "verified": scalar("SELECT count(*) FROM samples WHERE verified"),
            "rejected": scalar("SELECT count(*) FROM rejects"),
        }

    def cache_get(self, key: str) -> str | None:
        rows = self.db.execute("SELECT reply FROM llm_cache WHERE key = ?", [key]).fetchall()
        return rows[0][0] if rows else None

    def cache_put(self, key: str, request: str, reply: str) -> None:
        with self.db.conn:
            self.db["llm_cache"].insert({"key": key, "request": request, "reply": reply}, replace=True)

    def _sample(self, data: str, tools_hash: str | None, state_hash: str | None, *, shared: bool) -> Sample:
        """A row as a `Sample`; `shared` reuses decoded tool sets and states (streaming) instead of fresh copies."""
        values = orjson.loads(data)
        if tools_hash is not None:  # a lean row; an old one holds everything in `data`
            values["tools"] = self._get_shared("tool_sets", tools_hash, shared)
            values["initial_state"] = None if state_hash is None else self._get_shared("states", state_hash, shared)
        try:
            values["dialogue"] = Dialogue.stored(values.pop("messages"), values.pop("turns"))
        except ValueError as error:
            raise StoreError(f"{self.store.path}: sample {values.get('id')}: {error}") from None
        return Sample(**values)

    def _put_shared(self, table: str, value: Any) -> str:
        """Store `value` once in `table` (inside the caller's transaction) and return its hash."""
        encoded = _dumps(value)
        key = hashlib.sha256(encoded.encode()).hexdigest()
        self.db.execute(f"INSERT OR IGNORE INTO {table} (hash, {_SHARED[table]}) VALUES (?, ?)", [key, encoded])
        return key

    def _get_shared(self, table: str, key: str, shared: bool) -> Any:
        decoded = self._shared[table]
        if shared and key in decoded:
            return decoded[key]
        ((encoded,),) = self.db.execute(f"SELECT {_SHARED[table]} FROM {table} WHERE hash = ?", [key]).fetchall()
        value = orjson.loads(encoded)
        if shared:
            if len(decoded) >= _SHARED_KEPT:  # the oldest goes: a run's worlds would otherwise all stay decoded
                del decoded[next(iter(decoded))]
            decoded[key] = value
        return value


_SHARED = {"tool_sets": "tools", "states": "state"}
"""Tables of values many samples share, keyed by hash -> the column holding the JSON."""
_SHARED_KEPT = 64
"""Decoded values of a shared table kept for reuse while streaming (decoding one again costs microseconds)."""
_ROW = "data, tools_hash, state_hash"


def run_of(trajectory_id: str) -> str:
    """The run a walk belongs to: a trajectory id is `run id-index`."""
    return trajectory_id.rsplit("-", 1)[0]


def _own_fields(sample: Sample) -> dict[str, Any]:
    """What a sample's row keeps in `data`, keys in the order stores have always written: the dialogue as
    `messages` and per-turn records (`turns`), the tool list and initial state apart (shared rows)."""
    head = {name: getattr(sample, name) for name in ("id", "trajectory_ids", "env", "scenario", "seed", "model")}
    dialogue = {"messages": sample.messages, "turns": sample.dialogue.records()}
    tail = {name: getattr(sample, name) for name in ("verified", "attempts", "extra_tools", "setup", "goals", "focus")}
    return head | dialogue | tail


def _reject(row: dict[str, Any]) -> Reject:
    data = orjson.loads(row.pop("data", None) or "{}")  # None in rows of older stores
    return Reject(**row, messages=data.get("messages", []), turns=data.get("turns", []))


def _dumps(value: Any) -> str:
    """JSON as the store keeps it: orjson (about 10x the stdlib's encoder), keys as given, non-str keys as strings."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
