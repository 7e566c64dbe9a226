"""`funreason explore`, `graph` and `stats`: trajectories from any MCP server into a store."""

import functools
import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import click
import uvicorn
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from servers import (
    SandboxManager,
    create_app,
    create_sandbox,
    environment_from_class,
    get_environment,
    import_class,
    load_combined_scenario,
    read_json_object,
    register_environment,
    serve_sandbox,
    with_hints,
)
from servers.bfcl import bfcl_environment_names
from servers.http import DEFAULT_CALL_TIMEOUT
from simulator.bfcl import explore_bfcl, is_bfcl
from simulator.cluster import explore_on_ray
from simulator.connection import DEFAULT_ERROR_SHAPE, DEFAULT_ERROR_TEXT, ERROR_SHAPES, ServerTarget
from simulator.errors import SimulatorError
from simulator.explorer import ExploreConfig, explore, learn_from
from simulator.focus import DEFAULT_FOCUS_SHARE, Focus, read_focus
from simulator.graph import build_graph, export_graph
from simulator.hints import Hints, load_hints
from simulator.recorder import Recorder, run_proxy
from simulator.store import Store

__all__ = [
    "HINTS_OPTION",
    "KNOWN_ERRORS",
    "RAY_HELP",
    "explore_command",
    "focus_from",
    "focus_options",
    "graph_command",
    "hint_environments",
    "progress_bar",
    "progress_stages",
    "proxy_command",
    "serve_command",
    "server_options",
]

KNOWN_ERRORS = (SimulatorError,)
RAY_HELP = "Shard the work over Ray: 'local' starts one here, 'auto' joins a running cluster, or an address."


HINTS_OPTION = click.option(
    "--hints",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Hints file (TOML or JSON): phrasing, entities, state conditions and pools for the server's tools.",
)
"""`--hints FILE`, on every command that connects to a server and on `serve`."""


def server_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--env/--scenario | --server-cmd | --server-url, shared by every command that connects: the command
    takes them as one `target` (`target_from`), so no command lists them again."""

    @functools.wraps(command)
    def with_target(**kwargs: Any) -> Any:
        server = {key: kwargs.pop(key) for key in inspect.signature(target_from).parameters}
        return command(target=target_from(**server), **kwargs)

    options = [
        click.option(
            "--env", "envs", help="Built-in environment(s), comma-separated: 'travel,messaging', 'bfcl:TravelAPI'."
        ),
        click.option("--bfcl", is_flag=True, help="BFCL's eight multi-turn classes (needs the [bfcl] extra)."),
        click.option("--scenario", help="Scenario name (or a combined scenario, or a .json path)."),
        click.option("--server-cmd", help="Any MCP server started over stdio, e.g. 'python my_server.py'."),
        click.option("--server-url", help="An MCP URL ending in /mcp, or the base URL of 'funreason serve'."),
        click.option("--token", envvar="FUNREASON_TOKEN", help="Bearer token for --server-url."),
        click.option(
            "--server-env",
            multiple=True,
            metavar="KEY=VALUE",
            help="Environment variable for a --server-cmd server, on top of yours (repeatable).",
        ),
        click.option(
            "--reset-cmd",
            help="Shell command that restores the server's state (a folder, a file) before every fresh start; "
            "without one a --server-url server's samples are unverified.",
        ),
        click.option(
            "--error-text",
            default=DEFAULT_ERROR_TEXT,
            show_default=True,
            help="Regular expression (case-insensitive): text results of a third-party server that match it "
            "count as errors even without isError; '' turns the rule off.",
        ),
        click.option(
            "--error-shape",
            default=DEFAULT_ERROR_SHAPE,
            show_default=True,
            help="Shapes of structured results (JSON, or JSON inside text) of a third-party server that count as "
            f"errors without isError, comma-separated: {'; '.join(f'{k}: {v}' for k, v in ERROR_SHAPES.items())}. "
            "'' turns the rule off.",
        ),
        HINTS_OPTION,
    ]
    for option in reversed(options):
        with_target = option(with_target)
    return with_target


def target_from(
    envs: str | None,
    scenario: str | None,
    server_cmd: str | None,
    server_url: str | None,
    token: str | None,
    server_env: tuple[str, ...] = (),
    reset_cmd: str | None = None,
    error_text: str | None = DEFAULT_ERROR_TEXT,
    bfcl: bool = False,
    error_shape: str | None = DEFAULT_ERROR_SHAPE,
    hints: Path | None = None,
) -> ServerTarget:
    names = tuple(name.strip() for name in (envs or "").split(",") if name.strip())
    if bfcl:
        names = (*names, *(name for name in bfcl_environment_names() if name not in names))
    for name in names:
        get_environment(name)
    if sum(map(bool, (names or scenario and not (server_cmd or server_url), server_cmd, server_url))) != 1:
        raise click.UsageError("give exactly one of --env ENV, --server-cmd CMD or --server-url URL")
    pairs = _env_pairs(server_env)
    if (server_env or reset_cmd) and not (server_cmd or server_url):
        raise click.UsageError("--server-env and --reset-cmd go with --server-cmd or --server-url")
    return ServerTarget(
        envs=names,
        scenario=scenario,
        command=server_cmd,
        url=server_url,
        token=token,
        server_env=tuple(sorted(pairs)),
        reset_cmd=reset_cmd,
        error_text=error_text or None,
        error_shape=error_shape or None,
        hints=str(load_hints(hints).path) if hints is not None else None,
    )


def focus_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--focus EVAL.json and --focus-share, shared by explore, synthesize and run."""
    options = [
        click.option(
            "--focus",
            "focus_file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="An eval file (funreason eval --json): more data where that model failed; its tasks left out.",
        ),
        click.option(
            "--focus-share",
            type=click.FloatRange(0, 1),
            help=f"Share of sampling decisions drawn by the failure rates; the rest as without --focus "
            f"[default: {DEFAULT_FOCUS_SHARE}].",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def focus_from(focus_file: Path | None, focus_share: float | None) -> Focus | None:
    """The `Focus` that `focus_options` ask for, or None."""
    if focus_file is None:
        if focus_share is not None:
            raise click.UsageError("--focus-share goes with --focus EVAL.json")
        return None
    return read_focus(focus_file, DEFAULT_FOCUS_SHARE if focus_share is None else focus_share)


@contextmanager
def progress_stages() -> Iterator[Callable[[str], Callable[..., None]]]:
    """One progress display with a line per stage; yields `stage(name) -> report(done, total, note="")`."""
    with Progress(
        TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    ) as progress:

        def stage(name: str) -> Callable[..., None]:
            task = progress.add_task(name, total=None)

            def report(done: int, total: int, note: str = "") -> None:
                progress.update(task, completed=done, total=total, description=f"{name} ({note})" if note else name)

            return report

        yield stage


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[..., None]]:
    """A single-stage progress display."""
    with progress_stages() as stage:
        yield stage(description)


@click.command("serve")
@click.argument("env_names", metavar="[ENV ...]", nargs=-1)
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True)
@click.option("--class", "class_spec", metavar="MODULE:CLASS", help="Also serve your own stateful Python class.")
@click.option("--config", type=click.Path(dir_okay=False), help="With --class: JSON file holding the initial state.")
@click.option("--loader", help="With --class: method that loads --config (default: set attributes).")
@HINTS_OPTION
@click.option("--scenario", help="Scenario of the stdio sandbox, or of the default /mcp sandbox over HTTP.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every sandbox's randomness.")
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP: address to bind.")
@click.option("--port", type=int, default=8765, show_default=True, help="HTTP: port to bind.")
@click.option(
    "--token", envvar="FUNREASON_TOKEN", help="HTTP: require 'Authorization: Bearer TOKEN' [env: FUNREASON_TOKEN]."
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTTP: read the token from this file (unlike --token, not visible in 'ps').",
)
@click.option(
    "--allowed-hosts",
    metavar="HOST[,HOST...]",
    help="HTTP: Host values to answer besides loopback ones, e.g. 'node7:8765,node7.lab:*'.",
)
@click.option(
    "--allowed-origins",
    metavar="ORIGIN[,ORIGIN...]",
    help="HTTP: browser Origins to answer besides loopback ones, e.g. 'https://ui.lab'.",
)
@click.option(
    "--call-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_CALL_TIMEOUT,
    show_default=True,
    help="HTTP: seconds a tool call may run before it is stopped and undone.",
)
@click.option(
    "--scenarios",
    "scenario_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="HTTP: folder of your own scenarios, DIR/<env>/<name>.json, which clients may name.",
)
@click.option(
    "--max-sandboxes",
    type=click.IntRange(1),
    default=1024,
    show_default=True,
    help="HTTP: live sandbox cap (a 512-rollout RL batch, twice over).",
)
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path), help="Record every call into this store.")
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=3600.0,
    show_default=True,
    help="HTTP: seconds after which an unused sandbox is deleted.",
)
def serve_command(
    env_names: tuple[str, ...],
    transport: str,
    class_spec: str | None,
    config: str | None,
    loader: str | None,
    hints: Path | None,
    scenario: str | None,
    seed: int,
    host: str,
    port: int,
    token: str | None,
    token_file: Path | None,
    allowed_hosts: str | None,
    allowed_origins: str | None,
    call_timeout: float,
    scenario_dir: Path | None,
    max_sandboxes: int,
    record: Path | None,
    idle_timeout: float,
) -> None:
    """Serve environments over MCP.

    stdio: one process, one sandbox of ENV (several ENVs share one sandbox).
    http: many isolated sandboxes of the ENVs (all when none is named), created with
    POST /sandboxes and served at /sandboxes/<id>/mcp; /mcp is a default sandbox.
    --class serves any class: public methods become tools, public attributes the state.
    --record writes every call any client makes into a trajectory store.
    Over HTTP only loopback Host and Origin values are answered unless --allowed-hosts
    and --allowed-origins add some; another --host needs those or a token.
    """
    for name in env_names:
        get_environment(name)
    if class_spec is not None:
        initial = read_json_object(Path(config)) if config else {}
        env = environment_from_class(import_class(class_spec), config=initial, loader=loader)
        env_names = (*env_names, register_environment(env).name)
    elif config or loader:
        raise click.UsageError("--config and --loader go with --class")
    if hints is not None:
        env_names = hint_environments(env_names, scenario, load_hints(hints))
    if transport == "stdio":
        if not env_names and not (scenario and load_combined_scenario(scenario)):
            raise click.UsageError("stdio serves one sandbox: name its environment, e.g. 'funreason serve filesystem'")
        sandbox = create_sandbox(list(env_names), scenario, seed, scenario_dir=scenario_dir)
        recorder = Recorder(record, label="+".join(sandbox.env_names)) if record else None
        anyio.run(serve_sandbox(sandbox, on_call=recorder).run_stdio_async)
        return
    app = create_app(
        env_names,
        manager=SandboxManager(max_sandboxes=max_sandboxes, idle_timeout=idle_timeout, scenario_dir=scenario_dir),
        default_scenario=scenario,
        seed=seed,
        token=_serve_token(token, token_file),
        host=host,
        allowed_hosts=_names(allowed_hosts),
        allowed_origins=_names(allowed_origins),
        call_timeout=call_timeout,
        on_call=Recorder(record, label=f"http:{','.join(env_names) or 'all'}") if record else None,
    )
    click.echo(f"serving sandboxes on http://{host}:{port}/sandboxes (default sandbox: /mcp)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def hint_environments(env_names: tuple[str, ...], scenario: str | None, hints: Hints) -> tuple[str, ...]:
    """Put `hints` on these in-process environments (in the registry, for this process), so their tools
    publish them as ours do and their pools are the environments' own; checked against all their tools."""
    names = env_names or tuple(load_combined_scenario(scenario or "") or ())
    if not names:
        raise click.UsageError("--hints needs the environments it is for: name them, or --class")

    async def listed() -> list:
        async with ServerTarget(envs=names, scenario=scenario).connect() as connection:
            return connection.tools

    hints.check(anyio.run(listed))
    for name in names:
        env_class = get_environment(name)
        own = {tool: table for tool, table in hints.tables().items() if tool in env_class.tool_specs()}
        register_environment(with_hints(env_class, own, hints.pools), replace=True)
    return names


@click.command("proxy")
@click.option("--server-cmd", required=True, help="The stdio MCP server to put behind the proxy.")
@click.option("--record", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Trajectory store.")
@click.option(
    "--server-env",
    multiple=True,
    metavar="KEY=VALUE",
    help="Environment variable for the server, on top of yours (repeatable).",
)
def proxy_command(server_cmd: str, record: Path, server_env: tuple[str, ...]) -> None:
    """Serve any stdio MCP server's tools over stdio, recording every call into a store.

    Point a desktop client at `funreason proxy --server-cmd "CMD" --record calls.db`
    instead of at CMD: its sessions become trajectories like the explorer's.  The
    server gets your environment (plus --server-env); if it exits, so does the proxy.
    """
    anyio.run(run_proxy, server_cmd, record, dict(_env_pairs(server_env)))


@click.command("explore")
@server_options
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Trajectory store.")
@click.option("--trajectories", type=click.IntRange(0), default=100, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-steps", type=click.IntRange(1), default=8, show_default=True, help="Calls per trajectory.")
@click.option(
    "--after-target",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Calls to keep making after the target tool succeeded.",
)
@click.option("--workers", type=click.IntRange(1), default=1, show_default=True, help="Worker processes.")
@click.option(
    "--values",
    "values_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON object of value pools: parameter (or entity) name -> list of values to try.",
)
@focus_options
@click.option("--ray", "ray_address", metavar="ADDRESS", help=RAY_HELP)
def explore_command(
    target: ServerTarget,
    db: Path,
    trajectories: int,
    seed: int,
    max_steps: int,
    after_target: int,
    workers: int,
    values_file: Path | None,
    focus_file: Path | None,
    focus_share: float | None,
    ray_address: str | None,
) -> None:
    """Explore a server with directed sampling and record real trajectories.

    Re-running the same command resumes up to --trajectories, without duplicates.  BFCL's classes
    without --scenario: --trajectories per class over seeded BFCL entries, each in its initial config.
    """
    config = ExploreConfig(
        trajectories=trajectories,
        seed=seed,
        max_steps=max_steps,
        after_target_steps=after_target,
        workers=workers,
        values=_merged(
            load_hints(Path(target.hints)).pools if target.hints else {},
            _value_pools(values_file) if values_file else {},
        ),
        focus=focus_from(focus_file, focus_share),
    )
    if is_bfcl(target.envs) and target.scenario is None:  # BFCL's classes start in its entries' initial configs
        with progress_bar(f"exploring {target.label} in BFCL's entries") as report:
            run_ids = explore_bfcl(target.envs, db, config, report, hints=target.hints)
        run_label = f"{len(run_ids)} runs (one per BFCL entry)"
    else:
        with progress_bar(f"exploring {target.label}") as report:
            if ray_address:
                explore_on_ray(target, db, config, ray_address, report)
            run_label = f"run {explore(target, db, config, report)}"
    with Store(db) as store:
        stats = store.stats()
    click.echo(f"{run_label}: {stats['trajectories']} trajectories, {stats['steps']} steps in {db}", err=True)


@click.command("graph")
@server_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Output file; the suffix picks the format: .graphml, .dot, .png or .json.",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A store explored from this server: add the edges its exploration learnt (observed, with evidence).",
)
def graph_command(
    target: ServerTarget,
    out: Path,
    db: Path | None,
) -> None:
    """Build the Environment-API graph of a server and write it out.

    Declared and inferred edges come from the server's tool list; with --db, the
    edges its exploration observed are added, each with the evidence that showed it.
    """
    if out.suffix.lower() not in (".graphml", ".dot", ".png", ".json"):
        raise click.BadParameter(
            f"unknown format {out.suffix!r}: use .graphml, .dot, .png or .json", param_hint="--out"
        )

    async def tools() -> list:
        async with target.connect() as connection:
            return connection.tools

    graph = build_graph(anyio.run(tools))
    if db is not None:
        with Store(db) as store:
            for trajectory in store.iter_trajectories():
                if trajectory.env == target.label:
                    learn_from(graph, trajectory)
    export_graph(graph, out)
    click.echo(f"{out}: {graph.number_of_nodes()} tools, {graph.number_of_edges()} edges", err=True)


def _env_pairs(items: tuple[str, ...]) -> list[tuple[str, str]]:
    """`--server-env KEY=VALUE ...` as pairs; anything else is one line."""
    pairs = []
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--server-env")
        pairs.append((key, value))
    return pairs


def _serve_token(token: str | None, token_file: Path | None) -> str | None:
    """The token from --token, FUNREASON_TOKEN or --token-file; an empty one is refused, never ignored."""
    if token is None and os.environ.get("FUNREASON_TOKEN") == "":
        token = ""  # click reads an empty variable as unset: it would serve without any token
    if token_file is not None:
        if token is not None:
            raise click.UsageError("give --token (or FUNREASON_TOKEN) or --token-file, not both")
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            message = f"{token_file}: cannot read the token ({error})"
            raise click.BadParameter(message, param_hint="--token-file") from error
    if token is not None and not token.strip():
        raise click.UsageError("the token is empty: give a non-empty --token, --token-file or FUNREASON_TOKEN")
    return token


def _names(option: str | None) -> tuple[str, ...]:
    return tuple(name.strip() for name in (option or "").split(",") if name.strip())


def _merged(*pools: dict[str, list[Any]]) -> dict[str, list[Any]]:
    merged: dict[str, list[Any]] = {}
    for each in pools:
        for key, values in each.items():
            merged.setdefault(key, []).extend(values)
    return merged


def _value_pools(path: Path) -> dict[str, list[Any]]:
    """`--values FILE.json`: an object of name -> list of values; anything else is one line naming the file."""
    data = read_json_object(path)
    bad = [key for key, values in data.items() if not isinstance(values, list)]
    if bad:
        raise click.BadParameter(f"{path}: {bad[0]!r} must map to a list of values", param_hint="--values")
    return data
