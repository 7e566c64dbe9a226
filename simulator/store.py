"""The trajectory store: one SQLite file (WAL) per project, written atomically per trajectory."""

import functools
import itertools
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from simulator.errors import StoreError
from simulator.records import Step, Trajectory

__all__ = ["Store"]

FORMAT = "funreason-store"
SCHEMA_VERSION = 1


class Store:
    """Runs, trajectories, steps and graph snapshots in one SQLite file.

    Every trajectory is written in one transaction with its steps, so a killed
    process leaves no half trajectory; trajectory ids are `<run>-<index>`, so a
    resumed run cannot write one twice.  Several processes may write at once.

    Commits do not wait for the disk (`synchronous = NORMAL`, safe in WAL mode): a
    killed process still loses nothing it committed, since the WAL is in the OS's
    hands; only a power cut can lose the last commits, and never corrupts the file.
    Waiting for the disk on every trajectory (`FULL`, SQLite's default) cost more
    than exploring it and serialised worker processes on the disk.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _refuse_empty_file(self.path)
        try:
            connection = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            connection.execute("PRAGMA busy_timeout = 60000")
            self.db = sqlite_utils.Database(connection)
            _refuse_corrupt(self.path, connection)
            self._check_or_create()
            wal = connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            connection.execute(f"PRAGMA synchronous = {'NORMAL' if wal else 'FULL'}")
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path}: not a usable SQLite store ({error})") from error

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def ensure_run(self, run_id: str, *, kind: str, target: str, config: dict[str, Any], seed: int) -> None:
        """Record a run once; running the same command again finds it and resumes."""
        row = {
            "id": run_id,
            "kind": kind,
            "target": target,
            "config": json.dumps(config, sort_keys=True),
            "seed": seed,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "versions": _versions(),
        }
        with self.db.conn:
            self.db["runs"].insert(row, pk="id", ignore=True)

    def run_config(self, run_id: str) -> dict[str, Any]:
        """The config a run was recorded with ({} for an unknown run)."""
        row = self.db.execute("SELECT config FROM runs WHERE id = ?", [run_id]).fetchone()
        return json.loads(row[0]) if row else {}

    def runs(self, kind: str) -> dict[str, tuple[str, dict[str, Any]]]:
        """Every run of `kind`, by id: what it ran against and the config it was recorded with."""
        rows = self.db.execute("SELECT id, target, config FROM runs WHERE kind = ? ORDER BY id", [kind])
        return {run_id: (target, json.loads(config)) for run_id, target, config in rows.fetchall()}

    def record_leak(self, run_id: str, reason: str) -> None:
        """Keep that a run's server kept state across fresh starts, so that synthesis, in another
        process and on other connections, never marks a sample of that run verified."""
        with self.db.conn:
            self.db["leaks"].insert({"run_id": run_id, "reason": reason}, pk="run_id", replace=True)

    def leaking_runs(self) -> set[str]:
        """The runs whose server is known to leak state across fresh starts."""
        if not self.db["leaks"].exists():
            return set()
        return {run_id for (run_id,) in self.db.execute("SELECT run_id FROM leaks")}

    def leak_of(self, run_id: str) -> str | None:
        """Why the run's server is known to leak state across fresh starts (None when it is not)."""
        if not self.db["leaks"].exists():
            return None
        row = self.db.execute("SELECT reason FROM leaks WHERE run_id = ?", [run_id]).fetchone()
        return row[0] if row else None

    def trajectory_indices(self, run_id: str) -> set[int]:
        rows = self.db.execute("SELECT idx FROM trajectories WHERE run_id = ?", [run_id])
        return {index for (index,) in rows}

    def save_trajectory(self, trajectory: Trajectory) -> bool:
        """Write a trajectory and its steps atomically; False when it was already stored."""
        return self.save_trajectories([trajectory]) == 1

    def save_trajectories(self, trajectories: list[Trajectory]) -> int:
        """Write trajectories and their steps in one transaction, skipping those already stored;
        returns how many were new."""
        return len(self._write([_Rows.of(trajectory) for trajectory in trajectories]))

    def writer(self, written: Callable[[list[int]], None] | None = None) -> "TrajectoryWriter":
        """A `TrajectoryWriter` into this store; `written` gets the indices of each batch committed."""
        return TrajectoryWriter(self, written)

    def _write(self, batch: list["_Rows"]) -> list[int]:
        """Insert the rows of trajectories not stored yet, in one transaction; their indices."""
        with self.db.conn:
            insert = self.db.conn.execute  # INSERT OR IGNORE: a row count of 0 means stored already
            new = [rows for rows in batch if insert(_INSERT_TRAJECTORY, rows.trajectory).rowcount == 1]
            self.db.conn.executemany(_INSERT_STEP, [step for rows in new for step in rows.steps])
        return [rows.index for rows in new]

    def append_step(self, trajectory: Trajectory, step: Step) -> None:
        """Add one step to a recorded session as it happens (the row is created on the first step)."""
        with self.db.conn:
            self.db.execute(_INSERT_TRAJECTORY, _trajectory_row(trajectory))
            self.db.execute(_INSERT_STEP, _step_row(trajectory.id, step))
            # the count of stored steps, not +1: the row inserted above may already count this step
            self.db.execute(
                "UPDATE trajectories SET n_steps = (SELECT count(*) FROM steps WHERE trajectory_id = ?),"
                " final_state_hash = ? WHERE id = ?",
                [trajectory.id, trajectory.final_state_hash, trajectory.id],
            )

    def iter_trajectories(self, run_id: str | None = None, indices: range | None = None) -> Iterator[Trajectory]:
        """Stream trajectories with their steps, in (run, index) order, never all in memory; with `indices`
        (and a `run_id`), only the run's trajectories whose index falls in that range."""
        where, params = ("WHERE t.run_id = ?", [run_id]) if run_id else ("", [])
        if run_id and indices is not None:
            where, params = where + " AND t.idx >= ? AND t.idx < ?", [*params, indices.start, indices.stop]
        rows = self.db.query(
            f"""SELECT t.*, s.idx AS step_idx, s.tool, s.arguments, s.result, s.text, s.is_error, s.diff,
                       s.latency_ms, s.provenance
                FROM trajectories t LEFT JOIN steps s ON s.trajectory_id = t.id {where}
                ORDER BY t.run_id, t.idx, s.idx""",
            params,
        )
        for _, group in itertools.groupby(rows, key=lambda row: row["id"]):
            yield _trajectory(list(group))

    def save_graph(self, run_id: str, stage: str, graph: dict[str, Any]) -> None:
        with self.db.conn:
            self.db["graphs"].insert({"run_id": run_id, "stage": stage, "graph": _to_json(graph)}, replace=True)

    def load_graph(self, run_id: str, stage: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT graph FROM graphs WHERE run_id = ? AND stage = ?", [run_id, stage]).fetchone()
        return _from_json(row[0]) if row else None

    def merge_from(self, path: str | Path) -> int:
        """Copy in every row of another store that this one lacks (by primary key), in one transaction.

        Tables this store lacks are created first, with their indexes.  Merging the same file
        twice adds nothing, so a merge cut short is simply run again.  Returns the rows added.
        """
        if self.db.conn.in_transaction:
            raise StoreError(f"{self.path}: cannot merge {path} inside an open transaction")
        self.db.execute("ATTACH DATABASE ? AS other", [str(path)])
        try:
            schema = self.db.execute(
                "SELECT type, name, tbl_name, sql FROM other.sqlite_master WHERE sql IS NOT NULL ORDER BY type DESC"
            ).fetchall()
            added = 0
            with self.db.conn:
                ours = set(self.db.table_names())
                for kind, _name, table, sql in schema:  # tables first, then their indexes
                    if table != "meta" and table not in ours and kind in ("table", "index"):
                        self.db.execute(sql)
                for kind, name, _, _ in schema:
                    if kind != "table" or name == "meta":
                        continue
                    columns = ", ".join(f"[{row[1]}]" for row in self.db.execute(f"PRAGMA other.table_info([{name}])"))
                    added += self.db.execute(
                        f"INSERT OR IGNORE INTO main.[{name}] ({columns}) SELECT {columns} FROM other.[{name}]"
                    ).rowcount
            return added
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path}: cannot merge {path} ({error})") from error
        finally:
            self.db.execute("DETACH DATABASE other")

    def covered_edges(self, run_id: str | None = None) -> set[tuple[str, str]]:
        """Graph edges realised by the trajectories (of one run, or all)."""
        where, params = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
        edges: set[tuple[str, str]] = set()
        for (covered,) in self.db.execute(f"SELECT covered_edges FROM trajectories {where}", params):
            edges.update((source, target) for source, target in json.loads(covered))
        return edges

    def stats(self) -> dict[str, Any]:
        """The numbers `funreason stats` prints."""

        def scalar(sql: str) -> int:
            return int(self.db.execute(sql).fetchone()[0] or 0)

        edges = self.covered_edges()
        return {
            "runs": scalar("SELECT count(*) FROM runs"),
            "trajectories": scalar("SELECT count(*) FROM trajectories"),
            "reached": scalar("SELECT count(*) FROM trajectories WHERE reached"),
            "failed": scalar("SELECT count(*) FROM trajectories WHERE status = 'failed'"),
            "steps": scalar("SELECT count(*) FROM steps"),
            "error_steps": scalar("SELECT count(*) FROM steps WHERE is_error"),
            "tools_covered": scalar("SELECT count(DISTINCT tool) FROM steps WHERE NOT is_error"),
            "edges_covered": len(edges),
        }

    def _check_or_create(self) -> None:
        if not self.db.table_names():
            self._create()
        tables = set(self.db.table_names())
        if "meta" not in tables:
            raise StoreError(
                f"{self.path}: an SQLite file that is not a funreason store (tables: {sorted(tables)[:5]})"
            )
        meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != FORMAT:
            raise StoreError(f"{self.path}: an SQLite file that is not a funreason store")
        if int(meta.get("schema_version", 0)) > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: written by a newer funreason (schema {meta['schema_version']})")

    def _create(self) -> None:
        """The tables of an empty file, in one transaction that another process creating them waits for.

        Creating them does not wait for the disk (a power cut then can lose only an empty store):
        the waiting, once for WAL and once per table, cost more than a short exploration.
        """
        self.db.execute("PRAGMA synchronous = OFF")  # `__init__` sets NORMAL afterwards
        self.db.enable_wal()
        with self.db.conn:
            self.db.execute("BEGIN IMMEDIATE")  # the sqlite3 module starts no transaction for DDL by itself
            if self.db.table_names():
                return
            self.db["meta"].create({"key": str, "value": str}, pk="key")
            rows = [("format", FORMAT), ("schema_version", str(SCHEMA_VERSION))]
            self.db.conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", rows)
            self.db["runs"].create(
                {"id": str, "kind": str, "target": str, "config": str, "seed": int, "created": str, "versions": str},
                pk="id",
            )
            self.db["trajectories"].create(
                {
                    "id": str,
                    "run_id": str,
                    "idx": int,
                    "env": str,
                    "scenario": str,
                    "seed": int,
                    "target": str,
                    "source": str,
                    "reached": int,
                    "status": str,
                    "error": str,
                    "n_steps": int,
                    "covered_edges": str,
                    "final_state_hash": str,
                },
                pk="id",
            )
            self.db["trajectories"].create_index(["run_id", "idx"], unique=True)
            self.db["steps"].create(
                {
                    "trajectory_id": str,
                    "idx": int,
                    "tool": str,
                    "arguments": str,
                    "result": str,
                    "text": str,
                    "is_error": int,
                    "diff": str,
                    "latency_ms": float,
                    "provenance": str,
                },
                pk=("trajectory_id", "idx"),
            )
            self.db["graphs"].create({"run_id": str, "stage": str, "graph": str}, pk=("run_id", "stage"))


@functools.cache
def _refuse_empty_file(path: Path) -> None:
    """A 0-byte file is no store (a truncated copy, a `touch`): SQLite would quietly make it an empty one.

    One that another process is creating this moment has its journal or WAL beside it.
    """
    siblings = [path.with_name(path.name + suffix) for suffix in ("-wal", "-journal")]
    if path.is_file() and path.stat().st_size == 0 and not any(sibling.exists() for sibling in siblings):
        raise StoreError(f"{path}: an empty file (0 bytes), not a store; delete it to start a new store there")


def _refuse_corrupt(path: Path, connection: sqlite3.Connection) -> None:
    """Check the file's structure on open (`quick_check`: linear in its size), so a damaged store is
    one clear error before anything reads from it or writes into it."""
    problems = [row[0] for row in connection.execute("PRAGMA quick_check(1)").fetchall()]
    if problems != ["ok"]:
        found = " ".join(problems[0].replace("*** in database main ***", "").split())
        raise StoreError(f"{path}: the store is damaged ({found}); restore it from a copy")


def _versions() -> str:
    """What wrote a run, looked up once per process (each lookup reads package metadata from disk)."""
    return json.dumps({"funreason-mt": version("funreason-mt"), "mcp": version("mcp")})


def _to_json(value: Any) -> str:
    """JSON as the store keeps it: orjson (compact, UTF-8 kept), the stdlib for what orjson refuses
    (an integer beyond 64 bits, a key that is not a string)."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False)


def _from_json(text: str) -> Any:
    """The inverse of `_to_json`, also for rows the stdlib wrote (`NaN`, spaces)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class TrajectoryWriter:
    """Writes trajectories in batches: up to `SIZE` in one transaction, or what came in `SECONDS`.

    A commit cost more than encoding a trajectory; a killed process loses only what it had
    not committed yet, which a re-run explores again.  Each trajectory is encoded as it is
    added, so a batch waits as rows of text, not as objects that would outlive two young
    garbage collections and bring on a full one.  Use as a context manager: leaving it
    writes what is left, also when leaving on an error.
    """

    SIZE = 64
    SECONDS = 0.25

    def __init__(self, store: Store, written: Callable[[list[int]], None] | None = None) -> None:
        self.store = store
        self._written = written or (lambda indices: None)
        self._pending: list[_Rows] = []
        self._since = time.monotonic()

    def add(self, trajectory: Trajectory) -> None:
        self._pending.append(_Rows.of(trajectory))
        if len(self._pending) >= self.SIZE or time.monotonic() - self._since >= self.SECONDS:
            self.flush()

    def flush(self) -> None:
        batch, self._pending, self._since = self._pending, [], time.monotonic()
        if batch:
            self._written(self.store._write(batch))

    def __enter__(self) -> "TrajectoryWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.flush()


@dataclass(frozen=True)
class _Rows:
    """A trajectory as the rows it is stored as."""

    index: int
    trajectory: tuple[Any, ...]
    steps: list[tuple[Any, ...]]

    @classmethod
    def of(cls, trajectory: Trajectory) -> "_Rows":
        steps = [_step_row(trajectory.id, step) for step in trajectory.steps]
        return cls(trajectory.index, _trajectory_row(trajectory), steps)


_TRAJECTORY_COLUMNS = (
    "id",
    "run_id",
    "idx",
    "env",
    "scenario",
    "seed",
    "target",
    "source",
    "reached",
    "status",
    "error",
    "n_steps",
    "covered_edges",
    "final_state_hash",
)
_STEP_COLUMNS = (
    "trajectory_id",
    "idx",
    "tool",
    "arguments",
    "result",
    "text",
    "is_error",
    "diff",
    "latency_ms",
    "provenance",
)


def _insert_sql(table: str, columns: tuple[str, ...], verb: str = "INSERT") -> str:
    return f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


_INSERT_TRAJECTORY = _insert_sql("trajectories", _TRAJECTORY_COLUMNS, "INSERT OR IGNORE")
_INSERT_STEP = _insert_sql("steps", _STEP_COLUMNS)


def _trajectory_row(trajectory: Trajectory) -> tuple[Any, ...]:
    """The values of `_TRAJECTORY_COLUMNS`."""
    return (
        trajectory.id,
        trajectory.run_id,
        trajectory.index,
        trajectory.env,
        trajectory.scenario,
        trajectory.seed,
        trajectory.target,
        trajectory.source,
        int(trajectory.reached),
        trajectory.status,
        trajectory.error,
        len(trajectory.steps),
        _to_json(trajectory.covered_edges),
        trajectory.final_state_hash,
    )


def _step_row(trajectory_id: str, step: Step) -> tuple[Any, ...]:
    """The values of `_STEP_COLUMNS`."""
    return (
        trajectory_id,
        step.index,
        step.tool,
        _to_json(step.arguments),
        _to_json(step.result),
        step.text,
        int(step.is_error),
        _to_json(step.diff),
        step.latency_ms,
        _to_json(step.provenance),
    )


def _trajectory(rows: list[dict[str, Any]]) -> Trajectory:
    head = rows[0]
    steps = [
        Step(
            index=row["step_idx"],
            tool=row["tool"],
            arguments=_from_json(row["arguments"]),
            result=_from_json(row["result"]),
            text=row["text"],
            is_error=bool(row["is_error"]),
            diff=_from_json(row["diff"]),
            latency_ms=row["latency_ms"],
            provenance=_from_json(row["provenance"]),
        )
        for row in rows
        if row["step_idx"] is not None
    ]
    return Trajectory(
        id=head["id"],
        run_id=head["run_id"],
        index=head["idx"],
        env=head["env"],
        scenario=head["scenario"],
        seed=head["seed"],
        target=head["target"],
        source=head["source"],
        reached=bool(head["reached"]),
        status=head["status"],
        error=head["error"],
        steps=steps,
        covered_edges=_from_json(head["covered_edges"]),
        final_state_hash=head["final_state_hash"],
    )
