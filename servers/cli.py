"""`funreason envs`: list the built-in environments."""

import json

import click

from servers.errors import SandboxError
from servers.registry import environment_names, get_environment
from servers.scenarios import scenario_names

__all__ = ["KNOWN_ERRORS", "envs"]


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


KNOWN_ERRORS = (SandboxError,)
"""Errors the CLI reports as one line instead of a traceback."""
