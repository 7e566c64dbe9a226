"""One rollout's own sandbox for a trainer: an episode in a fresh sandbox (in this process or over HTTP), driven
from any thread (TRL calls tools synchronously) or any event loop (verl awaits them).

An MCP client must close in the task that opened it, and trainers call from threads and loops of their own, so
every rollout's connection lives in a task of one background event loop (a daemon thread, started on first use);
callers hand it work and wait for the answer. Over HTTP (`url` = the base of `funreason serve --transport
http`), a rollout's sandbox is created with `POST /sandboxes` at open and deleted at close.
"""

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from contextlib import AsyncExitStack
from queue import Queue
from typing import Any, TypeVar

import anyio
import httpx2
from anyio.from_thread import BlockingPortal
from anyio.streams.memory import MemoryObjectReceiveStream

from evaluation.episode import Episode, reply_from_message
from evaluation.errors import RolloutError
from evaluation.rewards import episode_reward
from evaluation.runner import GroundTruthPolicy
from evaluation.tasks import Task
from simulator import Connection, ServerTarget
from synthesizer.llm import ChatReply

__all__ = ["ANSWERED", "RolloutSandbox", "call_in_turn", "play_to_turn", "score_turn"]

T = TypeVar("T")
Work = Callable[[Episode], Awaitable[Any]]

ANSWERED = "(the model answered)"
"""Trainers never show a tool the model's last words: scoring from the tool side takes the turn as answered."""

OPENING_AT_ONCE = 16
"""Rollouts that open their sandboxes at the same time (the rest wait their turn); calls are not limited."""

_portal: BlockingPortal | None = None
_portal_lock = threading.Lock()
_open_limit: anyio.Semaphore | None = None


class RolloutSandbox:
    """A task's episode in a sandbox of its own, standing where a trainer's prompt leaves the dialogue.

    `prefix` is the dialogue so far as the prompt holds it: its assistant messages are played through the
    episode, so the sandbox, the tools offered and the turn stand exactly where that prompt leaves them.
    `turn` instead plays the ground truth up to the point where turn `turn` wants the model to act (its
    request made, and for the variants the follow-up given or the withheld tool announced), which is what
    `funreason export --format trl|verl` puts in a row's prompt. Construct and wait (`wait=True`), or
    construct with `wait=False` and `await opened()` from an event loop.
    """

    def __init__(
        self,
        task: Task,
        *,
        url: str | None = None,
        prefix: list[dict[str, Any]] | None = None,
        turn: int | None = None,
        wait: bool = True,
    ) -> None:
        self.task = task
        self.url = url
        self._work: Any = None
        self._ready: Future[None] = Future()
        self._owner = _shared_portal().start_task_soon(self._own, prefix, turn, self._ready)
        if wait:
            try:
                self._ready.result()
            except BaseException:
                self._owner.result()  # the owner ended with the same error; wait for it to finish closing
                raise

    async def opened(self) -> None:
        try:
            await asyncio.wrap_future(self._ready)
        except BaseException:
            await asyncio.wrap_future(self._owner)
            raise

    def run(self, work: Work) -> Any:
        """`await work(episode)` in the sandbox's task; from a thread that runs no event loop of ours."""
        return self._submit(work).result()

    async def arun(self, work: Work) -> Any:
        """`run` for callers inside an asyncio event loop (verl's): waits without blocking that loop."""
        return await asyncio.wrap_future(self._submit(work))

    def close(self) -> None:
        """Close the connection and delete the sandbox (over HTTP); closing twice does nothing."""
        if self._work is not None:
            _shared_portal().start_task_soon(self._work.aclose)
            self._work = None
        self._owner.result()

    async def aclose(self) -> None:
        if self._work is not None:
            _shared_portal().start_task_soon(self._work.aclose)
            self._work = None
        await asyncio.wrap_future(self._owner)

    def _submit(self, work: Work) -> Future[Any]:
        if self._work is None:
            raise RolloutError(f"task {self.task.id}: the rollout's sandbox is closed")
        answer: Future[Any] = Future()
        _shared_portal().start_task_soon(self._work.send, (work, answer))
        return answer

    async def _own(self, prefix: list[dict[str, Any]] | None, turn: int | None, ready: Future[None]) -> None:
        send, receive = anyio.create_memory_object_stream[tuple[Work, Future[Any]]](1024)
        try:
            async with AsyncExitStack() as stack:
                async with _opening():  # a batch opening at once would time out on a busy server
                    connection = await stack.enter_async_context(_connect(self.task, self.url))
                    episode = Episode(self.task, connection)
                    await episode.start()
                    if turn is not None:
                        await play_to_turn(episode, turn)
                    for message in prefix or []:
                        if message["role"] == "assistant" and not episode.done:
                            await episode.step(reply_from_message(message))
                self._work = send
                ready.set_result(None)
                await _serve(episode, receive)
        except BaseException as error:
            if not ready.done():
                ready.set_exception(error)
                return
            raise


async def play_to_turn(episode: Episode, turn: int) -> list[dict[str, Any]]:
    """Play the ground truth from the episode's start to where turn `turn` wants the model to act.

    Returns the dialogue so far: earlier turns as the ground truth plays them (calls executed for real), then
    the turn's request, with the follow-up or the withheld tool's announcement where the variant has one.
    """
    if not 0 <= turn < len(episode.task.turns):
        raise RolloutError(f"task {episode.task.id} has no turn {turn}")
    policy = GroundTruthPolicy(episode.task)
    while True:
        reply = await policy.act(episode.messages, episode.tools)
        if len(episode.grades) == turn and (reply.tool_calls or not episode.task.turns[turn].calls):
            return list(episode.messages)
        await episode.step(reply)


async def call_in_turn(episode: Episode, turn: int, name: str, arguments: dict[str, Any]) -> str:
    """One call the model made in turn `turn`, executed for real; the text of its result (or of the refusal)."""
    if episode.done or len(episode.grades) > turn:
        return "error: this turn is over; no more calls are taken"
    messages = await episode.step(ChatReply(content="", tool_calls=[{"name": name, "arguments": arguments}]))
    return messages[0]["content"]


async def score_turn(episode: Episode, turn: int) -> float:
    """Our reward for turn `turn` as the episode stands (an open turn is ended as answered)."""
    if not episode.done and len(episode.grades) == turn:
        await episode.step(ChatReply(content=ANSWERED))
    return episode_reward(episode, [turn]).total


async def _serve(episode: Episode, requests: MemoryObjectReceiveStream[tuple[Work, Future[Any]]]) -> None:
    async with requests:
        async for work, answer in requests:
            if not answer.set_running_or_notify_cancel():
                continue  # the caller stopped waiting (its task was cancelled)
            try:
                answer.set_result(await work(episode))
            except Exception as error:
                answer.set_exception(error)


def _connect(task: Task, url: str | None) -> Connection:
    if url is None:
        return ServerTarget.from_record(task.env, task.scenario).connect()
    return _ServiceConnection(url, task)


class _ServiceConnection(Connection):
    """A sandbox of `funreason serve --transport http`: created at each reset, deleted at close.

    The simulator's HTTP connection creates sandboxes of every environment the server serves; a task's sandbox
    must hold exactly the task's environments, so this one names them.
    """

    def __init__(self, base: str, task: Task) -> None:
        super().__init__(ServerTarget(url=base.rstrip("/"), error_text=None))
        self.base = base.rstrip("/")
        self.body: dict[str, Any] = {"env": task.env.split("+"), "scenario": task.scenario}
        self._http = httpx2.AsyncClient(timeout=60)
        self._sandbox_id: str | None = None
        self._watch_leaks = False  # a sandbox of our own service is fresh by construction: no leak probes

    async def _restart(self, seed: int) -> None:
        await self._delete()
        try:
            response = await self._http.post(f"{self.base}/sandboxes", json=self.body | {"seed": seed})
        except httpx2.TransportError as error:
            raise RolloutError(f"cannot reach {self.base}: {error}") from error
        if response.status_code != 201:
            raise RolloutError(f"{self.base}/sandboxes answered {response.status_code}: {response.text[:200]}")
        created = response.json()
        self._sandbox_id = created["id"]
        await self._open_client(self.base + created["mcp"])

    async def state(self) -> dict[str, Any] | None:
        response = await self._http.get(f"{self.base}/sandboxes/{self._sandbox_id}/state")
        return response.json() if response.status_code == 200 else None

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await super().__aexit__(*exc_info)
            await self._delete()
        finally:
            await self._http.aclose()

    async def _delete(self) -> None:
        if self._sandbox_id is not None:
            sandbox_id, self._sandbox_id = self._sandbox_id, None
            await self._http.delete(f"{self.base}/sandboxes/{sandbox_id}")


def _shared_portal() -> BlockingPortal:
    """The background event loop every rollout's connection lives in (a daemon thread: it never blocks exit)."""
    global _portal
    with _portal_lock:
        if _portal is None:
            started: Queue[BlockingPortal] = Queue()
            threading.Thread(target=anyio.run, args=(_host, started), name="funreason-rollouts", daemon=True).start()
            _portal = started.get()
        return _portal


def _opening() -> anyio.Semaphore:
    global _open_limit
    if _open_limit is None:  # made in the portal's loop, the only one that uses it
        _open_limit = anyio.Semaphore(OPENING_AT_ONCE)
    return _open_limit


async def _host(started: Queue[BlockingPortal]) -> None:
    async with BlockingPortal() as portal:
        started.put(portal)
        await portal.sleep_until_stopped()
