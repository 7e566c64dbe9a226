"""The `funreason` command with `tasks` and `eval` added to the synthesizer's commands.

The synthesizer must not import this package, so the installed script points here: this
group carries every synthesizer command plus the two of evaluation, and reports this
package's errors as one line too.
"""

from pathlib import Path
from typing import Any

import anyio
import click

from evaluation.errors import EvaluationError
from evaluation.figures import eval_figures
from evaluation.report import write_eval_report
from evaluation.runner import Attempt, ChatPolicy, GroundTruthPolicy, Policy, regrade, run_attempts
from evaluation.sharded import EvalWork, evaluate_on_ray
from evaluation.store import AttemptStore
from evaluation.tasks import Task, load_tasks, split_tasks, write_tasks
from simulator import Store
from simulator import cli as simulator_cli
from synthesizer import cli as synthesizer_cli
from synthesizer.llm import ChatModel, ResponseCache
from synthesizer.samples import SampleStore

__all__ = ["evaluate_tasks", "main"]


class _Main(synthesizer_cli.main.__class__):  # type: ignore[name-defined,misc]
    known_errors = (*synthesizer_cli.main.__class__.known_errors, EvaluationError)


main = _Main(
    name="funreason",
    commands=dict(synthesizer_cli.main.commands),
    params=list(synthesizer_cli.main.params),
    callback=synthesizer_cli.main.callback,
    help=synthesizer_cli.main.help,
    context_settings=synthesizer_cli.main.context_settings,
)


@main.command("tasks")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--split", type=float, help="Mark this share of verified samples as held out (e.g. 0.1).")
@click.option("--seed", type=int, default=0, show_default=True, help="Which samples the split picks.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the tasks as JSONL here.")
def tasks_command(db: Path, split: float | None, seed: int, out: Path | None) -> None:
    """Every verified sample is an evaluation task; --split marks a held-out share that export can leave out.

    With --out, writes the held-out tasks (all tasks when the store has no split) with their ground truth.
    """
    if split is not None:
        held_out = split_tasks(db, split, seed)
        click.echo(f"{len(held_out)} samples held out for evaluation in {db}", err=True)
    if out is not None:
        with Store(db) as store:
            has_split = bool(SampleStore(store).held_out_ids())
        count = write_tasks(load_tasks(db=db, held_out_only=has_split), out)
        click.echo(f"{count} tasks written to {out}", err=True)


@main.command("eval")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--tasks", "tasks_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--held-out", is_flag=True, help="Only the store's held-out split (funreason tasks --split).")
@synthesizer_cli.llm_options
@click.option("--k", type=click.IntRange(1), default=1, show_default=True, help="Attempts per task (pass^k).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures here.")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), help="Write eval.md and eval.html.")
@click.option("--regrade", is_flag=True, help="Re-score the stored attempts with the current checker; run nothing.")
@click.option("--ray", "ray_address", metavar="ADDRESS", help=simulator_cli.RAY_HELP)
def eval_command(
    db: Path,
    tasks_file: Path | None,
    held_out: bool,
    llm: str,
    model: str | None,
    base_url: str | None,
    api_key: str | None,
    concurrency: int,
    timeout: float,
    max_tokens: int | None,
    temperature: float,
    extra_body: dict[str, Any] | None,
    k: int,
    json_out: Path | None,
    report_dir: Path | None,
    regrade: bool,
    ray_address: str | None,
) -> None:
    """Evaluate a model on tasks in fresh sandboxes; outcome-based grading, pass^k, transcripts in the store.

    --llm offline plays back the ground truth (the checker's sanity run: it scores 100%).
    """
    if llm == "openai" and not model:
        raise click.UsageError("--llm openai needs --model")
    name = model if llm == "openai" else GroundTruthPolicy.model
    if regrade:
        attempts = _regrade(db, name if model else None)
    else:
        tasks = load_tasks(db=None if tasks_file else db, tasks_file=tasks_file, held_out_only=held_out)
        endpoint = {"timeout_s": timeout, "max_tokens": max_tokens, "extra_body": extra_body}
        if ray_address:
            work = EvalWork(llm, name, base_url, api_key, concurrency, k, temperature, endpoint)
            with simulator_cli.progress_bar("evaluating on Ray") as report:
                evaluate_on_ray(db, tasks, work, ray_address, report)
        attempts = evaluate_tasks(db, tasks, llm, name, base_url, api_key, concurrency, k, temperature, endpoint)
    if not attempts:
        raise EvaluationError("no attempts to report (no tasks, or nothing stored for --regrade)")
    figures = eval_figures(attempts, k)
    write_eval_report(figures, json_out, report_dir or (json_out.parent if json_out else None), attempts)
    click.echo(
        f"{figures['tasks']} tasks x {k}: turn accuracy {_pct(figures['turn_accuracy'])}, "
        f"dialogue accuracy {_pct(figures['dialogue_accuracy'])}, pass^{k} {_pct(figures['pass^k'][str(k)])}",
        err=True,
    )


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
) -> list[Attempt]:
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
        done = attempts_store.done_ids(model)
        with simulator_cli.progress_bar("evaluating") as report:
            finished = sum(1 for task in tasks for number in range(k) if Attempt(task, number, model).id in done)

            def saved(attempt: Attempt) -> None:
                nonlocal finished
                attempts_store.save(attempt)
                finished += 1
                report(finished, len(wanted))

            async def run() -> None:
                try:
                    await run_attempts(
                        tasks,
                        policy_for,
                        k=k,
                        concurrency=concurrency,
                        skip=done,
                        on_attempt=saved,
                    )
                finally:
                    for chat in chats.values():
                        await chat.aclose()

            anyio.run(run)
        return [a for a in attempts_store.iter_attempts(model) if (a.task.id, a.number) in wanted]


def _regrade(db: Path, model: str | None) -> list[Attempt]:
    with Store(db) as store:
        attempts_store = AttemptStore(store)
        attempts = [regrade(attempt) for attempt in attempts_store.iter_attempts(model)]
        for attempt in attempts:
            attempts_store.save(attempt)
    return attempts


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
