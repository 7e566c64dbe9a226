"""A Gymnasium environment over a sandbox: observations and actions are chat messages, the reward comes at the end.

Spaces (both `MessageSpace`):

* action: one OpenAI-format assistant message, `{"role": "assistant", "content": str}` with optional
  `tool_calls` (native) or `<tool_call>{"name": ..., "arguments": ...}</tool_call>` blocks in `content`;
* observation: `{"messages": [...], "tools": [...]}`: what came back (tool results, or the user's next words;
  [] at the end) and the OpenAI-format tools offered now.

The episode ends (`terminated`) when the last turn is graded; `max_steps` assistant messages without getting
there truncate it (`truncated`). Either way the reward, `evaluation.rewards`' for the turns played, is paid
on that step (0 before) with its parts in `info["reward_parts"]`.

    env = SandboxEnv(tasks)
    observation, info = env.reset(options={"task": tasks[0]})   # first user message and the tools
    observation, reward, terminated, truncated, info = env.step({"role": "assistant", "tool_calls": [...]})

`fork()` gives a second environment that continues from exactly this point (same state, same random
stream, same dialogue), for group rollouts from one mid-dialogue state.
"""

import copy
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

import anyio
import gymnasium
from anyio.from_thread import start_blocking_portal
from anyio.streams.memory import MemoryObjectReceiveStream

from evaluation.episode import Episode, reply_from_message
from evaluation.errors import RolloutError
from evaluation.pool import ConnectionPool
from evaluation.rewards import episode_reward
from evaluation.tasks import Task

__all__ = ["MessageSpace", "SandboxEnv"]


class MessageSpace(gymnasium.spaces.Space[dict[str, Any]]):
    """Chat messages as a space: a message (a dict with a `role`) or an observation (a dict with `messages`)."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(shape=None, dtype=None, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, dict) and ("role" in x or "messages" in x)

    def sample(self, mask: Any = None, probability: Any = None) -> dict[str, Any]:
        """An assistant message that answers in words (a random policy has nothing better to say)."""
        return {"role": "assistant", "content": f"Reply {int(self.np_random.integers(1_000_000))}."}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MessageSpace)

    def __hash__(self) -> int:
        return hash(MessageSpace)


class SandboxEnv(gymnasium.Env[dict[str, Any], dict[str, Any]]):
    """One task at a time in a fresh sandbox; tools run in-process through MCP on a private event loop."""

    metadata = {"render_modes": []}

    def __init__(self, tasks: list[Task] | None = None, *, max_steps: int | None = None) -> None:
        self.tasks = list(tasks or [])
        self.max_steps = max_steps
        self._steps = 0
        self.observation_space = MessageSpace()
        self.action_space = MessageSpace()
        self.episode: Episode | None = None
        self._portal_context = start_blocking_portal()
        self._portal = self._portal_context.__enter__()
        self._requests, receive = anyio.create_memory_object_stream[tuple[Any, ...]]()
        self._owner = self._portal.start_task_soon(self._own_connections, receive)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start a task: `options={"task": task}`, else one of `tasks` drawn with the env's seeded generator."""
        super().reset(seed=seed)
        task = (options or {}).get("task")
        if task is None:
            if not self.tasks:
                raise RolloutError("reset() needs options={'task': task} or an env made with tasks")
            task = self.tasks[int(self.np_random.integers(len(self.tasks)))]
        connection = self._run(functools.partial(_connect, task=task))
        self.episode = Episode(task, connection)
        self._steps = 0
        messages = self._run(lambda pool: self.episode.start())
        return {"messages": messages, "tools": list(self.episode.tools)}, {"task_id": task.id}

    def step(self, action: dict[str, Any]) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Execute the assistant message's calls (or take its answer); the reward is paid when the dialogue ends."""
        if self.episode is None:
            raise RolloutError("call reset() before step()")
        episode, reply = self.episode, reply_from_message(action)
        messages = self._run(lambda pool: episode.step(reply))
        self._steps += 1
        done = self.episode.done
        truncated = not done and self.max_steps is not None and self._steps >= self.max_steps
        reward = episode_reward(self.episode) if done or truncated else None
        info: dict[str, Any] = {"grades": [grade.to_json() for grade in self.episode.grades]}
        if reward is not None:
            info["reward_parts"] = reward.to_json()
        observation = {"messages": messages, "tools": list(self.episode.tools)}
        return observation, reward.total if reward is not None else 0.0, done, truncated, info

    def fork(self) -> "SandboxEnv":
        """A new environment at exactly this point: the sandbox forked (state, random stream), the dialogue copied."""
        if self.episode is None:
            raise RolloutError("nothing to fork before reset()")
        twin = SandboxEnv(self.tasks)
        task = self.episode.task
        connection = twin._run(functools.partial(_connect, task=task))
        source = getattr(self.episode.connection, "sandbox", None)
        if source is None:
            twin.close()
            raise RolloutError("only in-process sandboxes fork here; over HTTP use POST /sandboxes/{id}/fork")
        connection.sandbox = source.fork()  # type: ignore[attr-defined]
        twin.episode = copy.copy(self.episode)
        twin.episode.connection = connection
        for name in ("messages", "tools", "evidence", "grades"):
            setattr(twin.episode, name, copy.deepcopy(getattr(self.episode, name)))
        return twin

    def close(self) -> None:
        if self._owner is not None:
            self._portal.call(self._requests.aclose)
            self._owner.result()
            self._portal_context.__exit__(None, None, None)
            self._owner = None  # type: ignore[assignment]

    def _run(self, work: Callable[[ConnectionPool], Awaitable[Any]]) -> Any:
        """Run `work(pool)` in the task owning the connections (an MCP client must close in the task it opened in)."""
        answer: Future[Any] = Future()
        self._portal.call(self._requests.send, (work, answer))
        return answer.result()

    async def _own_connections(self, requests: MemoryObjectReceiveStream[tuple[Any, ...]]) -> None:
        async with ConnectionPool() as pool, requests:
            async for work, answer in requests:
                try:
                    answer.set_result(await work(pool))
                except Exception as error:
                    answer.set_exception(error)


async def _connect(pool: ConnectionPool, task: Task) -> Any:
    return await pool.get(task.env, task.scenario)
