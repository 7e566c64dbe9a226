"""`funreason eval` through the real openai client against a scripted model on 127.0.0.1."""

import json

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

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


def test_an_endpoint_outage_mid_run_is_one_line_and_exit_3_and_the_rerun_resumes(store_path, tasks, tmp_path):
    healthy = ScriptedModel(tasks, "truth")
    flaky = ScriptedModel(tasks, "truth")
    answered = 0

    async def down_after_a_few(request):
        nonlocal answered
        answered += 1
        if answered > 3:
            return JSONResponse({"error": {"message": "service unavailable"}}, status_code=503)
        return await healthy.complete(request)

    flaky.app = Starlette(routes=[Route("/v1/chat/completions", down_after_a_few, methods=["POST"])])
    with http_server(flaky.app) as url:
        outcome = run_eval(store_path, url, "flaky-model", "--concurrency", "1")
    assert outcome.returncode == 3
    lines = outcome.stderr.strip().splitlines()
    assert "Traceback" not in outcome.stderr and "pending" in lines[-1] and "run the same command again" in lines[-1]
    with Store(store_path) as store:
        kept = list(AttemptStore(store).iter_attempts("flaky-model"))
    assert all(attempt.error is None for attempt in kept) and len(kept) < len(tasks)
    with http_server(healthy.app) as url:
        again = run_eval(store_path, url, "flaky-model", "--json", str(tmp_path / "flaky.json"))
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "flaky.json").read_text())["dialogue_accuracy"] == 1.0


def test_regrade_keeps_each_model_apart_and_remembers_k(store_path, tasks, tmp_path):
    with http_server(ScriptedModel(tasks, "truth").app) as url:
        assert run_eval(store_path, url, "k3-model", "--k", "3").returncode == 0
    mixed = funreason("eval", "--db", str(store_path), "--regrade")
    assert mixed.returncode == 1 and "name one with --model" in mixed.stderr and "Traceback" not in mixed.stderr
    regraded = funreason(
        "eval", "--db", str(store_path), "--regrade", "--model", "k3-model", "--json", str(tmp_path / "k3.json")
    )
    assert regraded.returncode == 0, regraded.stderr
    figures = json.loads((tmp_path / "k3.json").read_text())
    assert figures["models"] == ["k3-model"] and set(figures["pass^k"]) == {"1", "2", "3"}
    assert figures["attempts"] == 3 * len(tasks)


def test_export_writes_rl_rows_for_trl_and_verl(store_path, tasks, tmp_path):
    trl = funreason("export", "--db", str(store_path), "--format", "trl", "--out", str(tmp_path / "rl" / "t.jsonl"))
    assert trl.returncode == 0, trl.stderr
    rows = [json.loads(line) for line in (tmp_path / "rl" / "t.jsonl").read_text().splitlines()]
    assert len(rows) == sum(len(task.turns) for task in tasks)
    assert {row["turn"] for row in rows} == set(range(max(len(task.turns) for task in tasks)))
    verl = funreason("export", "--db", str(store_path), "--format", "verl", "--out", str(tmp_path / "v.parquet"))
    assert verl.returncode == 0, verl.stderr
    assert (tmp_path / "v.tools.yaml").exists() and (tmp_path / "v.tasks.jsonl").read_text().count("\n") == len(tasks)
    plain = funreason("export", "--db", str(store_path), "--format", "openai", "--out", str(tmp_path / "o.jsonl"))
    assert plain.returncode == 0 and (tmp_path / "o.jsonl").read_text().count("\n") == len(tasks)
