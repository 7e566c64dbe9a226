"""The lean sample store: shared tool sets and states stored once, old full-JSON rows still read."""

import json
import sqlite3
from dataclasses import asdict, replace

from simulator import Store
from synthesizer.dialogue import Dialogue
from synthesizer.samples import Reject, Sample, SampleStore

TOOLS = [{"type": "function", "function": {"name": "ls", "description": "List a folder.", "parameters": {}}}]
STATE = {"files": {"/a.txt": "é"}, "cwd": "/"}


def _sample(number: int, **changes) -> Sample:
    sample = Sample(
        id=f"s{number}",
        trajectory_ids=[f"t{number}"],
        env="filesystem",
        scenario="default",
        seed=number,
        model="offline",
        dialogue=Dialogue.stored(
            [{"role": "user", "content": f"list {number}"}, {"role": "assistant", "content": "done"}],
            [{"query": f"list {number}", "variant": "plain", "calls": []}],
        ),
        tools=TOOLS,
        verified=True,
        attempts=1,
        initial_state=STATE,
    )
    return replace(sample, **changes)


def _full_row(sample: Sample) -> dict:
    """A sample as rows of older stores held it: every field in `data`, the dialogue as messages and turns."""
    row = {key: value for key, value in asdict(sample).items() if key != "dialogue"}
    return row | {"messages": sample.messages, "turns": sample.dialogue.records()}


def test_shared_parts_are_stored_once_and_read_back_whole(tmp_path):
    samples = [_sample(1), _sample(2), _sample(3, initial_state=None), _sample(4, tools=[])]
    with Store(tmp_path / "store.db") as store:
        lean = SampleStore(store)
        for sample in samples:
            lean.save_sample(sample)
        assert store.db.execute("SELECT count(*) FROM tool_sets").fetchone()[0] == 2
        assert store.db.execute("SELECT count(*) FROM states").fetchone()[0] == 1
        (data,) = store.db.execute("SELECT data FROM samples WHERE id = 's1'").fetchone()
        assert "tools" not in json.loads(data) and "initial_state" not in json.loads(data)
        assert list(lean.iter_samples()) == samples
        assert [lean.get_sample(sample.id) for sample in samples] == samples


def test_old_rows_holding_full_json_still_read(tmp_path):
    path = tmp_path / "old.db"
    with Store(path):
        pass
    old = _sample(1)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(
            "CREATE TABLE samples (id TEXT PRIMARY KEY, trajectory_id TEXT, env TEXT, verified INTEGER, "
            "n_turns INTEGER, n_calls INTEGER, model TEXT, data TEXT)"
        )
        connection.execute(
            "CREATE TABLE rejects (id TEXT PRIMARY KEY, trajectory_id TEXT, model TEXT, reason TEXT, attempts INTEGER)"
        )
        connection.execute("CREATE TABLE llm_cache (key TEXT PRIMARY KEY, request TEXT, reply TEXT)")
        connection.execute(
            "INSERT INTO samples VALUES ('s1', 't1', 'filesystem', 1, 1, 0, 'offline', ?)", [json.dumps(_full_row(old))]
        )
    connection.close()
    with Store(path) as store:
        samples = SampleStore(store)
        samples.save_sample(_sample(2))
        assert list(samples.iter_samples()) == [old, _sample(2)]
        assert samples.get_sample("s1") == old
        samples.reject_sample("s1", "checked again")
        assert samples.counts() == {"samples": 1, "verified": 1, "rejected": 1}


def test_rejects_keep_the_dialogue_as_far_as_it_got_and_old_rejects_still_read(tmp_path):
    messages = [{"role": "user", "content": "list 1"}, {"role": "assistant", "content": "no", "is_error": False}]
    with Store(tmp_path / "store.db") as store:
        lean = SampleStore(store)
        lean.save_reject(Reject("r1", "t1", "offline", "turn 1: state check", 3, messages, [{"query": "list 1"}]))
        lean.save_sample(_sample(2))
        lean.reject_sample("s2", "near-duplicate request: 'list 2'")
        read = {reject.id: reject for reject in lean.iter_rejects()}
        assert read["r1"].messages == messages and read["r1"].turns == [{"query": "list 1"}]
        assert read["s2"].messages == _sample(2).messages and read["s2"].turns == _sample(2).dialogue.records()
        assert lean.get_reject("r1") == read["r1"] and lean.get_reject("nope") is None
    path = tmp_path / "old.db"
    with Store(path):
        pass
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(
            "CREATE TABLE samples (id TEXT PRIMARY KEY, trajectory_id TEXT, env TEXT, verified INTEGER, "
            "n_turns INTEGER, n_calls INTEGER, model TEXT, data TEXT)"
        )
        connection.execute(
            "CREATE TABLE rejects (id TEXT PRIMARY KEY, trajectory_id TEXT, model TEXT, reason TEXT, attempts INTEGER)"
        )
        connection.execute("INSERT INTO rejects VALUES ('r0', 't0', 'offline', 'turn 2: no', 1)")
    connection.close()
    with Store(path) as store:
        (reject,) = SampleStore(store).iter_rejects()
        assert (reject.reason, reject.messages, reject.turns) == ("turn 2: no", [], [])


def test_a_leak_found_later_takes_verified_back_from_that_runs_samples_only(tmp_path):
    leaky = [_sample(1, trajectory_ids=["run-a-000001"]), _sample(2, trajectory_ids=["run-a-000002"])]
    sound = _sample(3, trajectory_ids=["run-b-000001"])
    with Store(tmp_path / "store.db") as store:
        samples = SampleStore(store)
        for sample in [*leaky, sound]:
            samples.save_sample(sample)
        assert store.leaking_runs() == set() and store.leak_of("run-a") is None
        store.record_leak("run-a", "state leaks across fresh starts of notes")
        assert samples.unverify_runs(store.leaking_runs()) == 2
        assert [sample.verified for sample in samples.iter_samples()] == [False, False, True]
        assert samples.counts()["verified"] == 1 and store.leak_of("run-a").startswith("state leaks")
