"""eval.html shows every attempt's transcript in the same browser, with the turn where it failed and why."""

import dataclasses
from collections import Counter
from typing import Any

import anyio
import pytest

from evaluation import GroundTruthPolicy, attempt_views, eval_figures, load_tasks, run_attempts, write_eval_report


class SkipsTheGoal:
    """The ground truth without each batch's last call when a batch has several: wrong states, missing results."""

    model = "skips-the-goal"

    def __init__(self, task: Any) -> None:
        self.truth = GroundTruthPolicy(task)

    async def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        reply = await self.truth.act(messages, tools)
        return dataclasses.replace(reply, tool_calls=reply.tool_calls[:-1]) if len(reply.tool_calls) > 1 else reply


@pytest.fixture(scope="module")
def evaluated(run_dir, tmp_path_factory):
    tasks = load_tasks(db=run_dir / "store.db")
    attempts = anyio.run(lambda: run_attempts(tasks, lambda task, number: SkipsTheGoal(task)))
    out = tmp_path_factory.mktemp("eval-report")
    write_eval_report(eval_figures(attempts, 1), None, out, attempts)
    return attempts, attempt_views(attempts), out / "eval.html"


def test_failed_turns_name_the_differing_state_keys_and_the_missing_results(evaluated):
    attempts, views, _ = evaluated
    failures = [turn["failure"] for view in views for turn in view["turns"] if turn.get("failure")]
    kinds = Counter(failure["kind"] for failure in failures)
    assert kinds["wrong_state"] > 0 and kinds["missing_result"] > 0
    for failure in failures:
        if failure["kind"] == "wrong_state":
            assert failure["state_keys"], failure  # rebuilt by replaying both call lists
            assert all(key["path"] for key in failure["state_keys"])
        if failure["kind"] == "missing_result":
            assert failure["missing"] and "state_keys" not in failure
    failed_turns = sum(1 for attempt in attempts for grade in attempt.grades if not grade.passed)
    assert len(failures) == failed_turns


@pytest.mark.heavy  # a second chromium start and page on top of the report's (the default suite keeps one)
def test_the_eval_page_opens_a_failed_attempt_at_its_failing_turn(evaluated, watched, tmp_path):
    attempts, views, page_path = evaluated
    page = watched.open(page_path)
    failed = sum(1 for attempt in attempts if not attempt.passed)
    page.select_option("#fr-status", "failed")
    assert page.get_attribute("#fr-count", "data-shown") == str(failed)
    page.select_option("#fr-reason", "wrong_state")
    wrong = [view for view in views if view["reason_kind"] == "wrong_state"]
    assert page.get_attribute("#fr-count", "data-shown") == str(len(wrong))
    view = wrong[0]
    page.evaluate("id => { location.hash = 'sample=' + id; }", view["id"])
    page.wait_for_function("id => document.querySelector('#fr-detail h3')?.textContent === id", arg=view["id"])
    number = next(index for index, turn in enumerate(view["turns"]) if turn.get("failure"))
    failing = page.locator(f".fr-turn[data-turn='{number}']")
    assert "fr-failed-turn" in failing.get_attribute("class")
    text = failing.locator(".fr-reason").inner_text()
    assert "wrong_state" in text
    assert view["turns"][number]["failure"]["state_keys"][0]["path"] in text
    assert f"Failed at turn {number + 1}" in page.inner_text("#fr-detail .fr-head + .fr-reason")
    failing.scroll_into_view_if_needed()
    page.screenshot(path=tmp_path / "eval.png")
    assert watched.errors == []
    assert watched.outside_requests() == []
