"""Bad files and places: one clear line, a non-zero exit, and nothing overwritten."""

import hashlib
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Outcome, funreason


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line_failure(result: Outcome, expected: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(("explor", "synth"))]
    assert lines and expected in lines[-1], result.stderr


@pytest.fixture
def corrupt(tmp_path):
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    return path


@pytest.fixture
def foreign(tmp_path):
    path = tmp_path / "foreign.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    connection.execute("INSERT INTO customers (name) VALUES ('Ada')")
    connection.commit()
    connection.close()
    return path


@pytest.mark.parametrize("which", ["corrupt", "foreign"])
@pytest.mark.parametrize(
    "command",
    [
        ["explore", "--env", "math", "--trajectories", "2", "--db"],
        ["synthesize", "--db"],
        ["export", "--format", "openai", "--out", "out.jsonl", "--db"],
        ["stats", "--json", "--db"],
    ],
)
def test_a_bad_store_is_refused_and_left_alone(request, tmp_path, which, command):
    path = request.getfixturevalue(which)
    before = digest(path)
    result = funreason(*command, str(path), cwd=tmp_path)
    one_line_failure(result, "store")
    assert digest(path) == before
    assert not (tmp_path / "out.jsonl").exists()


def test_truncated_scenario_unknown_env_and_bad_config(tmp_path):
    truncated = tmp_path / "truncated.json"
    truncated.write_text('{"description": "cut short", "state": {"cwd": "/", "nod')
    one_line_failure(funreason("serve", "filesystem", "--scenario", str(truncated), cwd=tmp_path), "invalid JSON")
    one_line_failure(funreason("explore", "--env", "filesystm", "--db", "t.db", cwd=tmp_path), "unknown environment")
    one_line_failure(funreason("run", "--envs", "mathh", cwd=tmp_path), "unknown environment")
    (tmp_path / "bad.toml").write_text("trajectories = 'many'\n")
    one_line_failure(funreason("run", "--config", "bad.toml", cwd=tmp_path), "bad.toml: trajectories")
    (tmp_path / "worse.toml").write_text("trajectories = [1,\n")
    one_line_failure(funreason("run", "--config", "worse.toml", cwd=tmp_path), "worse.toml: invalid TOML")
    (tmp_path / "odd.toml").write_text("colour = 'red'\n")
    one_line_failure(funreason("run", "--config", "odd.toml", cwd=tmp_path), "odd.toml: unknown key 'colour'")
    assert not (tmp_path / "t.db").exists() and not (tmp_path / "funreason-out").exists()


def test_unwritable_outputs(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    one_line_failure(funreason("run", "--out", str(blocker / "out"), cwd=tmp_path), "cannot write there")
    db = tmp_path / "t.db"
    assert funreason("explore", "--env", "math", "--trajectories", "3", "--db", str(db), cwd=tmp_path).returncode == 0
    existing = tmp_path / "data.jsonl"
    existing.write_text("precious\n")
    result = funreason("export", "--db", str(db), "--format", "openai", "--out", str(blocker / "x.jsonl"), cwd=tmp_path)
    one_line_failure(result, str(blocker))
    assert blocker.read_text() == "keep me" and existing.read_text() == "precious\n"
