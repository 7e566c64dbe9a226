"""Views read from a real run's store: every message in a turn, every call with its recorded diff and with
origins that point back at what the dialogue showed earlier."""

import json
import sqlite3

from synthesizer.browser import store_views


def test_views_keep_every_message_and_point_origins_backwards(run_dir):
    db = run_dir / "store.db"
    views = list(store_views(db))
    stored = dict(sqlite3.connect(db).execute("SELECT id, data FROM samples").fetchall())
    samples = [view for view in views if view["kind"] == "sample"]
    assert {view["id"] for view in samples} == set(stored)
    linked = matched = total = 0
    for view in samples:
        data = json.loads(stored[view["id"]])
        assert [m for turn in view["turns"] for m in turn["messages"]] == data["messages"]
        assert [turn["variant"] for turn in view["turns"]] == [turn["variant"] for turn in data["turns"]]
        assert [turn["messages"][0]["content"] for turn in view["turns"]] == [turn["query"] for turn in data["turns"]]
        order = list(view["calls"])
        for position, (call_id, call) in enumerate(view["calls"].items()):
            total += 1
            matched += call["diff"] is not None
            for name, origin in call["origins"].items():
                if origin["kind"] == "result":
                    linked += 1
                    assert origin["call"] in order[:position], (view["id"], call_id, name)
                if origin["kind"] == "user":
                    assert origin["turn"] <= call["turn"]
    assert linked > 0
    assert matched >= 0.9 * total  # a call the dialogue made is found among the walk's recorded steps


def test_reject_views_carry_their_reason_and_walk(run_dir):
    db = run_dir / "store.db"
    rejects = [view for view in store_views(db) if view["kind"] == "reject"]
    rows = sqlite3.connect(db).execute("SELECT id, reason, trajectory_id FROM rejects ORDER BY id").fetchall()
    assert [(view["id"], view["reason"]) for view in rejects] == [(row[0], row[1]) for row in rows]
    for view, (_, _, trajectory) in zip(rejects, rows, strict=True):
        steps = sqlite3.connect(db).execute("SELECT count(*) FROM steps WHERE trajectory_id = ?", [trajectory])
        assert len(view["walk"]) == steps.fetchone()[0]
        if view["reason_kind"] == "near-duplicate request":  # a whole sample dropped late: its dialogue is kept
            assert view["turns"] and view["turns"][0]["messages"][0]["role"] == "user"
