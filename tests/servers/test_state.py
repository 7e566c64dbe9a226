"""Snapshots, hashes and diffs of states."""

import hashlib
import json
import random
from typing import Any

import pytest

from servers import (
    Environment,
    PreconditionFailed,
    Sandbox,
    StateModel,
    apply_diff,
    canonical_json,
    create_sandbox,
    diff_states,
    hash_state,
    tool,
)
from servers.environment import EnvironmentSnapshot
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


def test_canonical_json_writes_the_stdlib_bytes_whichever_encoder_runs():
    floats = [0.1, 100.0, -0.0, 1e-05, 2.5e-05, 1.5e-07, 1e16, 1e22, 5e-324, 1.7976931348623157e308, 123456.789]
    cases = [
        {"b": floats, "a": {"é": 'x\n"\\\u0001', "Z": [None, True, False, ""]}},
        {"token": "tok_1c2e64663f8d8e-7", "big": 2**70, "small": -(2**63)},
        {10: "keys that are not strings", 2: "sort as numbers"},
        [{"nested": [[[{"deep": i}]]]} for i in range(3)],
    ]
    for data in cases:
        expected = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert canonical_json(data) == expected
        assert hash_state(data) == hashlib.sha256(expected.encode()).hexdigest()


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


class _Counter(StateModel):
    count: int = 0
    values: dict[str, Any] = {}


class _Refusing(Environment):
    """Tools that refuse after drawing from the random stream, with and without changing the state first."""

    name = "refusing"
    description = "refuses"
    state_model = _Counter

    @tool()
    def draw_then_refuse(self) -> dict:
        """Draw a number, then refuse."""
        self.rng.random()
        raise PreconditionFailed("refused after a draw")

    @tool()
    def count_then_refuse(self) -> dict:
        """Count one, then refuse."""
        self.state.count += 1
        self.rng.random()
        raise PreconditionFailed("refused after counting")

    @tool()
    def retype_then_refuse(self) -> dict:
        """Write 1 as 1.0 (equal in Python, not in JSON), then refuse."""
        self.state.values["x"] = 1.0
        raise PreconditionFailed("refused after retyping")


class _KeepsTally(_Refusing):
    """Keeps a tally besides `state`, so it brings its own `restore`."""

    name = "tally"

    def __init__(self, state: Any, seed: int = 0) -> None:
        super().__init__(state, seed)
        self.tally = 0

    def snapshot(self) -> EnvironmentSnapshot:
        self.tally += 1
        return super().snapshot()

    def restore(self, snapshot: EnvironmentSnapshot) -> None:
        super().restore(snapshot)
        self.tally = 0


@pytest.mark.parametrize("tool_name", ["draw_then_refuse", "count_then_refuse", "retype_then_refuse"])
def test_a_refused_call_leaves_state_and_random_stream_as_they_were(tool_name):
    sandbox = Sandbox([_Refusing({"values": {"x": 1}}, 7)], sandbox_id="s", scenario={}, seed=7)
    env = sandbox.environments["refusing"]
    expected_hash = sandbox.state_hash()
    expected = random.Random()
    expected.setstate(env.rng.getstate())
    with pytest.raises(PreconditionFailed):
        sandbox.execute(tool_name, {})
    assert canonical_json(sandbox.state()) == '{"refusing":{"count":0,"values":{"x":1}}}'
    assert sandbox.state_hash() == expected_hash
    assert env.rng.random() == expected.random()


def test_an_environment_with_its_own_restore_gets_it_after_a_refusal():
    sandbox = Sandbox([_KeepsTally({})], sandbox_id="s", scenario={}, seed=0)
    with pytest.raises(PreconditionFailed):
        sandbox.execute("draw_then_refuse", {})  # the state is unchanged, yet its own restore runs
    assert sandbox.environments["tally"].tally == 0
