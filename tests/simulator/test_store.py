"""The trajectory store: atomic trajectories, streaming, foreign and corrupt files, kill and resume."""

import os
import signal
import sqlite3
import subprocess
import time

import pytest

from simulator.errors import StoreError
from simulator.records import Step, Trajectory
from simulator.store import Store
from tests.conftest import FUNREASON


def make(index: int, steps: int = 2) -> Trajectory:
    return Trajectory(
        id=f"run-x-{index:06d}",
        run_id="run-x",
        index=index,
        env="e",
        scenario="s",
        seed=index,
        target="t",
        steps=[Step(i, "t", {"i": i}, {"ok": i}, "{}", False, [], 0.1) for i in range(steps)],
    )


def test_save_is_idempotent_and_reads_stream_in_order(tmp_path):
    with Store(tmp_path / "s.db") as store:
        store.ensure_run("run-x", kind="explore", target="e", config={}, seed=0)
        for index in (2, 0, 1):
            assert store.save_trajectory(make(index))
        assert not store.save_trajectory(make(1))
        streamed = store.iter_trajectories("run-x")
        first = next(streamed)
        assert first.index == 0 and [s.arguments for s in first.steps] == [{"i": 0}, {"i": 1}]
        assert [t.index for t in streamed] == [1, 2]
        assert store.stats()["trajectories"] == 3 and store.stats()["steps"] == 6
    assert sqlite3.connect(tmp_path / "s.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_foreign_sqlite_file_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "other.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE invoices (id INTEGER)")
    connection.commit()
    connection.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a funreason store"):
        Store(path)
    assert path.read_bytes() == before


def test_a_corrupt_file_is_refused(tmp_path):
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite store"):
        Store(path)


def test_cli_reports_store_problems_in_one_line(tmp_path):
    path = tmp_path / "broken.db"
    path.write_bytes(b"garbage" * 300)
    result = subprocess.run([FUNREASON, "stats", "--db", str(path), "--json"], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_sigkill_mid_run_then_rerun_leaves_exact_counts(tmp_path):
    db = tmp_path / "t.db"
    command = [FUNREASON, "explore", "--env", "trading", "--trajectories", "300", "--seed", "4", "--db", str(db)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if db.exists():
            try:
                with Store(db) as store:
                    if store.stats()["trajectories"] >= 40:
                        break
            except StoreError:
                continue
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    with Store(db) as store:
        partial = store.stats()["trajectories"]
    assert 0 < partial < 300, "the explorer should have been killed mid-run"
    subprocess.run(command, check=True, capture_output=True)
    connection = sqlite3.connect(db)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert connection.execute("SELECT count(*), count(DISTINCT idx) FROM trajectories").fetchone() == (300, 300)
    orphans = "SELECT count(*) FROM steps WHERE trajectory_id NOT IN (SELECT id FROM trajectories)"
    assert connection.execute(orphans).fetchone()[0] == 0
    lengths = (
        "SELECT count(*) FROM trajectories t WHERE n_steps != (SELECT count(*) FROM steps WHERE trajectory_id = t.id)"
    )
    assert connection.execute(lengths).fetchone()[0] == 0
