"""Open connections by (environment, scenario): kept by one task, reused, closed together."""

import math
from collections import defaultdict
from contextlib import AsyncExitStack, suppress
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from simulator import Connection, ServerTarget

__all__ = ["ConnectionPool", "SharedConnections"]


class ConnectionPool:
    """Use as `async with ConnectionPool() as pool:`; `await pool.get(env, scenario)` opens on first use."""

    def __init__(self) -> None:
        self._stack = AsyncExitStack()
        self._open: dict[tuple[str, str], Connection] = {}

    async def __aenter__(self) -> "ConnectionPool":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()  # last opened, first closed: their cancel scopes nest

    async def get(self, env: str, scenario: str) -> Connection:
        if (env, scenario) not in self._open:
            target = ServerTarget.from_record(env, scenario)
            self._open[env, scenario] = await self._stack.enter_async_context(target.connect())
        return self._open[env, scenario]


class SharedConnections:
    """Connections lent to concurrent attempts, one attempt at a time each, and reused by the next.

    A run opens as many per (environment, scenario) as attempts of it ever ran at once, not one per
    worker and pair (an in-process connection costs about a hundred tool calls to open).  An MCP
    client must close in the task it opened in, so a task of the pool's own opens and closes them all.
    Use as `async with SharedConnections() as shared:`, then `borrow` and `give_back`.
    """

    def __init__(self) -> None:
        self._idle: dict[tuple[str, str], list[Connection]] = defaultdict(list)
        self._group: TaskGroup | None = None
        self._requests: MemoryObjectSendStream[tuple[str, str, MemoryObjectSendStream[Any]]] | None = None

    async def __aenter__(self) -> "SharedConnections":
        self._requests, requests = anyio.create_memory_object_stream[tuple[str, str, Any]](math.inf)
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._own, requests)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._requests is not None and self._group is not None
        await self._requests.aclose()  # the owner closes every connection and ends
        await self._group.__aexit__(None, None, None)  # so the caller's own error goes on as it was

    async def borrow(self, env: str, scenario: str) -> Connection:
        """An idle connection to (env, scenario), or a new one; `give_back` it when the attempt is done."""
        if idle := self._idle[env, scenario]:
            return idle.pop()
        assert self._requests is not None, "use SharedConnections as an async context manager"
        answers, answer = anyio.create_memory_object_stream[Any](1)
        await self._requests.send((env, scenario, answers))
        async with answer:
            opened = await answer.receive()
        if isinstance(opened, BaseException):
            raise opened
        return opened

    def give_back(self, env: str, scenario: str, connection: Connection) -> None:
        self._idle[env, scenario].append(connection)

    async def _own(self, requests: MemoryObjectReceiveStream[tuple[str, str, Any]]) -> None:
        async with AsyncExitStack() as stack, requests:
            async for env, scenario, answers in requests:
                async with answers:
                    try:
                        opened = await stack.enter_async_context(ServerTarget.from_record(env, scenario).connect())
                    except Exception as error:  # the borrower raises it, as if it had opened the connection itself
                        opened = error
                    with suppress(anyio.BrokenResourceError):  # a borrower cancelled meanwhile: it closes with the rest
                        await answers.send(opened)
