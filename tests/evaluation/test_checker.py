"""The checker's sanity checks: the ground truth scores 100%, no calls score 0%, another valid order passes."""

import json

import anyio
import pytest

from evaluation import (
    CHECKER_VERSION,
    Attempt,
    GroundTruthPolicy,
    Task,
    TaskTurn,
    eval_figures,
    load_tasks,
    pass_hat_k,
    regrade,
    run_attempts,
    write_tasks,
)
from synthesizer.errors import LLMError
from synthesizer.llm import ChatReply


def evaluate(tasks, policy_for, k=1):
    return anyio.run(lambda: run_attempts(tasks, policy_for, k=k, concurrency=4))


class Silent:
    """Answers every request in words and never calls a tool."""

    model = "silent"

    async def act(self, messages, tools):
        return ChatReply(content="I am sorry, I cannot help with that.")


class Scripted:
    """Plays fixed calls per turn, then answers."""

    model = "scripted"

    def __init__(self, calls_per_turn):
        self.calls_per_turn = calls_per_turn

    async def act(self, messages, tools):
        turn = sum(1 for message in messages if message["role"] == "user") - 1
        if messages[-1]["role"] == "tool":
            return ChatReply(content="Done.")
        calls = [{"name": name, "arguments": arguments} for name, arguments in self.calls_per_turn[turn]]
        return ChatReply(content="", tool_calls=calls)


def test_the_ground_truth_scores_100_percent_on_every_task(tasks):
    variants = {turn.variant for task in tasks for turn in task.turns}
    # error recovery comes only from a state no tool description declares (issue 23): messaging and trading
    # declare theirs, so their tasks hold plain and missing-tool turns
    assert {"plain", "missing_tool"} <= variants
    attempts = evaluate(tasks, lambda task, number: GroundTruthPolicy(task))
    assert all(attempt.passed for attempt in attempts) and len(attempts) == len(tasks)
    figures = eval_figures(attempts, 1)
    assert figures["turn_accuracy"] == figures["dialogue_accuracy"] == figures["pass^k"]["1"] == 1.0
    assert figures["calls_per_turn"] == figures["ground_truth_calls_per_turn"]
    assert all(grade.checker == CHECKER_VERSION for attempt in attempts for grade in attempt.grades)


def test_a_model_that_never_calls_scores_0_percent_on_tasks_that_need_calls(tasks):
    needing = [task for task in tasks if task.needs_calls]
    assert needing
    attempts = evaluate(needing, lambda task, number: Silent())
    assert not any(attempt.passed for attempt in attempts)
    figures = eval_figures(attempts, 1)
    assert figures["dialogue_accuracy"] == 0.0 and figures["pass^k"]["1"] == 0.0
    assert figures["failures"]["no_call"] + figures["failures"]["asked_instead_of_acting"] > 0
    assert sum(figures["failures"].values()) == figures["turns"] - round(figures["turn_accuracy"] * figures["turns"])


@pytest.fixture(scope="module")
def two_step_task(tmp_path_factory):
    """A hand-written filesystem task whose two writes commute; results and state hashes come from replay."""
    task = Task(
        id="fs-two-writes",
        env="filesystem",
        scenario="default",
        seed=3,
        tools=[],
        turns=[
            TaskTurn(
                query="Make a folder called reports and an empty file called brand_new.txt.",
                calls=[
                    {"tool": "mkdir", "arguments": {"dir_name": "reports"}, "result": None},
                    {"tool": "touch", "arguments": {"file_name": "brand_new.txt"}, "result": None},
                ],
            )
        ],
    )
    path = tmp_path_factory.mktemp("tasks") / "tasks.jsonl"
    write_tasks([task], path)
    (loaded,) = load_tasks(tasks_file=path)
    loaded.tools = [{"type": "function", "function": {"name": name}} for name in ("mkdir", "touch", "ls")]
    return loaded


def test_a_different_valid_order_reaching_the_same_state_passes(two_step_task):
    assert two_step_task.turns[0].state_hash and two_step_task.turns[0].calls[1]["result"]
    reordered = Scripted([[("touch", {"file_name": "brand_new.txt"}), ("mkdir", {"dir_name": "reports"})]])
    (attempt,) = evaluate([two_step_task], lambda task, number: reordered)
    assert attempt.passed, attempt.grades
    with_a_look_first = Scripted(
        [[("ls", {}), ("touch", {"file_name": "brand_new.txt"}), ("mkdir", {"dir_name": "reports"})]]
    )
    (attempt,) = evaluate([two_step_task], lambda task, number: with_a_look_first)
    assert attempt.passed


def test_a_wrong_state_fails_and_says_why(two_step_task):
    half = Scripted([[("mkdir", {"dir_name": "reports"})]])
    (attempt,) = evaluate([two_step_task], lambda task, number: half)
    assert attempt.grades[0].failure == "wrong_state" and not attempt.grades[0].state_ok
    refused = Scripted([[("mkdir", {"dir_name": "reports"}), ("cat", {"file_name": "nowhere.txt"})]])
    (attempt,) = evaluate([two_step_task], lambda task, number: refused)
    assert attempt.grades[0].failure == "invalid_call"
    assert attempt.grades[0].invalid_calls == 1


def test_regrade_rescores_from_stored_evidence_only(two_step_task):
    (attempt,) = evaluate([two_step_task], lambda task, number: GroundTruthPolicy(task))
    stored = json.loads(json.dumps(attempt.to_json()))
    again = regrade(Attempt.from_json(stored))
    assert [grade.passed for grade in again.grades] == [True]
    stored["task"]["turns"][0]["state_hash"] = "0" * 64  # the checker now expects another state
    assert regrade(Attempt.from_json(stored)).grades[0].failure == "wrong_state"


def test_pass_hat_k_is_tau_bench_s_definition():
    assert pass_hat_k([(4, 4), (4, 2)], 1) == pytest.approx((1 + 0.5) / 2)
    assert pass_hat_k([(4, 4), (4, 2)], 2) == pytest.approx((1 + 1 / 6) / 2)
    assert pass_hat_k([(4, 3)], 4) == 0.0
    assert pass_hat_k([(1, 1)], 2) is None


class Failing:
    """An endpoint that gives up after the first turn."""

    model = "failing"

    def __init__(self, task):
        self.truth = GroundTruthPolicy(task)
        self.second_query = task.turns[1].query

    async def act(self, messages, tools):
        if any(message["content"] == self.second_query for message in messages if message["role"] == "user"):
            raise LLMError("the endpoint failed 6 times: APIConnectionError")
        return await self.truth.act(messages, tools)


def test_an_endpoint_failure_fails_the_turns_left_and_says_so(tasks):
    task = next(task for task in tasks if len(task.turns) >= 2 and task.turns[1].variant == "plain")
    (attempt,) = evaluate([task], lambda task, number: Failing(task))
    assert "APIConnectionError" in attempt.error
    assert attempt.grades[0].passed and {grade.failure for grade in attempt.grades[1:]} == {"model_error"}
    assert [grade.failure for grade in regrade(attempt).grades[1:]] == ["model_error"] * (len(task.turns) - 1)
