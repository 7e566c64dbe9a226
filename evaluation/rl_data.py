"""Datasets for RL trainers: one row per user turn (TRL JSONL, verl parquet plus its tool config and task file).

A trainer's tool loop has no next user turn, so each turn of a task is a row of its own: the prompt is the
dialogue so far (the ground truth of the earlier turns, played for real, then the turn's request and, for the
variants, the follow-up or the withheld tool's announcement), and the row names its task and turn so that
the adapters (`evaluation.trl.SandboxToolEnv`, `evaluation.verl.SandboxTool`) start the rollout's sandbox in
exactly the state the turn starts from.
"""

import json
from pathlib import Path
from typing import Any

import anyio

from evaluation.episode import Episode
from evaluation.pool import ConnectionPool
from evaluation.rollout import play_to_turn
from evaluation.runner import SYSTEM_PROMPT
from evaluation.tasks import Task, write_tasks

__all__ = ["RL_FORMATS", "tool_parameters", "turn_prompts", "write_trl", "write_verl"]

RL_FORMATS = ("trl", "verl")


def turn_prompts(tasks: list[Task]) -> list[tuple[Task, int, list[dict[str, Any]]]]:
    """(task, turn, prompt messages) for every turn of every task, in order; the system prompt first."""
    return anyio.run(_turn_prompts, tasks)


def write_trl(tasks: list[Task], out: Path) -> int:
    """TRL rows as JSONL: `prompt` (messages), `task` (its JSON text), `turn`, `environment`; returns the count."""
    count = 0
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with Path(out).open("w", encoding="utf-8") as handle:
        for task, turn, prompt in turn_prompts(tasks):
            row = {"prompt": prompt, "task": json.dumps(task.to_json()), "turn": turn, "environment": task.env}
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_verl(tasks: list[Task], out: Path) -> int:
    """verl's RL parquet at `out`, its tool config at `<out>.tools.yaml` and the tasks at `<out>.tasks.jsonl`.

    Tool-call arguments in prompts are JSON strings: Arrow merges the keys of every argument object into one
    struct, so objects would come back with every other call's keys set to null.
    """
    import pyarrow
    import pyarrow.parquet

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tasks_file = out.with_name(out.stem + ".tasks.jsonl")
    write_tasks(tasks, tasks_file)
    rows = []
    for index, (task, turn, prompt) in enumerate(turn_prompts(tasks)):
        offered = _offered(task, turn, prompt)
        create = {"create_kwargs": {"task_id": task.id, "turn": turn}}
        rows.append(
            {
                "data_source": f"funreason/{task.env}",
                "prompt": [_with_string_arguments(message) for message in prompt],
                "ability": "tool_use",
                "reward_model": {"style": "rule", "ground_truth": json.dumps(task.to_json())},
                "agent_name": "tool_agent",
                "extra_info": {
                    "index": index,
                    "task_id": task.id,
                    "turn": turn,
                    "need_tools_kwargs": True,
                    "tool_selection": offered,
                    "tools_kwargs": {name: create for name in offered},
                },
            }
        )
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(rows), out)
    _write_tool_config(tasks, out.with_name(out.stem + ".tools.yaml"), tasks_file)
    return len(rows)


def tool_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """An MCP input schema as verl's `OpenAIFunctionParametersSchema` takes it: each property a `type`."""
    properties = {}
    for name, spec in (parameters.get("properties") or {}).items():
        plain = next((o for o in spec.get("anyOf", []) if o.get("type") != "null"), spec)
        kept = {key: plain[key] for key in ("type", "enum", "items") if key in plain}
        properties[name] = {"type": kept.pop("type", "string"), "description": spec.get("description", name), **kept}
    return {"type": "object", "properties": properties, "required": list(parameters.get("required") or [])}


async def _turn_prompts(tasks: list[Task]) -> list[tuple[Task, int, list[dict[str, Any]]]]:
    rows = []
    async with ConnectionPool() as pool:
        for task in tasks:
            for turn in range(len(task.turns)):
                episode = Episode(task, await pool.get(task.env, task.scenario))
                await episode.start()
                messages = await play_to_turn(episode, turn)
                rows.append((task, turn, [{"role": "system", "content": SYSTEM_PROMPT}, *messages]))
    return rows


def _offered(task: Task, turn: int, prompt: list[dict[str, Any]]) -> list[str]:
    """The tools shown at the turn: the task's, plus a withheld one once the prompt has announced it."""
    names = [tool["function"]["name"] for tool in task.tools]
    withheld = [t.withheld for t in task.turns[: turn + 1] if t.withheld]
    announced = [name for name in withheld if any(name in (m.get("content") or "") for m in prompt)]
    return names + [name for name in announced if name not in names]


def _with_string_arguments(message: dict[str, Any]) -> dict[str, Any]:
    if not message.get("tool_calls"):
        return message
    calls = []
    for call in message["tool_calls"]:
        arguments = call["function"]["arguments"]
        text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
        calls.append({**call, "function": {**call["function"], "arguments": text}})
    return {**message, "tool_calls": calls}


def _write_tool_config(tasks: list[Task], path: Path, tasks_file: Path) -> None:
    """verl's tool config (JSON, which YAML reads as it is): one `SandboxTool` entry per tool of the tasks."""
    tools: dict[str, dict[str, Any]] = {}
    for task in tasks:
        for tool in [*task.tools, *task.extra_tools]:
            tools.setdefault(tool["function"]["name"], tool)
    entries = [
        {
            "class_name": "evaluation.verl.SandboxTool",
            "config": {"type": "native", "tasks": str(tasks_file.resolve()), "idle_timeout_s": 600},
            "tool_schema": {
                "type": "function",
                "function": {
                    "name": name,
                    "description": tool["function"].get("description") or name,
                    "parameters": tool_parameters(tool["function"].get("parameters") or {}),
                },
            },
        }
        for name, tool in tools.items()
    ]
    text = "# verl tool config (actor_rollout_ref.rollout.multi_turn.tool_config_path); add `url:` to each\n"
    text += "# config to run the sandboxes on `funreason serve --transport http`.\n"
    path.write_text(text + json.dumps({"tools": entries}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
