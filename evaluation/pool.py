"""Open connections by (environment, scenario): one per worker, reused across tasks, closed together."""

from contextlib import AsyncExitStack

from simulator import Connection, ServerTarget

__all__ = ["ConnectionPool"]


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
