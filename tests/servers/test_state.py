"""Snapshots, hashes and diffs of states."""

from servers import apply_diff, create_sandbox, diff_states, hash_state
from tests.conftest import run


def test_diff_applies_back_to_the_after_state():
    before = {"a": 1, "b": {"c": [1, 2], "d": "x"}, "gone": True}
    after = {"a": 2, "b": {"c": [1, 2, 3], "d": "x"}, "new": {"k/with/slash": 1}}
    ops = diff_states(before, after)
    assert apply_diff(before, ops) == after
    assert {"op": "remove", "path": ["gone"]} in ops
    assert diff_states(after, after) == []


def test_hash_is_canonical():
    assert hash_state({"a": 1, "b": [1, "é"]}) == hash_state({"b": [1, "é"], "a": 1})
    assert hash_state({"a": 1}) != hash_state({"a": 2})


def test_execution_diff_replays_the_change():
    box = create_sandbox("filesystem")
    before = box.state()
    execution = box.execute("mkdir", {"dir_name": "new", "parents": False})
    assert apply_diff(before, execution.diff) == box.state()
    assert box.execute("ls", {"path": ".", "show_hidden": False}).diff == []


def test_restore_puts_back_state_and_random_stream():
    box = create_sandbox("filesystem")
    env = box.environments["filesystem"]
    snapshot = box.snapshot()
    drawn = env.rng.random()
    run(box, "mkdir", dir_name="temporary")
    box.restore(snapshot)
    assert "/home/alex/temporary" not in box.state()["filesystem"]["nodes"]
    assert box.state_hash() == create_sandbox("filesystem").state_hash()
    assert env.rng.random() == drawn
