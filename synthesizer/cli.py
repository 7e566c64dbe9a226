"""The `funreason` command: a thin layer over the public functions of the three packages."""

import logging
import sys
from typing import Any

import click

from servers import cli as servers_cli
from simulator import cli as simulator_cli

__all__ = ["main"]


class _OneLineErrors(click.Group):
    """Report known errors as one line and exit 1, never as a traceback."""

    known_errors: tuple[type[Exception], ...] = (*servers_cli.KNOWN_ERRORS, *simulator_cli.KNOWN_ERRORS)

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


main.add_command(servers_cli.envs)
main.add_command(simulator_cli.serve_command)
main.add_command(simulator_cli.proxy_command)
main.add_command(simulator_cli.explore_command)
main.add_command(simulator_cli.graph_command)
main.add_command(simulator_cli.stats_command)
