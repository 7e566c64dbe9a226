"""`funreason run` in-process with small counts: every output present, figures equal to the store, resumable."""

import json
import re

import pytest

from simulator import Store
from synthesizer.offline import OfflineBackend
from synthesizer.pipeline import RunConfig, run_pipeline
from synthesizer.quality import measure_quality, read_records
from synthesizer.samples import SampleStore

STAGES: list[str] = []


def stage(name):
    STAGES.append(name)
    return lambda done, total, note="": None


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    config = RunConfig(out=tmp_path_factory.mktemp("run"), envs=("messaging", "trading", "math"), trajectories=8)
    return config, run_pipeline(config, OfflineBackend(), stage)


def test_every_output_is_written(run):
    config, figures = run
    names = {path.name for path in config.out.iterdir()}
    assert {
        "openai.jsonl",
        "sharegpt.jsonl",
        "bfcl.jsonl",
        "funreason.jsonl",
        "dataset_info.json",
        "report.md",
        "report.html",
        "report.json",
        "store.db",
        "figures",
    } <= names
    for fmt in ("openai", "sharegpt", "bfcl", "funreason"):
        lines = (config.out / f"{fmt}.jsonl").read_text().splitlines()
        assert len(lines) == figures["totals"]["samples"] > 0
        assert all(json.loads(line)["metadata"]["verified"] for line in lines)
    assert {"explore messaging", "explore trading", "explore math", "synthesize", "export", "report"} <= set(STAGES)


def test_report_figures_match_the_store(run):
    config, figures = run
    with Store(config.store_path) as store:
        samples = SampleStore(store)
        assert figures["totals"] == store.stats() | samples.counts()
        listed = list(samples.iter_samples())
        rejects = list(samples.iter_rejects())
        trajectories = list(store.iter_trajectories())
    assert sum(figures["turns_per_sample"].values()) == len(listed)
    assert figures["turns_per_sample"] == {
        turns: sum(len(s.turns) == turns for s in listed) for turns in {len(s.turns) for s in listed}
    }
    assert sum(figures["calls_per_sample"].values()) == len(listed)
    assert sum(figures["reject_reasons"].values()) == len(rejects)
    for env, data in figures["environments"].items():
        mine = [t for t in trajectories if t.env == env]
        assert data["trajectories"] == len(mine) == 8
        assert data["steps"] == sum(len(t.steps) for t in mine)
        assert data["error_steps"] == sum(s.is_error for t in mine for s in t.steps)
        assert data["reached"] == sum(t.reached for t in mine)
        assert data["samples"] == sum(s.env == env for s in listed)
    markdown = (config.out / "report.md").read_text()
    for key, value in figures["totals"].items():
        assert f"| {key} | {value} |" in markdown
    page = (config.out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(list((config.out / "figures").glob("*.png"))) >= 5
    assert not re.search(r"""(src|href)=['"](?!data:)""", page), "report.html must be self-contained"


def test_a_second_run_resumes(run):
    config, figures = run
    again = run_pipeline(config, OfflineBackend(), stage)
    assert again["totals"] == figures["totals"]


def test_the_data_meets_the_quality_goals(run):
    """Issues 11 and 13, measured on a small seeded run by `funreason quality` (a measurement, not timing)."""
    config, _ = run
    figures = measure_quality(read_records(config.out / "funreason.jsonl"))["figures"]
    for name in (
        "ungrounded_values",
        "altered_user_values",
        "dependent_calls_sharing_a_message",
        "tool_text_in_queries",
        "unshown_references",
        "templated_answers",
        "raw_or_cut_answers",
        "invented_dependencies",
    ):
        assert figures[name]["count"] == 0, (name, figures[name]["examples"])
    assert figures["chained_task_turns"]["share"] >= 0.5
    assert figures["near_duplicate_queries"]["ok"] and figures["distinct_query_frames"]["ok"]
