"""5. Scale: a store of many trajectories and samples, its size on disk, export rate and peak memory.

Real samples come from a small offline run (explore, then synthesize with the offline
backend); they and their trajectories are cloned with new ids by bulk inserts until the
store holds the wanted count of each.  Each export then runs in a fresh subprocess
(`bench/export_child.py`), which times `export_samples` alone and reports its own peak
RSS (`ru_maxrss`), so nothing the benchmark itself holds is counted.
"""

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import BENCH
from simulator import ExploreConfig, ServerTarget, Store, explore
from synthesizer.export import FORMATS
from synthesizer.offline import OfflineBackend
from synthesizer.samples import SampleStore
from synthesizer.synthesize import SynthesisConfig, synthesize

__all__ = ["run"]

_SEED_ENVS = ("trading", "filesystem", "travel")
_SHARED_TABLES = ("tool_sets", "states")


def run(quick: bool, workdir: Path) -> dict[str, Any]:
    count = 10_000 if quick else 100_000
    seed_store = workdir / "scale-seed.db"
    for env in _SEED_ENVS:
        config = ExploreConfig(trajectories=20, max_steps=10, after_target_steps=3)
        explore(ServerTarget(envs=(env,)), seed_store, config)
    synthesize(seed_store, SynthesisConfig(), OfflineBackend())
    store_path = workdir / "scale.db"
    started = time.perf_counter()
    templates = _clone(seed_store, store_path, count)
    build_s = time.perf_counter() - started
    figures: dict[str, Any] = {
        "samples": count,
        "trajectories": count,
        "template_samples": templates,
        "build_s": build_s,
        "store_mb": sum(path.stat().st_size for path in workdir.glob("scale.db*")) / 2**20,
        "store_bytes_per_sample": _sample_bytes(store_path) / count,
    }
    for fmt in ("openai",) if quick else FORMATS:
        out = subprocess.run(
            [sys.executable, str(BENCH / "export_child.py"), str(store_path), fmt, str(workdir / f"{fmt}.jsonl")],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["count"] == count, result
        figures[fmt] = {
            "samples_per_s": count / result["seconds"],
            "seconds": result["seconds"],
            "peak_rss_mb": result["peak_rss_mb"],
            "file_mb": (workdir / f"{fmt}.jsonl").stat().st_size / 2**20,
            "json_floor_samples_per_s": result["json_floor_samples_per_s"],
            "vs_json_floor": count / result["seconds"] / result["json_floor_samples_per_s"],
            "stored_kb_per_sample": result["stored_kb_per_sample"],
        }
    figures["json_floor_samples_per_s"] = figures["openai"]["json_floor_samples_per_s"]
    figures["export_samples_per_s"] = figures["openai"]["samples_per_s"]
    figures["export_peak_rss_mb"] = figures["openai"]["peak_rss_mb"]
    return figures


def _clone(seed_store: Path, store_path: Path, count: int) -> int:
    """Fill `store_path` with `count` samples and `count` trajectories cloned from `seed_store`."""
    with Store(seed_store) as seed:
        samples = seed.db.execute("SELECT * FROM samples WHERE verified = 1").fetchall()
        columns = [row[1] for row in seed.db.execute("PRAGMA table_info(samples)")]
        trajectories = seed.db.execute("SELECT * FROM trajectories").fetchall()
        trajectory_columns = [row[1] for row in seed.db.execute("PRAGMA table_info(trajectories)")]
        steps = seed.db.execute("SELECT * FROM steps ORDER BY trajectory_id, idx").fetchall()
        step_columns = [row[1] for row in seed.db.execute("PRAGMA table_info(steps)")]
        shared = {table: seed.db.execute(f"SELECT * FROM {table}").fetchall() for table in _SHARED_TABLES}
    with Store(store_path) as store:
        SampleStore(store)
    if not samples:
        raise RuntimeError("the offline seed run gave no verified sample")
    steps_of: dict[str, list[tuple]] = {}
    for step in steps:
        steps_of.setdefault(step[step_columns.index("trajectory_id")], []).append(step)
    connection = sqlite3.connect(store_path)
    with connection:
        for table, rows in shared.items():
            connection.executemany(f"INSERT INTO {table} VALUES (?, ?)", rows)
        connection.executemany(
            f"INSERT INTO samples ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            _cloned_samples(samples, columns, count),
        )
        connection.executemany(
            f"INSERT INTO trajectories ({', '.join(trajectory_columns)}) "
            f"VALUES ({', '.join('?' * len(trajectory_columns))})",
            _cloned_rows(trajectories, trajectory_columns, count, "id", "idx"),
        )
        connection.executemany(
            f"INSERT INTO steps ({', '.join(step_columns)}) VALUES ({', '.join('?' * len(step_columns))})",
            _cloned_steps(trajectories, trajectory_columns, steps_of, step_columns, count),
        )
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return len(samples)


def _sample_bytes(store_path: Path) -> int:
    """Bytes of the pages that hold samples: their table, its index, and the tool sets and states they share."""
    connection = sqlite3.connect(store_path)
    try:
        tables = ", ".join(f"'{table}'" for table in ("samples", *_SHARED_TABLES))
        names = f"SELECT name FROM sqlite_master WHERE tbl_name IN ({tables})"
        return connection.execute(f"SELECT sum(pgsize) FROM dbstat WHERE name IN ({names})").fetchone()[0]
    finally:
        connection.close()


def _cloned_samples(samples: list[tuple], columns: list[str], count: int) -> Any:
    id_at, data_at = columns.index("id"), columns.index("data")
    for number in range(count):
        row = list(samples[number % len(samples)])
        new_id = f"{row[id_at]}~{number:07d}"
        row[data_at] = row[data_at].replace(json.dumps(row[id_at]), json.dumps(new_id), 1)
        row[id_at] = new_id
        yield row


def _cloned_rows(rows: list[tuple], columns: list[str], count: int, id_column: str, index_column: str) -> Any:
    id_at, index_at, run_at = columns.index(id_column), columns.index(index_column), columns.index("run_id")
    for number in range(count):
        row = list(rows[number % len(rows)])
        row[id_at], row[index_at], row[run_at] = f"clone-{number:07d}", number, "clone-run"
        yield row


def _cloned_steps(
    trajectories: list[tuple],
    trajectory_columns: list[str],
    steps_of: dict[str, list[tuple]],
    step_columns: list[str],
    count: int,
) -> Any:
    id_at, owner_at = trajectory_columns.index("id"), step_columns.index("trajectory_id")
    for number in range(count):
        original = trajectories[number % len(trajectories)][id_at]
        for step in steps_of.get(original, []):
            row = list(step)
            row[owner_at] = f"clone-{number:07d}"
            yield row
