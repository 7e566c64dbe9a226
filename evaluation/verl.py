"""verl: `SandboxTool`, a tool in the shape of verl's `BaseTool` that runs each rollout in its own sandbox, and
`compute_score`, verl's custom reward function, crediting each turn's calls to that turn.

Read against verl 0.9.1 (`verl/tools/base_tool.py`, `verl/tools/tool_registry.py`,
`verl/experimental/agent_loop/tool_agent_loop.py`, `verl/experimental/reward_loop/reward_manager/naive.py`):

* the tool config YAML lists one entry per tool (`class_name`, `config` with `type: native`, `tool_schema`),
  and verl builds one instance per entry, `cls(config=..., tool_schema=OpenAIFunctionToolSchema)`, that
  serves every rollout of its worker;
* `ToolAgentLoop` brackets every single call: `create(create_kwargs=row's tools_kwargs[name]
  ["create_kwargs"])`, `execute(instance_id, arguments, agent_data=...)`, `release(instance_id)`; the
  rollout is `agent_data.request_id`, so that is what a sandbox belongs to here. Callers that create one
  instance per rollout (`create(instance_id=request_id)` ... `release(request_id)`) get the same;
* the reward manager calls `compute_score(data_source=, solution_str=, ground_truth=, extra_info=)` with the
  decoded response (special tokens skipped) and `reward_model.ground_truth` of the row.

All instances in a process share the rollouts' sandboxes (every tool of a rollout acts on the same one). verl
0.9.1 never tells a tool that a rollout ended, so a rollout's sandbox is deleted by `finish(request_id)`, or
once it has been idle `idle_timeout_s` (config; default 600) when the next rollout starts; over HTTP the
server's own `--idle-timeout` is the backstop.
"""

import asyncio
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from uuid import uuid4

from evaluation.errors import RolloutError
from evaluation.rewards import parse_task, run_blocking, score_rollout_async
from evaluation.rollout import RolloutSandbox, call_in_turn, play_to_turn, score_turn
from evaluation.tasks import Task, load_tasks

__all__ = ["SandboxTool", "compute_score"]

_ROLE_LINE = re.compile(r"\s*(system|user|assistant|tool)\s*")
_TASKS: dict[str, dict[str, Task]] = {}
_TASKS_LOCK = threading.Lock()
_TOOL_RESPONSE = re.compile(r"<tool_response>.*?</tool_response>", re.DOTALL)


@dataclass
class _Rollout:
    sandbox: RolloutSandbox
    turn: int
    last_used: float = field(default_factory=time.monotonic)


@dataclass
class _ToolResponse:
    """verl's `ToolResponse` fields (used when verl itself is not installed, as in our tests)."""

    text: str | None = None
    image: Any = None
    video: Any = None


class SandboxTool:
    """One of a task's tools for verl; `config`: `tasks` (the task file the export wrote), optional `url` (the
    base of `funreason serve --transport http`) and `idle_timeout_s`. A row's `create_kwargs` name its task
    and turn: `{"task_id": ..., "turn": ...}`."""

    _rollouts: ClassVar[dict[str, _Rollout]] = {}

    def __init__(self, config: dict[str, Any], tool_schema: Any = None) -> None:
        self.config = dict(config or {})
        self.tool_schema = tool_schema
        function = tool_schema.get("function") if isinstance(tool_schema, dict) else tool_schema.function
        self.name: str = function["name"] if isinstance(function, dict) else function.name
        self.url: str | None = self.config.get("url")
        self.idle_timeout_s = float(self.config.get("idle_timeout_s", 600))
        self._instances: dict[str, dict[str, Any]] = {}

    def get_openai_tool_schema(self) -> Any:
        return self.tool_schema

    async def create(self, instance_id: str | None = None, **kwargs: Any) -> tuple[str, Any]:
        """Note the row's task and turn for this instance; a caller's own `instance_id` opens its sandbox now."""
        spec = dict(kwargs.get("create_kwargs") or {k: v for k, v in kwargs.items() if k in ("task_id", "turn")})
        if "task_id" not in spec:
            raise RolloutError(f"{self.name}: create_kwargs need the row's task_id (export with --format verl)")
        new_id = instance_id or uuid4().hex
        self._instances[new_id] = spec
        if instance_id is not None:
            await self._rollout(instance_id, spec)
        return new_id, _response("")

    async def execute(
        self, instance_id: str, parameters: dict[str, Any], **kwargs: Any
    ) -> tuple[Any, float, dict[str, Any]]:
        """Run the call in the rollout's own sandbox; returns (response, step reward 0, metrics)."""
        agent_data = kwargs.get("agent_data")
        key = getattr(agent_data, "request_id", None) or instance_id
        spec = self._instances.get(instance_id)
        if spec is None:
            raise RolloutError(f"{self.name}: no instance {instance_id!r} (create it first)")
        rollout = await self._rollout(key, spec)
        text = await rollout.sandbox.arun(lambda episode: call_in_turn(episode, rollout.turn, self.name, parameters))
        rollout.last_used = time.monotonic()
        return _response(text), 0.0, {"is_error": text.startswith("error")}

    async def calc_reward(self, instance_id: str, **kwargs: Any) -> float:
        """The reward the rollout's turn has earned so far in its sandbox (the turn taken as answered)."""
        rollout = type(self)._rollouts.get(instance_id)
        if rollout is None:
            return 0.0
        return await rollout.sandbox.arun(lambda episode: score_turn(episode, rollout.turn))

    async def release(self, instance_id: str, **kwargs: Any) -> None:
        """Forget a call's instance; a rollout's own id deletes its sandbox."""
        self._instances.pop(instance_id, None)
        await self.finish(instance_id)

    async def finish(self, request_id: str) -> None:
        """Delete the sandbox of rollout `request_id` (nothing if there is none)."""
        rollout = type(self)._rollouts.pop(request_id, None)
        if rollout is not None:
            await rollout.sandbox.aclose()

    async def _rollout(self, key: str, spec: dict[str, Any]) -> _Rollout:
        """The rollout's sandbox, opened on its first call; parallel calls of one message share the one opening."""
        rollouts = type(self)._rollouts
        if key not in rollouts:
            task = await self._task(str(spec["task_id"]))
            if key not in rollouts:  # another call of the same message may have opened it meanwhile
                turn = int(spec.get("turn") or 0)
                rollouts[key] = _Rollout(RolloutSandbox(task, url=self.url, turn=turn, wait=False), turn)
                await self._expire()
        rollout = rollouts[key]
        await rollout.sandbox.opened()
        rollout.last_used = time.monotonic()
        return rollout

    async def _expire(self) -> None:
        cutoff = time.monotonic() - self.idle_timeout_s
        for key in [key for key, rollout in type(self)._rollouts.items() if rollout.last_used < cutoff]:
            await self.finish(key)

    async def _task(self, task_id: str) -> Task:
        path = self.config.get("tasks")
        if not path:
            raise RolloutError(f"{self.name}: the tool config needs `tasks:` (the task file the export wrote)")
        tasks = await asyncio.to_thread(_tasks_in, str(path))  # loading replays the ground truth: off verl's loop
        try:
            return tasks[task_id]
        except KeyError:
            raise RolloutError(f"{self.name}: task {task_id!r} is not in {path}") from None


def _tasks_in(path: str) -> dict[str, Task]:
    """The tasks of a task file by id, loaded once per process however many rollouts ask at once."""
    with _TASKS_LOCK:
        if path not in _TASKS:
            _TASKS[path] = {task.id: task for task in load_tasks(tasks_file=Path(path))}
        return _TASKS[path]


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: str | dict[str, Any],
    extra_info: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """verl's custom reward function (`custom_reward_function.path`: this file, `name: compute_score`).

    `ground_truth` is the task (a dict or its JSON text); `extra_info["turn"]` the row's turn (none: the
    whole dialogue, its later turns found by their requests in the response). The response's calls
    (`<tool_call>` blocks; text between `<tool_response>` blocks is a new assistant message) are played again
    after the ground truth of the earlier turns, and each is credited to the turn it was made in. Where
    `extra_info["turn_scores"]` holds per-turn scores, `score` is their mean over the scored turns; the
    parts are still the replay's. Returns verl's dict form: `score` and every part.
    """
    return run_blocking(compute_score_async, data_source, solution_str, ground_truth, extra_info)


async def compute_score_async(
    data_source: str,
    solution_str: str,
    ground_truth: str | dict[str, Any],
    extra_info: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """`compute_score` as a coroutine function (verl's reward loop awaits those)."""
    task, info = parse_task(ground_truth), dict(extra_info or {})
    turn = info.get("turn")
    start = int(turn) if turn is not None else 0
    prefix = await _ground_truth_prefix(task, start) if turn is not None else []
    later = [t.query for t in task.turns[start + 1 :]] if turn is None else []
    messages = prefix + response_messages(solution_str, later)
    turns = [start] if turn is not None else list(range(len(task.turns)))
    reward = await score_rollout_async(task, messages, None, turns)
    score = reward.total
    turn_scores = list(info.get("turn_scores") or [])
    if turn_scores:
        score = sum(float(value) for value in turn_scores[: len(turns)]) / len(turns)
    return {"score": score, **reward.parts()}


def response_messages(text: str, later_queries: list[str] | None = None) -> list[dict[str, Any]]:
    """A decoded response as the assistant's messages: a new one after each tool response or other role's words.

    A tool response is `<tool_response>...</tool_response>` (the Hermes format verl's `hermes` tool parser
    reads); skipping special tokens leaves each message's role on a line of its own (`user`, `assistant`),
    which says whose words follow. The later users' requests are cut out wherever they stand.
    """
    for query in later_queries or []:
        text = text.replace(query, "\nuser\n")
    messages: list[dict[str, Any]] = []
    role, lines = "assistant", []
    for line in _TOOL_RESPONSE.sub("\n\x00\n", text).splitlines():
        switch = _ROLE_LINE.fullmatch(line)
        if switch is None and line != "\x00":
            lines.append(line)
            continue
        content = "\n".join(lines).strip()
        if content and role == "assistant":
            messages.append({"role": "assistant", "content": content})
        role, lines = (switch.group(1) if switch else "assistant"), []
    content = "\n".join(lines).strip()
    if content and role == "assistant":
        messages.append({"role": "assistant", "content": content})
    return messages


async def _ground_truth_prefix(task: Task, turn: int) -> list[dict[str, Any]]:
    sandbox = RolloutSandbox(task, wait=False)
    try:
        await sandbox.opened()
        return await sandbox.arun(lambda episode: play_to_turn(episode, turn))
    finally:
        await sandbox.aclose()


def _response(text: str) -> Any:
    try:
        from verl.tools.schemas import ToolResponse
    except ImportError:
        return _ToolResponse(text=text)
    return ToolResponse(text=text)
