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
from simulator import Store
from simulator import cli as simulator_cli
from synthesizer.errors import ConfigError, SynthesizerError
from synthesizer.export import FORMATS, export_samples
from synthesizer.llm import ChatModel, ResponseCache
from synthesizer.offline import OfflineBackend
from synthesizer.pipeline import RunConfig, run_pipeline
from synthesizer.plan import Variants
from synthesizer.quality import format_quality, measure_quality, read_records
from synthesizer.roles import Backend, ModelBackend
from synthesizer.samples import SampleStore
from synthesizer.sharded import run_on_ray, synthesize_on_ray
from synthesizer.synthesize import SynthesisConfig, synthesize

__all__ = ["main"]


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
            sys.exit(1)


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
    """--llm/--model/--base-url/--api-key/--concurrency, shared by synthesize and run."""
    options = [
        click.option(
            "--llm",
            type=click.Choice(["offline", "openai"]),
            default="offline",
            show_default=True,
            help="offline: deterministic rules and templates; openai: any OpenAI-compatible endpoint.",
        ),
        click.option("--model", help="Model name for --llm openai."),
        click.option("--base-url", help="Endpoint for --llm openai (vLLM, SGLang, Ollama, ...)."),
        click.option("--api-key", envvar="OPENAI_API_KEY", help="API key [env: OPENAI_API_KEY]."),
        click.option(
            "--concurrency",
            type=click.IntRange(1),
            default=16,
            show_default=True,
            help="Requests in flight to the endpoint.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def make_backend(
    llm: str, model: str | None, base_url: str | None, api_key: str | None, concurrency: int, cache_store: Store
) -> Backend:
    """The offline rules, or a model behind an OpenAI-compatible endpoint with its cache in the store."""
    if llm == "offline":
        return OfflineBackend()
    if not model:
        raise click.UsageError("--llm openai needs --model")
    samples = SampleStore(cache_store)
    chat = ChatModel(
        model,
        base_url=base_url,
        api_key=api_key,
        concurrency=concurrency,
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
@click.option("--turns", default="2-5", show_default=True, callback=_turns, help="User turns per dialogue, MIN-MAX.")
@click.option("--samples", type=click.IntRange(1), help="Stop after this many new samples.")
@click.option("--seed", type=int, default=0, show_default=True)
@_share_option("missing_parameter", "Share of turns whose query leaves out a value the assistant must ask for.")
@_share_option("missing_tool", "Share of turns whose tool is only offered later in the dialogue.")
@_share_option("error_recovery", "Share of turns with a call that really fails and is recovered from.")
@click.option("--ray", "ray_address", metavar="ADDRESS", help=simulator_cli.RAY_HELP)
def synthesize_command(
    db: Path,
    llm: str,
    model: str | None,
    base_url: str | None,
    api_key: str | None,
    concurrency: int,
    max_attempts: int,
    turns: tuple[int, int],
    samples: int | None,
    seed: int,
    missing_parameter: float,
    missing_tool: float,
    error_recovery: float,
    ray_address: str | None,
) -> None:
    """Turn trajectories into verified multi-turn samples (advanced tool, hard query, guided chain).

    Re-running resumes: trajectories that already gave a sample or a reject are skipped.
    """
    variants = Variants(missing_parameter, missing_tool, error_recovery)
    with Store(db) as cache_store:
        backend = make_backend(llm, model, base_url, api_key, concurrency, cache_store)
        config = SynthesisConfig(
            samples=samples,
            turns=turns,
            max_attempts=max_attempts,
            seed=seed,
            variants=variants,
            concurrency=concurrency if llm == "openai" else 1,
        )
        with simulator_cli.progress_bar("synthesizing") as report:
            if ray_address:
                factory = partial(make_backend, llm, model, base_url, api_key, concurrency)
                synthesize_on_ray(db, config, factory, ray_address, report)
            counts = synthesize(db, config, backend, report)
    click.echo(f"{counts['verified']} verified samples, {counts['rejected']} rejected, in {db}", err=True)


def _load_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Read a TOML file into the command's defaults, so flags still override it; one line per problem."""
    if value is None:
        return None
    try:
        data = tomllib.loads(value.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{value}: cannot read: {error.strerror}") from error
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
@click.option(
    "--trajectories", type=click.IntRange(1), default=RunConfig.trajectories, show_default=True, help="Per environment."
)
@click.option("--samples", type=click.IntRange(1), help="Stop synthesis after this many samples.")
@click.option("--seed", type=int, default=0, show_default=True)
@llm_options
@click.option("--max-attempts", type=click.IntRange(1), default=3, show_default=True)
@click.option("--turns", default="2-5", show_default=True, callback=_turns, help="User turns per dialogue, MIN-MAX.")
@click.option("--ray", "ray_address", metavar="ADDRESS", help=simulator_cli.RAY_HELP)
def run_command(
    out: Path,
    envs: str,
    trajectories: int,
    samples: int | None,
    seed: int,
    llm: str,
    model: str | None,
    base_url: str | None,
    api_key: str | None,
    concurrency: int,
    max_attempts: int,
    turns: tuple[int, int],
    ray_address: str | None,
) -> None:
    """The whole pipeline on the built-in environments: explore, synthesize, validate, export, report.

    Writes openai/sharegpt/bfcl/funreason JSONL, report.md and report.html into --out.
    Running it again resumes instead of starting over.
    """
    names = tuple(name.strip() for name in envs.split(",") if name.strip())
    for name in names:
        get_environment(name)
    config = RunConfig(
        out=out,
        envs=names,
        trajectories=trajectories,
        samples=samples,
        seed=seed,
        turns=turns,
        max_attempts=max_attempts,
        concurrency=concurrency if llm == "openai" else 1,
    )
    try:
        config.out.mkdir(parents=True, exist_ok=True)
        probe = config.out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ConfigError(f"{out}: cannot write there: {error.strerror}") from error
    with Store(config.store_path) as cache_store:
        backend = make_backend(llm, model, base_url, api_key, concurrency, cache_store)
        with simulator_cli.progress_stages() as stage:
            if ray_address:
                factory = partial(make_backend, llm, model, base_url, api_key, concurrency)
                run_on_ray(config, factory, ray_address, stage)
            figures = run_pipeline(config, backend, stage)
    totals = figures["totals"]
    click.echo(
        f"{totals['verified']} verified samples ({totals['rejected']} rejected) from {totals['trajectories']} "
        f"trajectories; datasets and report.html in {out}/",
        err=True,
    )


@main.command("export")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--verified-only", is_flag=True, help="Leave out samples that could not be validated.")
@click.option("--stringify-arguments", is_flag=True, help="Tool-call arguments as JSON strings (Arrow loaders).")
@click.option("--without-held-out", is_flag=True, help="Leave out the held-out split (`funreason tasks --split`).")
def export_command(
    db: Path, fmt: str, out: Path, verified_only: bool, stringify_arguments: bool, without_held_out: bool
) -> None:
    """Write the store's samples as openai, sharegpt, bfcl or funreason JSONL."""
    with Store(db) as store:
        sample_store = SampleStore(store)
        held_out = sample_store.held_out_ids() if without_held_out else set()
        samples = (s for s in sample_store.iter_samples(verified_only=verified_only) if s.id not in held_out)
        count = export_samples(samples, fmt, out, stringify_arguments=stringify_arguments)
    click.echo(f"{count} samples written to {out}", err=True)


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
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON: every figure with its count, total and examples.")
def quality_command(file: Path, as_json: bool) -> None:
    """Measure what a function-calling dataset would teach (any OpenAI chat JSONL, ours or anyone's).

    Counts unneeded and ungrounded calls, missed parallelism, tool text in queries, templated or raw
    answers, near-duplicate queries and invented dependencies in the reasoning, each with its
    denominator and examples. A measurement, not a filter: nothing is changed.
    """
    quality = measure_quality(read_records(file))
    click.echo(json.dumps(quality, indent=2, ensure_ascii=False) if as_json else format_quality(quality))


main.add_command(servers_cli.envs)
main.add_command(simulator_cli.serve_command)
main.add_command(simulator_cli.proxy_command)
main.add_command(simulator_cli.explore_command)
main.add_command(simulator_cli.graph_command)
