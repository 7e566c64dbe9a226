"""`funreason eval` through the real openai client against a scripted model on 127.0.0.1."""

import json

from evaluation import AttemptStore
from simulator import Store
from tests.conftest import funreason, http_server
from tests.evaluation.conftest import ScriptedModel


def run_eval(store_path, url, model, *extra):
    return funreason(
        "eval", "--db", str(store_path), "--llm", "openai", "--model", model, "--base-url", f"{url}/v1", *extra
    )


def test_a_model_playing_the_ground_truth_scores_100_percent_with_every_transcript_stored(store_path, tasks, tmp_path):
    scripted = ScriptedModel(tasks, "truth")
    with http_server(scripted.app) as url:
        outcome = run_eval(store_path, url, "truth-model", "--k", "2", "--json", str(tmp_path / "eval.json"))
        assert outcome.returncode == 0, outcome.stderr
        sent = scripted.requests
        again = run_eval(store_path, url, "truth-model", "--k", "2", "--json", str(tmp_path / "again.json"))
        assert again.returncode == 0 and scripted.requests == sent, "a re-run resumes: nothing is asked again"
    figures = json.loads((tmp_path / "eval.json").read_text())
    assert figures["pass^k"] == {"1": 1.0, "2": 1.0} and figures["turn_accuracy"] == 1.0
    assert figures["attempts"] == 2 * len(tasks) and set(figures["per_env"]) == {"messaging", "trading"}
    assert json.loads((tmp_path / "again.json").read_text()) == figures
    assert (tmp_path / "eval.md").read_text().count("100.0%") >= 3 and "<table>" in (tmp_path / "eval.html").read_text()
    with Store(store_path) as store:
        attempts = list(AttemptStore(store).iter_attempts("truth-model"))
    assert len(attempts) == 2 * len(tasks)
    for attempt in attempts:
        assert attempt.messages[0] == {"role": "user", "content": attempt.task.turns[0].query}
        assert any(message["role"] == "tool" for message in attempt.messages)


def test_a_model_that_never_calls_scores_0_percent_and_regrade_keeps_it(store_path, tasks, tmp_path):
    with http_server(ScriptedModel(tasks, "no_tools").app) as url:
        outcome = run_eval(store_path, url, "silent-model", "--json", str(tmp_path / "silent.json"))
    assert outcome.returncode == 0, outcome.stderr
    figures = json.loads((tmp_path / "silent.json").read_text())
    assert figures["dialogue_accuracy"] == 0.0 and figures["pass^k"]["1"] == 0.0
    assert figures["failures"]["no_call"] + figures["failures"]["asked_instead_of_acting"] > 0
    regraded = funreason(
        "eval", "--db", str(store_path), "--regrade", "--llm", "openai", "--model", "silent-model",
        "--json", str(tmp_path / "regraded.json"),
    )  # fmt: skip
    assert regraded.returncode == 0, regraded.stderr
    assert json.loads((tmp_path / "regraded.json").read_text()) == figures


def test_a_model_without_native_tool_calling_is_evaluated_through_the_text_protocol(store_path, tasks, tmp_path):
    with http_server(ScriptedModel(tasks, "text_only").app) as url:
        outcome = run_eval(store_path, url, "text-model", "--json", str(tmp_path / "text.json"))
    assert outcome.returncode == 0, outcome.stderr
    assert json.loads((tmp_path / "text.json").read_text())["dialogue_accuracy"] == 1.0


def test_offline_plays_back_the_ground_truth(store_path, tmp_path):
    outcome = funreason("eval", "--db", str(store_path), "--json", str(tmp_path / "truth.json"))
    assert outcome.returncode == 0, outcome.stderr
    assert json.loads((tmp_path / "truth.json").read_text())["models"] == ["ground-truth"]
    assert "turn accuracy 100.0%" in outcome.stderr
