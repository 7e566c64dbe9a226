"""`funreason explore`, `graph` and `stats`: trajectories from any MCP server into a store."""

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from servers import get_environment
from simulator.connection import ServerTarget
from simulator.errors import SimulatorError
from simulator.explorer import ExploreConfig, explore
from simulator.graph import build_graph, export_graph
from simulator.store import Store

__all__ = ["KNOWN_ERRORS", "explore_command", "graph_command", "progress_bar", "server_options", "stats_command"]

KNOWN_ERRORS = (SimulatorError,)


def server_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--env/--scenario | --server-cmd | --server-url, shared by every command that connects."""
    options = [
        click.option("--env", "envs", help="Built-in environment(s), comma-separated: 'travel,messaging'."),
        click.option("--scenario", help="Scenario name (or a combined scenario, or a .json path)."),
        click.option("--server-cmd", help="Any MCP server started over stdio, e.g. 'python my_server.py'."),
        click.option("--server-url", help="An MCP URL ending in /mcp, or the base URL of 'funreason serve'."),
        click.option("--token", envvar="FUNREASON_TOKEN", help="Bearer token for --server-url."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def target_from(
    envs: str | None, scenario: str | None, server_cmd: str | None, server_url: str | None, token: str | None
) -> ServerTarget:
    names = tuple(name.strip() for name in (envs or "").split(",") if name.strip())
    for name in names:
        get_environment(name)
    if sum(map(bool, (names or scenario and not (server_cmd or server_url), server_cmd, server_url))) != 1:
        raise click.UsageError("give exactly one of --env ENV, --server-cmd CMD or --server-url URL")
    return ServerTarget(envs=names, scenario=scenario, command=server_cmd, url=server_url, token=token)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """One rich progress bar; yields the callback the long-running functions report to."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False
    ) as progress:
        task = progress.add_task(description, total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield report


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
def explore_command(
    envs: str | None,
    scenario: str | None,
    server_cmd: str | None,
    server_url: str | None,
    token: str | None,
    db: Path,
    trajectories: int,
    seed: int,
    max_steps: int,
    after_target: int,
    workers: int,
) -> None:
    """Explore a server with directed sampling and record real trajectories.

    Re-running the same command resumes up to --trajectories, without duplicates.
    """
    target = target_from(envs, scenario, server_cmd, server_url, token)
    config = ExploreConfig(
        trajectories=trajectories, seed=seed, max_steps=max_steps, after_target_steps=after_target, workers=workers
    )
    with progress_bar(f"exploring {target.label}") as report:
        run_id = explore(target, db, config, report)
    with Store(db) as store:
        stats = store.stats()
    click.echo(f"run {run_id}: {stats['trajectories']} trajectories, {stats['steps']} steps in {db}", err=True)


@click.command("graph")
@server_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Output file; the suffix picks the format: .graphml, .dot, .png or .json.",
)
def graph_command(
    envs: str | None, scenario: str | None, server_cmd: str | None, server_url: str | None, token: str | None, out: Path
) -> None:
    """Build the Environment-API graph of a server and write it out."""
    if out.suffix.lower() not in (".graphml", ".dot", ".png", ".json"):
        raise click.BadParameter(
            f"unknown format {out.suffix!r}: use .graphml, .dot, .png or .json", param_hint="--out"
        )
    target = target_from(envs, scenario, server_cmd, server_url, token)

    async def tools() -> list:
        async with target.connect() as connection:
            return connection.tools

    graph = build_graph(anyio.run(tools))
    export_graph(graph, out)
    click.echo(f"{out}: {graph.number_of_nodes()} tools, {graph.number_of_edges()} edges", err=True)


@click.command("stats")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats_command(db: Path, as_json: bool) -> None:
    """Count what a store holds."""
    with Store(db) as store:
        stats = store.stats()
    if as_json:
        click.echo(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            click.echo(f"{key:<16} {value}")
