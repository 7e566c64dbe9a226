"""The `funreason` command with `tasks` and `eval` added to the synthesizer's commands.

The synthesizer must not import this package, so the installed script points here: this
group carries every synthesizer command plus the two of evaluation, and reports this
package's errors as one line too.
"""

import sys
from pathlib import Path
from typing import Any

import click

from evaluation.errors import EvaluationError
from evaluation.evaluate import attempts_per_task, evaluate_tasks, hinted_tasks, regrade_attempts
from evaluation.figures import eval_figures
from evaluation.profile import failure_profile
from evaluation.report import write_eval_report
from evaluation.rl_data import RL_FORMATS, write_trl, write_verl
from evaluation.runner import GroundTruthPolicy
from evaluation.sharded import EvalWork, evaluate_on_ray
from evaluation.tasks import load_tasks, split_tasks, write_tasks
from simulator import Store
from simulator import cli as simulator_cli
from simulator.hints import load_hints
from synthesizer import cli as synthesizer_cli
from synthesizer.samples import SampleStore

__all__ = ["main"]


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
@click.option("--k", type=click.IntRange(1), help="Attempts per task (pass^k) [default: 1; --regrade: as stored].")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures here.")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path), help="Write eval.md and eval.html.")
@click.option("--regrade", is_flag=True, help="Re-score the stored attempts with the current checker; run nothing.")
@click.option("--ray", "ray_address", metavar="ADDRESS", help=simulator_cli.RAY_HELP)
@simulator_cli.HINTS_OPTION
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
    k: int | None,
    json_out: Path | None,
    report_dir: Path | None,
    regrade: bool,
    ray_address: str | None,
    hints: Path | None,
) -> None:
    """Evaluate a model on tasks in fresh sandboxes; outcome-based grading, pass^k, transcripts in the store.

    --llm offline plays back the ground truth (the checker's sanity run: it scores 100%). --regrade re-scores
    one model's stored attempts (--model, needed when the store holds several) with the k they were played with.
    --hints shows the tools as the hints file describes them, as the data made with it was.
    An endpoint that stays down through every retry leaves the rest pending: one line, exit code 3.
    """
    if llm == "openai" and not model:
        raise click.UsageError("--llm openai needs --model")
    if regrade and hints is not None:
        raise click.UsageError("--regrade plays nothing: --hints goes with a run that plays the tasks")
    hints_file = load_hints(hints) if hints is not None else None
    name = model if llm == "openai" else GroundTruthPolicy.model
    if regrade:
        by_model = regrade_attempts(db, model)
        if len(by_model) > 1:
            names = ", ".join(sorted(by_model))
            raise EvaluationError(f"{db} holds attempts of {len(by_model)} models ({names}); name one with --model")
        attempts = next(iter(by_model.values()), [])
        k = k or (attempts_per_task(attempts) if attempts else 1)
    else:
        k = k or 1
        tasks = load_tasks(db=None if tasks_file else db, tasks_file=tasks_file, held_out_only=held_out)
        if hints_file is not None:
            tasks = hinted_tasks(tasks, hints_file)
        endpoint = {"timeout_s": timeout, "max_tokens": max_tokens, "extra_body": extra_body}
        if ray_address:
            work = EvalWork(llm, name, base_url, api_key, concurrency, k, temperature, endpoint)
            with simulator_cli.progress_bar("evaluating on Ray") as report:
                evaluate_on_ray(db, tasks, work, ray_address, report)
        with simulator_cli.progress_bar("evaluating") as report:
            run = evaluate_tasks(db, tasks, llm, name, base_url, api_key, concurrency, k, temperature, endpoint, report)
        if run.pending:
            click.echo(
                f"{run.pending} attempts left pending ({run.pending_reason}); run the same command again to resume",
                err=True,
            )
            sys.exit(3)
        attempts = run.attempts
    if not attempts:
        raise EvaluationError("no attempts to report (no tasks, or nothing stored for --regrade)")
    figures = eval_figures(attempts, k) | {"profile": failure_profile(attempts)}
    write_eval_report(figures, json_out, report_dir or (json_out.parent if json_out else None), attempts)
    click.echo(
        f"{figures['tasks']} tasks x {k}: turn accuracy {_pct(figures['turn_accuracy'])}, "
        f"dialogue accuracy {_pct(figures['dialogue_accuracy'])}, pass^{k} {_pct(figures['pass^k'][str(k)])}",
        err=True,
    )


def _export_command() -> click.Command:
    """The synthesizer's `export` with `--format trl|verl` added: RL rows from the store's tasks."""
    plain = synthesizer_cli.main.commands["export"]
    params = []
    for param in plain.params:
        if param.name == "fmt":
            param = click.Option(
                ["--format", "fmt"], type=click.Choice([*param.type.choices, *RL_FORMATS]), required=True
            )
        params.append(param)

    def export(db: Path, fmt: str, out: Path, without_held_out: bool, **options: Any) -> None:
        if fmt not in RL_FORMATS:
            return plain.callback(db=db, fmt=fmt, out=out, without_held_out=without_held_out, **options)
        tasks = load_tasks(db=db)
        if without_held_out:
            with Store(db) as store:
                held_out = SampleStore(store).held_out_ids()
            tasks = [task for task in tasks if task.id not in held_out]
        count = (write_trl if fmt == "trl" else write_verl)(tasks, out)
        extra = f" (+ {out.stem}.tools.yaml, {out.stem}.tasks.jsonl)" if fmt == "verl" else ""
        click.echo(f"{count} rows written to {out}{extra}", err=True)

    help_text = (plain.help or "").replace("bfcl or funreason JSONL.", "bfcl or funreason JSONL,") + (
        " or RL rows, one per user turn: trl (JSONL) or verl (parquet, its tool config and task file)."
    )
    return click.Command("export", params=params, callback=export, help=help_text)


main.add_command(_export_command())


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
