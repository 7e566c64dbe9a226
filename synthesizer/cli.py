"""The `funreason` command: a thin layer over the public functions of the three packages."""

import json
import logging
import sys
import tomllib
from functools import partial
from pathlib import Path
from typing import Any

import click

from servers import cli as servers_cli
from servers import environment_names, get_environment
from servers.bfcl import bfcl_environment_names
from simulator import ServerTarget, Store
from simulator import cli as simulator_cli
from simulator.hints import load_hints
from synthesizer.annotate import annotate_server
from synthesizer.bfcl_records import bfcl_question_file, is_bfcl_entry, read_bfcl_records
from synthesizer.browser import print_view, view_to_show
from synthesizer.decontaminate import decontaminate_file
from synthesizer.errors import ConfigError, SynthesizerError
from synthesizer.export import ARGUMENT_FORMS, FORMATS, ExportOptions, export_samples
from synthesizer.llm import ChatModel, ResponseCache
from synthesizer.offline import OfflineBackend
from synthesizer.pipeline import SCENARIO_SOURCES, TRAJECTORY_BOUND, RunConfig, run_pipeline
from synthesizer.plan import Variants
from synthesizer.quality import format_quality, measure_quality, read_records
from synthesizer.recorded import session_accounts
from synthesizer.roles import Backend, ModelBackend
from synthesizer.samples import SampleStore
from synthesizer.sharded import run_on_ray, synthesize_on_ray
from synthesizer.synthesize import SynthesisConfig, synthesize
from synthesizer.template_requests import template_note

__all__ = ["main"]

_BFCL_TRAJECTORIES = 72
"""`run --bfcl` trajectories per class by default: what seed 0 needs for 300 verified samples (48 gives 217)."""
_BFCL_TURNS = (4, 6)
"""`run --bfcl` user turns per dialogue by default: BFCL's entries have 4 turns at the median (3.7 on average),
and dialogues cut short (a near-duplicate or a drifted turn) bring 3-6 to 3.48 on seed 0; 4-6 gives 3.62."""


class _OneLineErrors(click.Group):
    """Report known errors as one line and exit 1, never as a traceback."""

    known_errors: tuple[type[Exception], ...] = (
        *servers_cli.KNOWN_ERRORS,
        *simulator_cli.KNOWN_ERRORS,
        SynthesizerError,
    )

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except self.known_errors as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(getattr(error, "exit_code", 1))


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="funreason-mt")
@click.option("-v", "--verbose", is_flag=True, help="Log more (to stderr).")
def main(verbose: bool) -> None:
    """FunReason-MT: stateful MCP tool environments -> verified multi-turn training data."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def _turns(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, int]:
    low, _, high = value.partition("-")
    try:
        turns = (int(low), int(high or low))
    except ValueError:
        raise click.BadParameter("use MIN-MAX, e.g. 2-5") from None
    if not 1 <= turns[0] <= turns[1]:
        raise click.BadParameter("need 1 <= MIN <= MAX")
    return turns


def llm_options(command: Any) -> Any:
    """The model endpoint's options, shared by synthesize and run (and so by run's config files)."""
    options = [
        click.option(
            "--llm",
            type=click.Choice(["offline", "openai"]),
            default="offline",
            show_default=True,
            help="offline: deterministic rules and templates; openai: any OpenAI-compatible endpoint.",
        ),
        click.option("--model", help="Model name for --llm openai."),
        click.option("--base-url", help="Endpoint for --llm openai (vLLM, SGLang, Ollama, llama.cpp, ...)."),
        click.option("--api-key", envvar="OPENAI_API_KEY", help="API key [env: OPENAI_API_KEY]."),
        click.option(
            "--concurrency",
            type=click.IntRange(1),
            default=16,
            show_default=True,
            help="Requests in flight to the endpoint.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0, min_open=True),
            default=120.0,
            show_default=True,
            help="Seconds to wait for one answer (small CPU servers need more).",
        ),
        click.option("--max-tokens", type=click.IntRange(1), help="Cap on tokens per answer."),
        click.option("--temperature", type=click.FloatRange(0, 2), default=0.0, show_default=True),
        click.option(
            "--extra-body",
            callback=_json_object,
            help="JSON object merged into every request (vLLM/llama.cpp extras such as chat_template_kwargs).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _json_object(ctx: click.Context, param: click.Parameter, value: Any) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    try:
        data = json.loads(value)
    except ValueError as error:
        raise click.BadParameter(f"not JSON: {error}") from None
    if not isinstance(data, dict):
        raise click.BadParameter("must be a JSON object")
    return data


def make_backend(cache_store: Store, llm: str = "offline", model: str | None = None, **endpoint: Any) -> Backend:
    """The offline rules, or a model behind an OpenAI-compatible endpoint with its cache in the store.

    `endpoint` takes the rest of `llm_options`: base_url, api_key, concurrency, timeout, max_tokens,
    temperature, extra_body.
    """
    if llm == "offline":
        return OfflineBackend()
    if not model:
        raise click.UsageError("--llm openai needs --model")
    samples = SampleStore(cache_store)
    chat = ChatModel(
        model,
        base_url=endpoint.get("base_url"),
        api_key=endpoint.get("api_key"),
        concurrency=endpoint.get("concurrency", 16),
        timeout_s=endpoint.get("timeout", 120.0),
        max_tokens=endpoint.get("max_tokens"),
        temperature=endpoint.get("temperature", 0.0),
        extra_body=endpoint.get("extra_body"),
        cache=ResponseCache(samples.cache_get, samples.cache_put),
    )
    return ModelBackend(chat)


def _share_option(variant: str, help_text: str) -> Any:
    """A --VARIANT share option whose default is the one `Variants` declares."""
    flag = "--" + variant.replace("_", "-")
    default = getattr(Variants(), variant)
    return click.option(flag, type=click.FloatRange(0, 1), default=default, show_default=True, help=help_text)


@main.command("synthesize")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@llm_options
@click.option("--max-attempts", type=click.IntRange(1), default=3, show_default=True)
@click.option("--turns", default="3-6", show_default=True, callback=_turns, help="User turns per dialogue, MIN-MAX.")
@click.option("--samples", type=click.IntRange(1), help="Stop after this many new samples.")
@click.option("--seed", type=int, default=0, show_default=True)
@_share_option("missing_parameter", "Share of turns whose query leaves out a value the assistant must ask for.")
@_share_option("missing_tool", "Share of turns whose tool is only offered later in the dialogue.")
@_share_option("error_recovery", "Share of turns with a call that really fails and is recovered from.")
@simulator_cli.focus_options
@click.option("--ray", "ray_address", metavar="ADDRESS", help=simulator_cli.RAY_HELP)
@simulator_cli.HINTS_OPTION
@click.option(
    "--allow-template-requests",
    is_flag=True,
    help="Keep samples whose requests would paste a tool's description (tools without phrasing), marked.",
)
def synthesize_command(
    db: Path,
    max_attempts: int,
    turns: tuple[int, int],
    samples: int | None,
    seed: int,
    missing_parameter: float,
    missing_tool: float,
    error_recovery: float,
    focus_file: Path | None,
    focus_share: float | None,
    ray_address: str | None,
    hints: Path | None,
    allow_template_requests: bool,
    **endpoint: Any,
) -> None:
    """Turn trajectories into verified multi-turn samples (advanced tool, hard query, guided chain).

    Re-running resumes: trajectories that already gave a sample or a reject are skipped.
    """
    variants = Variants(missing_parameter, missing_tool, error_recovery)
    with Store(db) as cache_store:
        backend = make_backend(cache_store, **endpoint)
        config = SynthesisConfig(
            samples=samples,
            turns=turns,
            max_attempts=max_attempts,
            seed=seed,
            variants=variants,
            concurrency=endpoint["concurrency"] if endpoint["llm"] == "openai" else 1,
            hints=load_hints(hints).path if hints is not None else None,
            allow_template_requests=allow_template_requests,
            focus=simulator_cli.focus_from(focus_file, focus_share),
        )
        with simulator_cli.progress_bar("synthesizing") as report:
            if ray_address:
                factory = partial(make_backend, **endpoint)
                synthesize_on_ray(db, config, factory, ray_address, report)
            counts = synthesize(db, config, backend, report)
        note = template_note(SampleStore(cache_store))
    click.echo(f"{counts['verified']} verified samples, {counts['rejected']} rejected, in {db}", err=True)
    with Store(db) as store:
        for account in session_accounts(store):
            click.echo(_session_line(account), err=True)
    if note:
        click.echo(note, err=True)
    _echo_usage(backend)
    _exit_if_pending(counts["pending"])


def _load_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Read a TOML file into the command's defaults, so flags still override it; one line per problem."""
    if value is None:
        return None
    try:
        data = tomllib.loads(value.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{value}: cannot read: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"{value}: not UTF-8 text (byte {error.start})") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{value}: invalid TOML: {error}") from error
    params = {p.name: p for p in ctx.command.params if p.name and p.name != "config"}
    defaults: dict[str, Any] = {}
    for key, raw in data.items():
        name = key.replace("-", "_")
        if name not in params:
            raise ConfigError(f"{value}: unknown key {key!r} (known: {', '.join(sorted(params))})")
        if isinstance(raw, list):
            raw = "-".join(map(str, raw)) if name == "turns" else ",".join(map(str, raw))
        elif isinstance(raw, dict):  # a TOML table, e.g. extra_body = {chat_template_kwargs = {...}}
            raw = json.dumps(raw)
        try:
            converted = params[name].type_cast_value(ctx, raw)
            if params[name].callback is not None:
                converted = params[name].callback(ctx, params[name], converted)
        except click.BadParameter as error:
            raise ConfigError(f"{value}: {key}: {error.message}") from error
        defaults[name] = raw
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


@main.command("run")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    is_eager=True,
    expose_value=False,
    callback=_load_config,
    help="TOML file with any of these options; flags override it.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("funreason-out"),
    show_default=True,
    help="Output folder: store, datasets, report.",
)
@click.option("--envs", default=",".join(environment_names()), show_default=True, help="Environments, comma-separated.")
@click.option("--bfcl", is_flag=True, help="Use BFCL's eight multi-turn classes instead (needs the [bfcl] extra).")
@click.option(
    "--trajectories",
    type=click.IntRange(1),
    help=f"Per environment [default: {RunConfig.trajectories}; with --bfcl {_BFCL_TRAJECTORIES} per class].",
)
@click.option(
    "--samples",
    type=click.IntRange(1),
    help="Verified samples to reach: explores as many trajectories as that takes (at most "
    f"{TRAJECTORY_BOUND} per sample).",
)
@click.option(
    "--scenarios",
    type=click.Choice(SCENARIO_SOURCES),
    default="both",
    show_default=True,
    help="Worlds to spread trajectories over: the shipped scenarios, generated ones (from the seed), or both.",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Explorer processes per environment (the same data with any number).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@llm_options
@click.option("--max-attempts", type=click.IntRange(1), default=3, show_default=True)
@click.option(
    "--turns",
    callback=lambda ctx, param, value: value and _turns(ctx, param, value),
    help="User turns per dialogue, MIN-MAX [default: 3-6; with --bfcl 4-6].",
)
@simulator_cli.focus_options
@click.option("--ray", "ray_address", metavar="ADDRESS", help=simulator_cli.RAY_HELP)
@simulator_cli.HINTS_OPTION
def run_command(
    out: Path,
    envs: str,
    bfcl: bool,
    trajectories: int | None,
    samples: int | None,
    scenarios: str,
    workers: int,
    seed: int,
    max_attempts: int,
    turns: tuple[int, int] | None,
    focus_file: Path | None,
    focus_share: float | None,
    ray_address: str | None,
    hints: Path | None,
    **endpoint: Any,
) -> None:
    """The whole pipeline on the built-in environments: explore, synthesize, validate, export, report.

    Writes openai/sharegpt/bfcl/funreason JSONL, report.md and report.html into --out.
    Running it again resumes instead of starting over.
    """
    names = tuple(bfcl_environment_names()) if bfcl else tuple(name.strip() for name in envs.split(",") if name.strip())
    for name in names:
        get_environment(name)
    if hints is not None:
        simulator_cli.hint_environments(names, None, load_hints(hints))
    config = RunConfig(
        out=out,
        envs=names,
        trajectories=trajectories or (_BFCL_TRAJECTORIES if bfcl else RunConfig.trajectories),
        samples=samples,
        seed=seed,
        turns=turns or (_BFCL_TURNS if bfcl else RunConfig.turns),
        max_attempts=max_attempts,
        concurrency=endpoint["concurrency"] if endpoint["llm"] == "openai" else 1,
        scenarios=scenarios,
        workers=workers,
        focus=simulator_cli.focus_from(focus_file, focus_share),
    )
    try:
        config.out.mkdir(parents=True, exist_ok=True)
        probe = config.out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ConfigError(f"{out}: cannot write there: {error.strerror}") from error
    with Store(config.store_path) as cache_store:
        backend = make_backend(cache_store, **endpoint)
        with simulator_cli.progress_stages() as stage:
            if ray_address:
                factory = partial(make_backend, **endpoint)
                run_on_ray(config, factory, ray_address, stage)
            figures = run_pipeline(config, backend, stage)
    totals = figures["totals"]
    click.echo(
        f"{totals['verified']} verified samples ({totals['rejected']} rejected) from {totals['trajectories']} "
        f"trajectories; datasets and report.html in {out}/",
        err=True,
    )
    if figures["short"]:
        click.echo(
            f"{figures['short']} samples short of --samples {samples}: the run met its bound of "
            f"{TRAJECTORY_BOUND} trajectories per sample",
            err=True,
        )
    _echo_usage(backend)
    _exit_if_pending(figures["pending"])


def _echo_usage(backend: Backend) -> None:
    """What the endpoint did for this command: requests, tokens, and completion tokens per second waited."""
    if isinstance(backend, ModelBackend) and backend.chat.usage.requests:
        usage = backend.chat.usage
        rate = usage.completion_tokens / usage.seconds if usage.seconds else 0.0
        click.echo(
            f"{usage.requests} requests, {usage.prompt_tokens} prompt and {usage.completion_tokens} completion "
            f"tokens, {usage.seconds:.0f} s waiting ({rate:.1f} completion tokens/s)",
            err=True,
        )


def _exit_if_pending(pending: int) -> None:
    """A run that left trajectories pending is not finished: say so, and exit 3 so scripts notice."""
    if pending:
        click.echo(
            f"{pending} trajectories left pending: the endpoint stayed busy through every retry; "
            "run the same command again to resume",
            err=True,
        )
        sys.exit(3)


@main.command("decontaminate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--against", type=click.Choice(["bfcl"]), default="bfcl", show_default=True, help="The benchmark.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the kept records go (default: FILE with .decontaminated.jsonl).",
)
def decontaminate_command(file: Path, against: str, out: Path | None) -> None:
    """Drop the records of a JSONL export whose user messages share a word 13-gram or 8-gram with a question
    of BFCL's multi-turn categories (base, miss_func, miss_param, long_context); write the rest."""
    target = out or file.with_name(file.name.removesuffix(".jsonl") + ".decontaminated.jsonl")
    counts = decontaminate_file(file, target)
    click.echo(
        f"{counts['checked']} records checked against {counts['questions']} {against} questions: "
        f"{counts['dropped']} dropped ({counts['shared_13gram']} sharing a 13-gram, {counts['shared_8gram_only']} "
        f"an 8-gram only), {counts['checked'] - counts['dropped']} kept in {target}",
        err=True,
    )


@main.command("export")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--verified-only", is_flag=True, help="Leave out samples that could not be validated.")
@click.option(
    "--arguments",
    type=click.Choice(ARGUMENT_FORMS),
    default="dict",
    show_default=True,
    help="Tool-call arguments in openai/funreason: JSON objects, or JSON strings (OpenAI's API, Arrow-strict loaders).",
)
@click.option(
    "--split-turns",
    is_flag=True,
    help="One record per user message, earlier reasoning left out (templates that drop it, e.g. Qwen3).",
)
@click.option(
    "--one-call-per-message",
    is_flag=True,
    help="Parallel calls as one assistant message per call (templates that take one, e.g. Llama-3.1).",
)
@click.option("--without-held-out", is_flag=True, help="Leave out the held-out split (`funreason tasks --split`).")
def export_command(
    db: Path,
    fmt: str,
    out: Path,
    verified_only: bool,
    arguments: str,
    split_turns: bool,
    one_call_per_message: bool,
    without_held_out: bool,
) -> None:
    """Write the store's samples as openai, sharegpt, bfcl or funreason JSONL."""
    options = ExportOptions(arguments=arguments, split_turns=split_turns, parallel_calls=not one_call_per_message)
    with Store(db) as store:
        sample_store = SampleStore(store)
        held_out = sample_store.held_out_ids() if without_held_out else set()
        samples = (s for s in sample_store.iter_samples(verified_only=verified_only) if s.id not in held_out)
        count = export_samples(samples, fmt, out, options)
    click.echo(f"{count} records written to {out}", err=True)


@main.command("stats")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats_command(db: Path, as_json: bool) -> None:
    """Count what a store holds: runs, trajectories, steps, coverage, samples."""
    with Store(db) as store:
        stats = store.stats() | SampleStore(store).counts()
    if as_json:
        click.echo(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            click.echo(f"{key:<16} {value}")


@main.command("quality")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: every figure with its count, total and examples.")
@click.option("--bfcl", is_flag=True, help="Measure BFCL's multi-turn base entries (from the bfcl-eval package).")
def quality_command(file: Path | None, as_json: bool, bfcl: bool) -> None:
    """Measure what a function-calling dataset would teach (any OpenAI chat JSONL, ours or anyone's).

    Counts unneeded and ungrounded calls, missed parallelism, tool text in queries, templated or raw
    answers, near-duplicate queries, invented dependencies in the reasoning, and how the turns of a
    dialogue build on each other, each with its denominator and examples. A measurement, not a filter:
    nothing is changed. FILE may also be a BFCL question file (its ground truth is read from
    possible_answer/ beside it and executed in BFCL's classes); --bfcl measures the installed one.
    """
    if bfcl == (file is not None):
        raise click.UsageError("give a FILE or --bfcl (one of them)")
    path = bfcl_question_file() if file is None else file
    quality = measure_quality(read_bfcl_records(path) if bfcl or _is_bfcl_file(path) else read_records(path))
    click.echo(json.dumps(quality, indent=2, ensure_ascii=False) if as_json else format_quality(quality))


def _is_bfcl_file(path: Path) -> bool:
    """Whether the first line of `path` is a BFCL question entry rather than a chat record."""
    try:
        with open(path, encoding="utf-8") as file:
            first = next((line for line in file if line.strip()), "")
        return is_bfcl_entry(json.loads(first))
    except (OSError, ValueError, UnicodeDecodeError):
        return False  # read_records says what is wrong with it


@main.command("annotate")
@simulator_cli.server_options
@llm_options
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Hints file to write (.toml/.json)."
)
@click.option("--trajectories", type=click.IntRange(1), default=12, show_default=True, help="Walks to learn from.")
@click.option("--seed", type=int, default=0, show_default=True)
def annotate_command(
    target: ServerTarget,
    out: Path,
    trajectories: int,
    seed: int,
    **endpoint: Any,
) -> None:
    """Draft a hints file for a server you did not write, for a person to review.

    Rules give read-only guesses, entities (consumes/produces) and safe requests from names; with
    --llm openai a model drafts requests, answers and value pools too.  Use it with --hints.
    """
    if not (target.command or target.url):
        raise click.UsageError(
            "annotate drafts hints for a server you did not write: give --server-cmd or --server-url"
        )
    chat = None
    if endpoint["llm"] == "openai":
        if not endpoint.get("model"):
            raise click.UsageError("--llm openai needs --model")
        chat = ChatModel(
            endpoint["model"],
            base_url=endpoint.get("base_url"),
            api_key=endpoint.get("api_key"),
            timeout_s=endpoint.get("timeout", 120.0),
            max_tokens=endpoint.get("max_tokens"),
            temperature=endpoint.get("temperature", 0.0),
            extra_body=endpoint.get("extra_body"),
        )
    report = annotate_server(target, out, chat, trajectories=trajectories, seed=seed)
    click.echo(
        f"{out}: {report.tools} tools, {report.consumed} inputs tied to entities, {report.asks} requests "
        f"(drafted by {report.drafted_by}); review it, then: funreason explore --hints {out} ...",
        err=True,
    )


@main.command("show")
@click.argument("what", metavar="SAMPLE_ID|FILE:LINE")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The run's store.db.")
@click.option("--fold", is_flag=True, help="Fold tool results to one line each.")
def show_command(what: str, db: Path | None, fold: bool) -> None:
    """Read one sample (or reject) as a chat: a sample id from the store (--db), or a line of an exported JSONL
    file (FILE:LINE, 1-based; with --db its calls also get their recorded diffs and argument origins)."""
    print_view(view_to_show(what, db), results=not fold)


main.add_command(servers_cli.envs)
main.add_command(simulator_cli.serve_command)
main.add_command(simulator_cli.proxy_command)
main.add_command(simulator_cli.explore_command)
main.add_command(simulator_cli.graph_command)


def _session_line(account: dict[str, Any]) -> str:
    """One recorded session's goals: recorded, in samples, dropped (and why)."""
    if account["recorded"] is None:
        return f"recorded session {account['trajectory']}: no sample ({account['reason']})"
    line = f"recorded session {account['trajectory']}: {account['recorded']} goals, {account['in_samples']} in samples"
    dropped = "; ".join(f"{d['tool']} (step {d['step']}): {d['reason']}" for d in account["dropped"])
    return line + (f"; left out: {dropped}" if dropped else "")
