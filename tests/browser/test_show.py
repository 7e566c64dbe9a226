"""`funreason show`: one sample or reject as a chat in the terminal, from the store or an exported line."""

import json
import sqlite3

from tests.conftest import funreason


def test_show_reads_a_sample_from_the_store_with_its_turns_calls_and_origins(run_dir):
    db = run_dir / "store.db"
    sample_id, data = sqlite3.connect(db).execute("SELECT id, data FROM samples ORDER BY id").fetchone()
    sample = json.loads(data)
    outcome = funreason("show", sample_id, "--db", str(db))
    assert outcome.returncode == 0, outcome.stderr
    assert sample_id in outcome.stdout
    for number, turn in enumerate(sample["turns"], 1):
        assert f"Turn {number} · variant {turn['variant']}" in outcome.stdout
    first_call = sample["turns"][0]["calls"][0]["tool"]
    assert f"→ {first_call}" in outcome.stdout
    assert "←" in outcome.stdout  # where an argument came from
    assert "(reasoning)" in outcome.stdout


def test_show_reads_a_reject_with_its_reason(run_dir):
    db = run_dir / "store.db"
    reject_id, reason = sqlite3.connect(db).execute("SELECT id, reason FROM rejects").fetchone()
    outcome = funreason("show", reject_id, "--db", str(db))
    assert outcome.returncode == 0, outcome.stderr
    assert "Rejected" in outcome.stdout
    assert reason.split(":")[0] in outcome.stdout


def test_show_reads_an_exported_line_and_folds_results(run_dir):
    lines = (run_dir / "openai.jsonl").read_text().splitlines()
    record = json.loads(lines[2])
    outcome = funreason("show", f"{run_dir / 'openai.jsonl'}:3", "--fold")
    assert outcome.returncode == 0, outcome.stderr
    assert record["metadata"]["sample_id"] in outcome.stdout
    assert record["messages"][0]["content"][:40] in " ".join(outcome.stdout.split())
    assert "⇐" in outcome.stdout


def test_show_reads_a_line_of_any_export_through_the_store(run_dir):
    record = json.loads((run_dir / "bfcl.jsonl").read_text().splitlines()[0])
    outcome = funreason("show", f"{run_dir / 'bfcl.jsonl'}:1", "--db", str(run_dir / "store.db"))
    assert outcome.returncode == 0, outcome.stderr
    assert record["metadata"]["sample_id"] in outcome.stdout and "Turn 1" in outcome.stdout


def test_show_says_in_one_line_what_is_wrong(run_dir, tmp_path):
    db = str(run_dir / "store.db")
    cases = [
        (["show", "no-such-sample", "--db", db], "holds no sample or reject"),
        (["show", "no-such-sample"], "pass --db"),
        (["show", f"{run_dir / 'openai.jsonl'}:99999"], "has no line 99999"),
        (["show", f"{run_dir / 'bfcl.jsonl'}:1"], "not an exported chat sample"),
        (["show", f"{run_dir / 'report.json'}:2"], f"{run_dir / 'report.json'}:2: "),
    ]
    for args, message in cases:
        outcome = funreason(*args)
        assert outcome.returncode != 0
        assert message in outcome.stderr
        assert "Traceback" not in outcome.stderr and len(outcome.stderr.strip().splitlines()) == 1
