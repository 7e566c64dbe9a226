"""Tasks from a store, from an exported openai.jsonl and from a task file; the held-out split."""

import json

import pytest

from evaluation import TaskError, load_tasks, split_tasks
from simulator import Store
from synthesizer import SampleStore, export_samples
from tests.conftest import funreason


def summary(task):
    return [(turn.query, turn.variant, turn.state_hash, turn.expected_results, turn.withheld) for turn in task.turns]


def test_every_verified_sample_is_a_task_with_a_ground_truth_state_per_turn(store_path, tasks):
    with Store(store_path) as store:
        samples = list(SampleStore(store).iter_samples(verified_only=True))
    assert [task.id for task in tasks] == [sample.id for sample in samples]
    for task, sample in zip(tasks, samples, strict=True):
        assert (task.env, task.scenario, task.seed, task.tools) == (
            sample.env,
            sample.scenario,
            sample.seed,
            sample.tools,
        )
        assert [turn.query for turn in task.turns] == [turn.request for turn in sample.dialogue.turns]
        assert all(turn.state_hash for turn in task.turns)
        for turn in task.turns:
            if turn.variant == "missing_tool":
                assert turn.withheld and turn.announcement[0]["role"] == "system"


def test_an_exported_openai_file_gives_the_same_tasks(store_path, tasks, tmp_path):
    with Store(store_path) as store:
        export_samples(SampleStore(store).iter_samples(verified_only=True), "openai", tmp_path / "openai.jsonl")
    from_file = load_tasks(tasks_file=tmp_path / "openai.jsonl")
    assert [summary(task) for task in from_file] == [summary(task) for task in tasks]


def test_split_is_deterministic_and_export_can_leave_it_out(store_path, tasks, tmp_path):
    first = split_tasks(store_path, 0.25, seed=0)
    assert split_tasks(store_path, 0.25, seed=0) == first
    assert split_tasks(store_path, 0.25, seed=1) != first or len(tasks) < 4
    first = split_tasks(store_path, 0.25, seed=0)
    assert len(first) == round(0.25 * len(tasks))
    assert [task.id for task in load_tasks(db=store_path, held_out_only=True)] == first
    out = tmp_path / "train.jsonl"
    assert (
        funreason(
            "export", "--db", str(store_path), "--format", "openai", "--out", str(out), "--without-held-out"
        ).returncode
        == 0
    )
    exported = {json.loads(line)["metadata"]["sample_id"] for line in out.read_text().splitlines()}
    assert exported == {task.id for task in tasks} - set(first)


def test_the_tasks_command_marks_the_split_and_writes_the_held_out_tasks(store_path, tmp_path):
    out = tmp_path / "held_out.jsonl"
    outcome = funreason("tasks", "--db", str(store_path), "--split", "0.3", "--seed", "2", "--out", str(out))
    assert outcome.returncode == 0, outcome.stderr
    written = load_tasks(tasks_file=out)
    assert [task.id for task in written] == split_tasks(store_path, 0.3, seed=2)
    assert "held out" in outcome.stderr and "tasks written" in outcome.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "not JSON"),
        ("[1, 2]\n", "not a JSON object"),
        ('{"foo": 1}\n', "neither a task"),
        ('{"messages": [], "tools": [], "metadata": {}}\n', "metadata lacks env"),
        ('{"messages": [{"role": "user"}], "metadata": {"env": "math", "scenario": "default", "seed": 0}}\n', "openai"),
    ],
)
def test_bad_task_files_are_refused_in_one_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(TaskError, match=message):
        load_tasks(tasks_file=path)
    outcome = funreason("eval", "--db", str(tmp_path / "bad.jsonl"), "--tasks", str(path))
    assert outcome.returncode == 1 and outcome.stderr.count("\n") == 1 and "error:" in outcome.stderr


def test_a_split_needs_a_share_between_0_and_1(store_path):
    outcome = funreason("tasks", "--db", str(store_path), "--split", "1.5")
    assert outcome.returncode == 1 and "--split must be between 0 and 1" in outcome.stderr
