"""The evaluation loop behind `funreason eval`: attempts stored as they finish, resumable, one model at a time.

The command parses options and calls `evaluate_tasks` (and `regrade_attempts`, and `hinted_tasks` for
`--hints`); `eval --ray` workers call the same function on their shard's store.
"""

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio

from evaluation.errors import EvaluationError
from evaluation.pool import ConnectionPool
from evaluation.runner import Attempt, ChatPolicy, GroundTruthPolicy, Policy, regrade, run_attempts
from evaluation.store import AttemptStore
from evaluation.tasks import Task
from simulator import Store, ToolInfo
from simulator.explorer import Progress
from simulator.hints import Hints
from synthesizer.llm import ChatModel, ResponseCache
from synthesizer.samples import SampleStore

__all__ = ["EvalRun", "attempts_per_task", "evaluate_tasks", "hinted_tasks", "regrade_attempts"]


@dataclass
class EvalRun:
    """What an evaluation run left: the model's attempts at the tasks, and how many stayed pending (why)."""

    attempts: list[Attempt]
    pending: int = 0
    pending_reason: str | None = None


def evaluate_tasks(
    db: Path,
    tasks: list[Task],
    llm: str,
    model: str,
    base_url: str | None,
    api_key: str | None,
    concurrency: int,
    k: int,
    temperature: float,
    endpoint: dict[str, Any],
    progress: Progress | None = None,
) -> EvalRun:
    """Play `k` attempts of every task (those already stored are kept), storing each as it finishes.

    An attempt the endpoint could not serve through every retry is not stored: it stays pending, and running
    the same evaluation again plays it.
    """
    with Store(db) as store:
        attempts_store, samples = AttemptStore(store), SampleStore(store)
        limit = anyio.Semaphore(concurrency)
        chats: dict[int, ChatModel] = {}

        def policy_for(task: Task, number: int) -> Policy:
            if llm != "openai":
                return GroundTruthPolicy(task)
            if number not in chats:  # one cache namespace per attempt number: k attempts are k samples, all resumable
                cache = ResponseCache(
                    lambda key: samples.cache_get(f"eval{number}:{key}"),
                    lambda key, request, reply: samples.cache_put(f"eval{number}:{key}", request, reply),
                )
                chats[number] = ChatModel(model, base_url=base_url, api_key=api_key, cache=cache, **endpoint)
                chats[number].limit = limit
            return ChatPolicy(chats[number], temperature=temperature)

        wanted = {(task.id, number) for task in tasks for number in range(k)}
        done = _done_as_shown(attempts_store, model, tasks)
        finished = sum(1 for task in tasks for number in range(k) if Attempt(task, number, model).id in done)
        run = EvalRun([])

        def saved(attempt: Attempt) -> None:
            nonlocal finished
            if attempt.pending:
                run.pending_reason = (attempt.error or "").split("; the trajectory")[0]
                return
            attempts_store.save(attempt)
            finished += 1
            if progress is not None:
                progress(finished, len(wanted))

        async def play() -> None:
            try:
                await run_attempts(tasks, policy_for, k=k, concurrency=concurrency, skip=done, on_attempt=saved)
            finally:
                for chat in chats.values():
                    await chat.aclose()

        try:
            anyio.run(play)
        except BaseExceptionGroup as group:  # a worker's known error (the endpoint misconfigured): say it once
            raise _first_leaf(group) from None
        run.attempts = [a for a in attempts_store.iter_attempts(model) if (a.task.id, a.number) in wanted]
        run.pending = len(wanted) - len(run.attempts) if run.pending_reason else 0
        return run


def hinted_tasks(tasks: list[Task], hints: Hints) -> list[Task]:
    """The tasks as the model is shown them when the data was made with `hints`: each tool the file describes
    is offered with the file's description, as the explorer's connection offered it.

    The file is first checked against every tool the tasks' servers list, as `explore --hints` checks it: a
    tool none of them lists, or a slot the tool lacks, is one `HintsError` line naming the file, tool and key.
    """
    hints.check(anyio.run(_listed_tools, tasks))
    return [
        replace(task, tools=_described(task.tools, hints), extra_tools=_described(task.extra_tools, hints))
        for task in tasks
    ]


async def _listed_tools(tasks: list[Task]) -> list[ToolInfo]:
    """Every tool the tasks' servers list (one connection per server, in its first task's scenario)."""
    listed: dict[str, ToolInfo] = {}
    async with ConnectionPool() as pool:
        for env, scenario in {task.env: task.scenario for task in reversed(tasks)}.items():
            listed |= {tool.name: tool for tool in (await pool.get(env, scenario)).tools}
    return list(listed.values())


def _described(tools: list[dict[str, Any]], hints: Hints) -> list[dict[str, Any]]:
    return [
        {**tool, "function": {**tool["function"], "description": hints.descriptions[name]}}
        if (name := tool["function"]["name"]) in hints.descriptions
        else tool
        for tool in tools
    ]


def _done_as_shown(attempts: AttemptStore, model: str, tasks: list[Task]) -> set[str]:
    """The stored attempts of `model` that were shown the tasks as they are now: one played with other tools
    (without the hints, or with another file) is played again and replaces the stored one."""
    shown = {task.id: (task.tools, task.extra_tools) for task in tasks}
    return {
        attempt.id
        for attempt in attempts.iter_attempts(model)
        if shown.get(attempt.task.id, (attempt.task.tools, attempt.task.extra_tools))
        == (attempt.task.tools, attempt.task.extra_tools)
    }


def regrade_attempts(db: Path, model: str | None) -> dict[str, list[Attempt]]:
    """Every stored attempt graded again by the current checker, by model (one model's, when `model` is given)."""
    by_model: dict[str, list[Attempt]] = {}
    with Store(db) as store:
        attempts_store = AttemptStore(store)
        for attempt in attempts_store.iter_attempts(model):
            attempts_store.save(regrade(attempt))
            by_model.setdefault(attempt.model, []).append(attempt)
    return by_model


def attempts_per_task(attempts: list[Attempt]) -> int:
    """The `k` the stored attempts were played with: the most attempts any task has."""
    counts: dict[str, int] = {}
    for attempt in attempts:
        counts[attempt.task.id] = max(counts.get(attempt.task.id, 0), attempt.number + 1)
    if not counts:
        raise EvaluationError("no attempts stored")
    return max(counts.values())


def _first_leaf(group: BaseExceptionGroup) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first
