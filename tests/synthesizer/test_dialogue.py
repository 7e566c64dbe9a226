"""A dialogue is one typed value: it goes through the store unchanged, and every exporter, the evaluation tasks and
`funreason quality` cut it into the turns it holds, on samples of a real offline run."""

import json

import orjson
import pytest

from evaluation.rl_data import write_trl, write_verl
from evaluation.tasks import load_tasks, task_from_sample
from simulator import ExploreConfig, ServerTarget, Store, explore
from synthesizer import Dialogue, Turn, Variant
from synthesizer.chat_flow import Dialogue as ReadRecord
from synthesizer.export import export_samples
from synthesizer.offline import OfflineBackend
from synthesizer.plan import Variants
from synthesizer.samples import SampleStore
from synthesizer.synthesize import SynthesisConfig, synthesize


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """Verified dialogues of messaging and travel with many missing-parameter and missing-tool turns."""
    path = tmp_path_factory.mktemp("dialogue") / "store.db"
    for env in ("messaging", "travel"):
        explore(ServerTarget(envs=(env,)), path, ExploreConfig(trajectories=8, seed=3, after_target_steps=3))
    config = SynthesisConfig(seed=2, turns=(2, 4), variants=Variants(0.35, 0.35, 0.1))
    assert synthesize(path, config, OfflineBackend())["verified"] >= 6
    with Store(path) as store:
        return path, list(SampleStore(store).iter_samples(verified_only=True))


def test_the_samples_hold_every_kind_of_turn(samples):
    _, stored = samples
    variants = {turn.variant for sample in stored for turn in sample.dialogue.turns}
    assert {Variant.PLAIN, Variant.MISSING_PARAMETER, Variant.MISSING_TOOL} <= variants
    for sample in stored:
        for turn in sample.dialogue.turns:
            assert turn.messages[0] == {"role": "user", "content": turn.request}
            assert (turn.follow_up is not None) == (turn.variant is Variant.MISSING_PARAMETER)
            assert bool(turn.announcement) == (turn.variant is Variant.MISSING_TOOL)


def test_a_dialogue_round_trips_through_the_store_as_the_json_stores_have_always_held(samples, tmp_path):
    _, stored = samples
    with Store(tmp_path / "copy.db") as store:
        copy = SampleStore(store)
        for sample in stored:
            copy.save_sample(sample)
        assert list(copy.iter_samples()) == stored
        for sample in stored:
            assert copy.get_sample(sample.id).dialogue == sample.dialogue
            ((data,),) = store.db.execute("SELECT data FROM samples WHERE id = ?", [sample.id]).fetchall()
            row = orjson.loads(data)
            assert row["messages"] == sample.messages and row["turns"] == sample.dialogue.records()
            assert Dialogue.stored(row["messages"], row["turns"]) == sample.dialogue


def test_a_turn_record_reads_back_as_the_same_turn(samples):
    _, stored = samples
    for turn in (turn for sample in stored for turn in sample.dialogue.turns):
        assert Turn.from_record(turn.record(), turn.messages) == turn
        assert isinstance(turn.variant, Variant)


def test_openai_and_funreason_records_cut_into_the_dialogues_turns(samples, tmp_path):
    """The reader of anyone's chat (metadata without requests) finds the turns the dialogue holds."""
    _, stored = samples
    for fmt in ("openai", "funreason"):
        export_samples(stored, fmt, tmp_path / f"{fmt}.jsonl")
        records = [json.loads(line) for line in (tmp_path / f"{fmt}.jsonl").read_text().splitlines()]
        for sample, record in zip(stored, records, strict=True):
            read = Dialogue.read(record["messages"], record["metadata"]["turns"])
            assert [turn.request for turn in read.turns] == [turn.request for turn in sample.dialogue.turns]
            assert [len(turn.messages) for turn in read.turns] == [len(turn.messages) for turn in sample.dialogue.turns]
            assert [turn.variant for turn in read.turns] == [turn.variant for turn in sample.dialogue.turns]
            measured = ReadRecord.read(record, 0)  # what `funreason quality` counts on
            assert [turn.query for turn in measured.turns] == [turn.request for turn in sample.dialogue.turns]


def test_sharegpt_and_bfcl_turns_are_the_dialogues(samples, tmp_path):
    _, stored = samples
    export_samples(stored, "sharegpt", tmp_path / "sharegpt.jsonl")
    export_samples(stored, "bfcl", tmp_path / "bfcl.jsonl")
    sharegpt = [json.loads(line) for line in (tmp_path / "sharegpt.jsonl").read_text().splitlines()]
    bfcl = [json.loads(line) for line in (tmp_path / "bfcl.jsonl").read_text().splitlines()]
    for sample, conversation, entry in zip(stored, sharegpt, bfcl, strict=True):
        turns = sample.dialogue.turns
        said = [c["value"] for c in conversation["conversations"] if c["from"] == "human"]
        users = [m for turn in turns for m in turn.messages if m["role"] == "user"]
        go_aheads = sum(len(turn.announcement) // 2 for turn in turns)
        assert len(said) == len(users) - go_aheads  # a go-ahead after an announcement is the environment's turn
        requests = [turn.request for turn in turns]
        opened = [text for text in said if any(text.endswith(request) for request in requests)]
        assert len(opened) == len(requests) and all(map(str.endswith, opened, requests))
        asked = [question[0]["content"] for question in entry["question"] if question]
        assert [text for text in asked if text in requests] == requests
        truth = [call["tool"] for turn in turns for call in turn.calls]
        assert [call.split("(")[0] for calls in entry["ground_truth"] for call in calls] == truth
        assert [path.split(".")[-1] for path in entry["path"]] == truth


def test_tasks_and_rl_rows_have_one_turn_per_dialogue_turn(samples, tmp_path):
    path, stored = samples
    for sample in stored:
        task = task_from_sample(sample)
        assert [t.query for t in task.turns] == [t.request for t in sample.dialogue.turns]
        assert [t.calls for t in task.turns] == [list(t.calls) for t in sample.dialogue.turns]
        assert [t.follow_up for t in task.turns] == [
            t.follow_up if t.variant is Variant.MISSING_PARAMETER else None for t in sample.dialogue.turns
        ]
    tasks = load_tasks(db=path)[:3]
    assert write_trl(tasks, tmp_path / "trl.jsonl") == sum(len(task.turns) for task in tasks)
    rows = [json.loads(line) for line in (tmp_path / "trl.jsonl").read_text().splitlines()]
    by_id = {sample.id: sample for sample in stored}
    for row in rows:
        request = by_id[json.loads(row["task"])["id"]].dialogue.turns[row["turn"]].request
        assert {"role": "user", "content": request} in row["prompt"]
    pyarrow = pytest.importorskip("pyarrow.parquet")
    assert write_verl(tasks, tmp_path / "verl.parquet") == len(rows)
    verl = pyarrow.read_table(tmp_path / "verl.parquet").to_pylist()
    assert [(r["extra_info"]["task_id"], r["extra_info"]["turn"]) for r in verl] == [
        (json.loads(row["task"])["id"], row["turn"]) for row in rows
    ]
