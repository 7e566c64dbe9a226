"""`funreason envs` and `funreason serve`: list environments and serve sandboxes."""

import json
from pathlib import Path

import anyio
import click
import uvicorn

from servers.classes import environment_from_class, import_class
from servers.errors import SandboxError
from servers.http import create_app
from servers.mcp import serve_sandbox
from servers.registry import environment_names, get_environment, register_environment
from servers.sandboxes import SandboxManager, create_sandbox
from servers.scenarios import load_combined_scenario, read_json_object, scenario_names

__all__ = ["envs", "serve"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def envs(as_json: bool) -> None:
    """List the built-in environments, their tool counts and scenarios."""
    rows = [
        {
            "name": name,
            "description": get_environment(name).description,
            "tools": len(get_environment(name).tool_specs()),
            "scenarios": scenario_names(name),
        }
        for name in environment_names()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['name']:<12} {row['tools']:>3} tools  scenarios: {', '.join(row['scenarios'])}")
        click.echo(f"{'':<12} {row['description']}")


@click.command()
@click.argument("env_names", metavar="[ENV ...]", nargs=-1)
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True)
@click.option("--class", "class_spec", metavar="MODULE:CLASS", help="Also serve your own stateful Python class.")
@click.option("--config", type=click.Path(dir_okay=False), help="With --class: JSON file holding the initial state.")
@click.option("--loader", help="With --class: method that loads --config (default: set attributes).")
@click.option("--scenario", help="Scenario of the stdio sandbox, or of the default /mcp sandbox over HTTP.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every sandbox's randomness.")
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP: address to bind.")
@click.option("--port", type=int, default=8765, show_default=True, help="HTTP: port to bind.")
@click.option(
    "--token", envvar="FUNREASON_TOKEN", help="HTTP: require 'Authorization: Bearer TOKEN' [env: FUNREASON_TOKEN]."
)
@click.option("--max-sandboxes", type=click.IntRange(1), default=256, show_default=True, help="HTTP: live sandbox cap.")
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=3600.0,
    show_default=True,
    help="HTTP: seconds after which an unused sandbox is deleted.",
)
def serve(
    env_names: tuple[str, ...],
    transport: str,
    class_spec: str | None,
    config: str | None,
    loader: str | None,
    scenario: str | None,
    seed: int,
    host: str,
    port: int,
    token: str | None,
    max_sandboxes: int,
    idle_timeout: float,
) -> None:
    """Serve environments over MCP.

    stdio: one process, one sandbox of ENV (several ENVs share one sandbox).
    http: many isolated sandboxes of the ENVs (all when none is named), created with
    POST /sandboxes and served at /sandboxes/<id>/mcp; /mcp is a default sandbox.
    --class serves any class: public methods become tools, public attributes the state.
    """
    for name in env_names:
        get_environment(name)
    if class_spec is not None:
        initial = read_json_object(Path(config)) if config else {}
        env = environment_from_class(import_class(class_spec), config=initial, loader=loader)
        env_names = (*env_names, register_environment(env).name)
    elif config or loader:
        raise click.UsageError("--config and --loader go with --class")
    if transport == "stdio":
        if not env_names and not (scenario and load_combined_scenario(scenario)):
            raise click.UsageError("stdio serves one sandbox: name its environment, e.g. 'funreason serve filesystem'")
        server = serve_sandbox(create_sandbox(list(env_names), scenario, seed))
        anyio.run(server.run_stdio_async)
        return
    app = create_app(
        env_names,
        manager=SandboxManager(max_sandboxes=max_sandboxes, idle_timeout=idle_timeout),
        default_scenario=scenario,
        seed=seed,
        token=token,
        host=host,
    )
    click.echo(f"serving sandboxes on http://{host}:{port}/sandboxes (default sandbox: /mcp)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


KNOWN_ERRORS = (SandboxError,)
"""Errors the CLI reports as one line instead of a traceback."""
