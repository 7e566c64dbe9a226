"""Re-executing recorded calls in a fresh sandbox: the check behind every 'really executed' claim."""

from collections.abc import Iterable
from typing import Any

from servers import hash_state
from simulator.connection import Connection
from simulator.records import Step

__all__ = ["replay"]


async def replay(
    connection: Connection, calls: Iterable[tuple[str, dict[str, Any]]], seed: int
) -> tuple[list[Step], str | None]:
    """Run `calls` in order in a fresh sandbox of the connection's scenario and `seed`.

    Returns the steps as executed and the final state hash (None when the server
    exposes no state or cannot give a fresh one).
    """
    await connection.reset(seed)
    steps = []
    for index, (tool, arguments) in enumerate(calls):
        step = await connection.call(tool, arguments)
        step.index = index
        steps.append(step)
    state = await connection.state() if connection.fresh_state else None
    return steps, hash_state(state) if state is not None else None
