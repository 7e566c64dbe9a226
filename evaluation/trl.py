"""TRL: `GRPOTrainer(environment_factory=SandboxToolEnv)` rollouts in our sandboxes, and a reward function.

Read against TRL 1.16.0 (`trl/trainer/grpo_trainer.py`) and transformers 5.25.0 (`get_json_schema`):

* the trainer calls the factory with no arguments, lists the class's public functions (`inspect.getmembers`
  on the type) as tools, except `reset` and `get_reward`, and renders each with transformers'
  `get_json_schema` (type hints plus a Google-style docstring with `Args:`);
* per rollout it calls `reset(**row)` with every dataset column and appends the string it returns to the last
  prompt message, calls a tool as `method(**arguments)` and puts `str(result)` in a tool message, and scores
  with `get_reward()` once the model stops calling tools; reward functions get `prompts`, `completions` and
  every column as keyword arguments (async ones are awaited on the trainer's loop).

TRL's tool loop has no next user turn, so a dataset row is one user turn (`funreason export --format trl`):
the prompt holds the dialogue so far (the ground truth of earlier turns, played for real) and the turn's
request; `reset` opens a sandbox of the task and plays that prompt's assistant messages in it, so the
rollout starts in exactly the state its turn starts from.  The tools are generated per environment from the
task's MCP schemas (`for_tasks`, `factories`); the plain class carries every built-in environment's tools.
"""

import inspect
from collections.abc import Iterable
from typing import Any, ClassVar, Literal, Union

import anyio

from evaluation.errors import RolloutError
from evaluation.rewards import parse_task, run_blocking, score_rollout_async
from evaluation.rollout import RolloutSandbox, call_in_turn, score_turn
from evaluation.tasks import Task
from servers import environment_names
from simulator import ServerTarget
from synthesizer.chain import openai_tool

__all__ = ["SandboxToolEnv", "trl_reward", "trl_reward_async"]

_TYPES: dict[str, Any] = {"string": str, "number": float, "integer": int, "boolean": bool, "object": dict}


class SandboxToolEnv:
    """One rollout of one dataset row in a sandbox of its own; the task's tools are this class's methods.

    `environment_factory=SandboxToolEnv` offers every built-in environment's tools; `SandboxToolEnv.for_tasks(
    tasks)` a class with exactly those tasks' tools, and `SandboxToolEnv.factories(tasks)` one such class per
    environment (TRL's dict form; rows then carry an `environment` column, as the export writes it).
    `url` (a class attribute, or `url=` to both) runs the sandboxes on `funreason serve --transport http`.
    """

    url: ClassVar[str | None] = None
    tools: ClassVar[list[dict[str, Any]]] = []
    """The OpenAI-format schemas the tool methods were generated from."""

    def __init__(self) -> None:
        if type(self) is SandboxToolEnv and not SandboxToolEnv.tools:
            _attach_tools(SandboxToolEnv, run_blocking(_builtin_tools))
        self._rollout: RolloutSandbox | None = None
        self._turn = 0

    def reset(self, **row: Any) -> str:
        """Open the row's sandbox at the start of its turn; returns the turn's request unless the prompt has it."""
        self._close()
        task = parse_task(row["task"])
        self._turn = int(row.get("turn") or 0)
        prompt = list(row.get("prompt") or [])
        if not 0 <= self._turn < len(task.turns):
            raise RolloutError(f"task {task.id} has no turn {self._turn}")
        self._rollout = RolloutSandbox(task, url=type(self).url, prefix=prompt)
        query = task.turns[self._turn].query
        users = [message.get("content") for message in prompt if message.get("role") == "user"]
        return "" if query in users else query

    def get_reward(self) -> float:
        """Our reward for the row's turn (`evaluation.rewards`); the sandbox is deleted after."""
        if self._rollout is None:
            return 0.0
        try:
            turn = self._turn
            return self._rollout.run(lambda episode: score_turn(episode, turn))
        finally:
            self._close()

    @classmethod
    def for_tasks(cls, tasks: Iterable[Task | dict[str, Any] | str], *, url: str | None = None) -> type:
        """A class whose methods are exactly the tools of `tasks` (their shown and withheld tools)."""
        tools: dict[str, dict[str, Any]] = {}
        for task in map(parse_task, tasks):
            for tool in [*task.tools, *task.extra_tools]:
                name = tool["function"]["name"]
                if tools.setdefault(name, tool) != tool:
                    raise RolloutError(f"tool {name!r} has two different schemas among these tasks")
        if not tools:
            raise RolloutError("no tasks given, so no tools to offer")
        generated = type(cls.__name__, (cls,), {"url": url or cls.url, "__doc__": cls.__doc__})
        _attach_tools(generated, list(tools.values()))
        return generated

    @classmethod
    def factories(cls, tasks: Iterable[Task | dict[str, Any] | str], *, url: str | None = None) -> dict[str, type]:
        """`{environment: class}` for `environment_factory=`, one class per environment of `tasks`."""
        by_env: dict[str, list[Task]] = {}
        for task in map(parse_task, tasks):
            by_env.setdefault(task.env, []).append(task)
        return {env: cls.for_tasks(group, url=url) for env, group in sorted(by_env.items())}

    def _call(self, name: str, arguments: dict[str, Any]) -> str:
        if self._rollout is None:
            return "error: no rollout in progress (reset() first)"
        return self._rollout.run(lambda episode: call_in_turn(episode, self._turn, name, arguments))

    def _close(self) -> None:
        if self._rollout is not None:
            rollout, self._rollout = self._rollout, None
            rollout.close()


def trl_reward(prompts: list[Any], completions: list[Any], task: list[Any], **kwargs: Any) -> list[float]:
    """A reward function with GRPOTrainer's signature; the dataset needs a `task` column, optionally `turn`.

    Every prompt + completion is played again in a fresh sandbox of its task (its own tool results are not
    trusted) and scored on its row's turn (all turns without a `turn` column). Prompts and completions may be
    conversational (message lists; calls native or as `<tool_call>` text) or strings: a string prompt is the
    user's words, a string completion the assistant's. Safe to call inside a running event loop.
    """
    return run_blocking(trl_reward_async, prompts, completions, task, kwargs.get("turn"))


async def trl_reward_async(
    prompts: list[Any], completions: list[Any], task: list[Any], turn: list[Any] | None = None, **kwargs: Any
) -> list[float]:
    """`trl_reward` as a coroutine function (TRL awaits it on its own event loop)."""
    turns = turn if turn is not None else [None] * len(prompts)
    rewards: list[float] = [0.0] * len(prompts)

    async def score(index: int) -> None:
        messages = _as_messages(prompts[index], "user") + _as_messages(completions[index], "assistant")
        chosen = None if turns[index] is None else [int(turns[index])]
        rewards[index] = (await score_rollout_async(parse_task(task[index]), messages, None, chosen)).total

    async with anyio.create_task_group() as group:
        for index in range(len(prompts)):
            group.start_soon(score, index)
    return rewards


def _as_messages(value: Any, role: str) -> list[dict[str, Any]]:
    return list(value) if isinstance(value, list) else [{"role": role, "content": str(value)}]


def _attach_tools(cls: type, tools: list[dict[str, Any]]) -> None:
    for tool in tools:
        setattr(cls, tool["function"]["name"], _tool_method(tool))
    cls.tools = list(tools)  # type: ignore[attr-defined]


def _tool_method(tool: dict[str, Any]) -> Any:
    """A method TRL lists as this tool: its name, a typed keyword-only signature and a Google-style docstring."""
    function = tool["function"]
    name = function["name"]
    schema = function.get("parameters") or {}
    properties: dict[str, Any] = schema.get("properties") or {}
    required = set(schema.get("required") or [])

    def method(self: SandboxToolEnv, **arguments: Any) -> str:
        return self._call(name, arguments)

    hints = {parameter: _hint(spec) for parameter, spec in properties.items()}
    try:
        parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)] + [
            inspect.Parameter(
                parameter,
                inspect.Parameter.KEYWORD_ONLY,
                default=inspect.Parameter.empty if parameter in required else spec.get("default"),
                annotation=hints[parameter],
            )
            for parameter, spec in properties.items()
        ]
    except ValueError as error:
        raise RolloutError(f"tool {name!r} cannot be a Python method for TRL: {error}") from error
    method.__signature__ = inspect.Signature(parameters, return_annotation=str)  # type: ignore[attr-defined]
    method.__annotations__ = hints
    method.__name__ = method.__qualname__ = name
    method.__doc__ = _docstring(function.get("description") or name, properties)
    return method


def _hint(spec: dict[str, Any]) -> Any:
    """The type hint get_json_schema turns back into this JSON schema's type, enum and items."""
    options = spec.get("anyOf")
    if options:
        hints = [_hint(option) for option in options if option.get("type") != "null"]
        nullable = any(option.get("type") == "null" for option in options)
        return Union[tuple(hints + [type(None)] * nullable)] if len(hints) + nullable > 1 else hints[0]  # noqa: UP007
    if "enum" in spec:
        return Literal[tuple(spec["enum"])]
    kind = spec.get("type")
    if isinstance(kind, list):
        return Union[tuple(_hint({**spec, "type": each}) for each in kind)]  # noqa: UP007
    if kind == "array":
        return list[_hint(spec["items"])] if "items" in spec else list
    if kind == "null":
        return type(None)
    return _TYPES.get(kind, Any)


def _docstring(description: str, properties: dict[str, Any]) -> str:
    lines = [description.strip()]
    if properties:
        lines += ["", "Args:"]
        for parameter, spec in properties.items():
            text = " ".join(str(spec.get("description") or parameter).split())
            lines.append(f"    {parameter}: {text}")
    return "\n".join(lines)


async def _builtin_tools() -> list[dict[str, Any]]:
    tools = []
    for env in environment_names():
        async with ServerTarget(envs=(env,)).connect() as connection:
            tools += [openai_tool(tool) for tool in connection.tools]
    return tools
