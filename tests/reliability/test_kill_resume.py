"""SIGKILL explore, synthesize and run three times each at random points, then resume: nothing lost or doubled.

Each resumed result is compared with the same command run once without interruption.
"""

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from simulator import ExploreConfig, ServerTarget, explore
from tests.conftest import FUNREASON

pytestmark = [pytest.mark.heavy, pytest.mark.alone]  # kills on a clock
KILLS = {"count": 0}


def count(db: Path, sql: str) -> int:
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(connection.execute(sql).fetchone()[0] or 0)
        finally:
            connection.close()
    except sqlite3.Error:
        return 0


def kill_three_times_then_finish(command: list[str], db: Path, sql: str, total: int, rng: random.Random) -> None:
    for threshold in sorted(rng.sample(range(total // 6, total * 5 // 6), 3)):
        process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while count(db, sql) < threshold:
            assert process.poll() is None, f"{command[1]} finished before it could be killed at {threshold}"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        KILLS["count"] += 1
    subprocess.run(command, check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=600)


def sound(db: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(db)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    orphans = "SELECT count(*) FROM steps WHERE trajectory_id NOT IN (SELECT id FROM trajectories)"
    assert connection.execute(orphans).fetchone()[0] == 0
    short = (
        "SELECT count(*) FROM trajectories t WHERE n_steps != (SELECT count(*) FROM steps WHERE trajectory_id = t.id)"
    )
    assert connection.execute(short).fetchone()[0] == 0
    return connection


def test_explore_killed_three_times(tmp_path):
    command = [FUNREASON, "explore", "--env", "trading", "--trajectories", "400", "--seed", "9", "--workers", "2"]
    killed, clean = tmp_path / "killed.db", tmp_path / "clean.db"
    kill_three_times_then_finish(
        [*command, "--db", str(killed)], killed, "SELECT count(*) FROM trajectories", 400, random.Random(1)
    )
    subprocess.run([*command, "--db", str(clean)], check=True, capture_output=True)
    trajectories = "SELECT id, target, reached, n_steps, final_state_hash FROM trajectories ORDER BY id"
    steps = "SELECT trajectory_id, idx, tool, arguments, result FROM steps ORDER BY trajectory_id, idx"
    resumed, reference = sound(killed), sound(clean)
    assert resumed.execute(trajectories).fetchall() == reference.execute(trajectories).fetchall()
    assert resumed.execute(steps).fetchall() == reference.execute(steps).fetchall()
    assert resumed.execute("SELECT count(*) FROM trajectories").fetchone()[0] == 400


def test_synthesize_killed_three_times(tmp_path):
    killed, clean = tmp_path / "killed.db", tmp_path / "clean.db"
    for env in ("travel", "messaging", "tickets"):
        explore(ServerTarget(envs=(env,)), killed, ExploreConfig(trajectories=60, seed=4, after_target_steps=3))
    shutil.copy(killed, clean)
    command = [FUNREASON, "synthesize", "--seed", "2"]
    done = "SELECT (SELECT count(*) FROM samples) + (SELECT count(*) FROM rejects)"
    kill_three_times_then_finish([*command, "--db", str(killed)], killed, done, 180, random.Random(2))
    subprocess.run([*command, "--db", str(clean)], check=True, capture_output=True)
    resumed, reference = sound(killed), sound(clean)
    samples = "SELECT id, verified, data FROM samples ORDER BY id"
    assert resumed.execute(samples).fetchall() == reference.execute(samples).fetchall()
    assert resumed.execute(done).fetchone()[0] == 180  # every trajectory gave a sample or a reject, once


def test_run_killed_three_times(tmp_path):
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    command = [FUNREASON, "run", "--trajectories", "10", "--seed", "5"]
    progress = "SELECT (SELECT count(*) FROM trajectories) + (SELECT count(*) FROM samples)"
    kill_three_times_then_finish([*command, "--out", str(killed)], killed / "store.db", progress, 150, random.Random(3))
    subprocess.run([*command, "--out", str(clean)], check=True, capture_output=True)
    sound(killed / "store.db")
    resumed = json.loads((killed / "report.json").read_text())["totals"]
    reference = json.loads((clean / "report.json").read_text())["totals"]
    assert resumed == reference and resumed["trajectories"] == 80
    for fmt in ("openai", "sharegpt", "bfcl", "funreason"):
        assert (killed / f"{fmt}.jsonl").read_text() == (clean / f"{fmt}.jsonl").read_text()
    assert KILLS["count"] >= 3
