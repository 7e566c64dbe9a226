"""Evaluation tasks: any verified sample (from a store or an exported openai.jsonl) as user turns plus ground truth.

A task keeps what a model is shown (the tools, each user turn, the follow-up a user gives
when asked, the announcement of a withheld tool) and what its answer is graded against:
per turn the ground-truth calls, the state hash they reach and the results the user asked for.
The state hashes are recomputed by replaying the ground truth in a fresh sandbox, so a task
file is checked against the environments as they are now.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio

from evaluation.errors import TaskError
from evaluation.pool import ConnectionPool
from servers import hash_state
from simulator import Connection, Store
from synthesizer import Dialogue, Sample, SampleStore, Variant
from synthesizer.jsonl import json_objects

__all__ = ["Task", "TaskTurn", "load_tasks", "split_tasks", "start_task", "task_from_sample", "write_tasks"]

_ANNOUNCEMENT = "A new tool is available: "


@dataclass
class TaskTurn:
    """One user turn: what the user says and what a correct answer reaches."""

    query: str
    variant: str = "plain"
    calls: list[dict[str, Any]] = field(default_factory=list)
    """Ground truth, `{"tool", "arguments", "result"}` each; another path to the same state passes too."""
    target: str | None = None
    """The tool of the turn's goal call; its result is what the user asked for."""
    state_hash: str | None = None
    """The sandbox state hash after the ground truth of this turn and every earlier one."""
    follow_up: str | None = None
    """missing_parameter: the user's answer, given only once the model asks."""
    withheld: str | None = None
    """missing_tool: the tool offered only after the model says it cannot act."""
    announcement: list[dict[str, Any]] = field(default_factory=list)
    """missing_tool: the messages (system, then user) that offer the withheld tool."""

    @property
    def expected_results(self) -> list[Any]:
        """The results the user asked for: the target call's (the last one, when it ran twice)."""
        target = self.target or (self.calls[-1]["tool"] if self.calls else None)
        results = [call["result"] for call in self.calls if call["tool"] == target]
        return results[-1:]


@dataclass
class Task:
    """A whole dialogue to evaluate: where it runs (env, scenario, seed), what is shown, the turns."""

    id: str
    env: str
    scenario: str
    seed: int
    tools: list[dict[str, Any]]
    turns: list[TaskTurn]
    extra_tools: list[dict[str, Any]] = field(default_factory=list)
    setup: list[dict[str, Any]] = field(default_factory=list)
    """Calls (`tool`, `arguments`) made, unseen, before the first turn: an earlier part of a recorded session."""

    @property
    def needs_calls(self) -> bool:
        return any(turn.calls for turn in self.turns)

    def extra_tool(self, name: str) -> dict[str, Any]:
        for tool in self.extra_tools:
            if tool["function"]["name"] == name:
                return tool
        raise TaskError(f"task {self.id}: withheld tool {name!r} is not among its extra tools")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Task":
        try:
            turns = [TaskTurn(**turn) for turn in data["turns"]]
            return cls(**{**data, "turns": turns})
        except (KeyError, TypeError) as error:
            raise TaskError(f"task {data.get('id', '?')}: not a task record ({error})") from error


def task_from_sample(sample: Sample) -> Task:
    """A store's sample as a task; state hashes are filled by `load_tasks` (or taken from the sample)."""
    turns = [
        TaskTurn(
            query=turn.request,
            variant=turn.variant or Variant.PLAIN,
            calls=[dict(call) for call in turn.calls],
            target=turn.target,
            state_hash=turn.state_hash,
            follow_up=turn.follow_up if turn.variant is Variant.MISSING_PARAMETER else None,
            withheld=turn.withheld if turn.variant is Variant.MISSING_TOOL else None,
            announcement=turn.announcement,
        )
        for turn in sample.dialogue.turns
    ]
    return Task(
        sample.id, sample.env, sample.scenario, sample.seed, sample.tools, turns, sample.extra_tools, sample.setup
    )


def load_tasks(*, db: Path | None = None, tasks_file: Path | None = None, held_out_only: bool = False) -> list[Task]:
    """Tasks from a store's verified samples, a task JSONL file, or an exported openai.jsonl; ground truth checked.

    `held_out_only` keeps the store's held-out split (`funreason tasks --split`).
    """
    if tasks_file is not None:
        tasks = list(_read_task_file(Path(tasks_file)))
    elif db is not None:
        with Store(db) as store:
            samples = SampleStore(store)
            held_out = samples.held_out_ids() if held_out_only else None
            if held_out_only and not held_out:
                raise TaskError(f"{db}: no held-out split yet; run `funreason tasks --db {db} --split 0.1` first")
            tasks = [
                task_from_sample(sample)
                for sample in samples.iter_samples(verified_only=True)
                if held_out is None or sample.id in held_out
            ]
    else:
        raise TaskError("give a store (--db) or a task file (--tasks)")
    anyio.run(_complete_ground_truth, tasks)
    return tasks


def split_tasks(db: Path, fraction: float, seed: int) -> list[str]:
    """Mark a deterministic share of the store's verified samples as held out; returns their ids."""
    if not 0 < fraction < 1:
        raise TaskError(f"--split must be between 0 and 1, got {fraction}")
    with Store(db) as store:
        samples = SampleStore(store)
        ids = sorted(sample.id for sample in samples.iter_samples(verified_only=True))
        ranked = sorted(ids, key=lambda sample_id: hashlib.sha256(f"{seed}:{sample_id}".encode()).hexdigest())
        held_out = sorted(ranked[: max(1, round(fraction * len(ids)))]) if ids else []
        samples.set_held_out(held_out)
    return held_out


def write_tasks(tasks: Iterable[Task], out: Path) -> int:
    """Tasks as JSONL, one per line; `load_tasks(tasks_file=...)` reads them back."""
    count = 0
    with Path(out).open("w", encoding="utf-8") as handle:
        for task in tasks:
            handle.write(json.dumps(task.to_json(), ensure_ascii=False) + "\n")
            count += 1
    return count


def _read_task_file(path: Path) -> Iterator[Task]:
    for number, record in json_objects(path, TaskError):
        if "turns" in record:
            yield Task.from_json(record)
        elif "messages" in record:
            try:
                yield _task_from_chat(record, f"{path}:{number}")
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                raise TaskError(f"{path}:{number}: not an openai record as funreason exports it ({error!r})") from error
        else:
            raise TaskError(f"{path}:{number}: neither a task (turns) nor an openai record (messages)")


def _task_from_chat(record: dict[str, Any], where: str) -> Task:
    """An exported openai record: each user request a turn, its calls the ground truth (results from replay)."""
    metadata = record.get("metadata") or {}
    missing = [key for key in ("env", "scenario", "seed") if key not in metadata]
    if missing:
        raise TaskError(f"{where}: metadata lacks {', '.join(missing)} (export with funreason export)")
    turns, extra_tools = [], []
    for turn in Dialogue.read(record["messages"]).turns:
        follow_up, announcement = turn.follow_up, turn.announcement
        withheld = None
        if announcement:
            tool = _announced_tool(announcement[0]["content"], where)
            extra_tools.append(tool)
            withheld = tool["function"]["name"]
        calls = [
            {"tool": call["function"]["name"], "arguments": _arguments(call["function"]["arguments"]), "result": None}
            for message in turn.messages
            for call in message.get("tool_calls") or []
        ]
        variant = Variant.MISSING_PARAMETER if follow_up else Variant.MISSING_TOOL if withheld else Variant.PLAIN
        turns.append(TaskTurn(turn.request, variant, calls, None, None, follow_up, withheld, announcement))
    task_id = str(metadata.get("sample_id") or where)
    where_from = (metadata["env"], metadata["scenario"], int(metadata["seed"]))
    return Task(task_id, *where_from, record["tools"], turns, extra_tools, list(metadata.get("setup") or []))


async def start_task(task: Task, connection: Connection) -> None:
    """The sandbox as the task's first turn finds it: its scenario and seed, then its unseen setup calls."""
    await connection.reset(task.seed)
    for call in task.setup:
        step = await connection.call(call["tool"], call["arguments"])
        if step.is_error:
            raise TaskError(f"task {task.id}: its setup call {call['tool']} no longer replays ({step.text[:120]})")


async def _complete_ground_truth(tasks: list[Task]) -> None:
    """Replay each task's ground truth in a fresh sandbox: fill unknown results and the state hash after each turn."""
    async with ConnectionPool() as pool:
        for task in tasks:
            await _replay(task, await pool.get(task.env, task.scenario))


async def _replay(task: Task, connection: Connection) -> None:
    await start_task(task, connection)
    for number, turn in enumerate(task.turns, 1):
        kept = []
        for call in turn.calls:
            step = await connection.call(call["tool"], call["arguments"])
            if step.is_error and call.get("result") is None:
                turn.variant = Variant.ERROR_RECOVERY if turn.variant == Variant.PLAIN else turn.variant
                continue  # a call that failed in the dialogue is the mistake recovered from, not ground truth
            if step.is_error or (call.get("result") is not None and step.result != call["result"]):
                raise TaskError(f"task {task.id}, turn {number}: the ground truth's {call['tool']} does not replay")
            kept.append({**call, "result": step.result})
        turn.calls = kept
        state = await connection.state() if connection.fresh_state else None
        replayed = hash_state(state) if state is not None else None
        if turn.state_hash is not None and replayed is not None and turn.state_hash != replayed:
            raise TaskError(f"task {task.id}, turn {number}: the ground truth no longer reaches the recorded state")
        turn.state_hash = replayed


def _announced_tool(content: str, where: str) -> dict[str, Any]:
    if not content.startswith(_ANNOUNCEMENT):
        raise TaskError(f"{where}: a system message mid-dialogue that announces no tool: {content[:80]!r}")
    try:
        return {"type": "function", "function": json.loads(content.removeprefix(_ANNOUNCEMENT))}
    except json.JSONDecodeError as error:
        raise TaskError(f"{where}: the announced tool is not JSON: {error.msg}") from error


def _arguments(arguments: Any) -> dict[str, Any]:
    return json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
