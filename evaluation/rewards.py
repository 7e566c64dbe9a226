"""Outcome rewards for RL: a rollout scored into a reward and its parts, plus TRL and verl adapters.

The parts, each in [0, 1]:

* `state_match`: the sandbox ended in the ground truth's state (after the last turn the rollout reached);
* `results_given`: share of the reached turns whose asked-for result a tool returned or the answer states;
* `valid_calls`: share of the model's calls the sandbox accepted (without calls: 1 if none were needed, else 0);
* `turns_used`: share of the task's turns the rollout reached and answered in words.

`total` weighs them by `REWARD_WEIGHTS` (state first: the outcome is what counts).
"""

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import anyio

from evaluation.checker import TurnEvidence, result_given
from evaluation.episode import Episode, reply_from_message
from evaluation.pool import ConnectionPool
from evaluation.tasks import Task, start_task
from servers import Sandbox, hash_state
from simulator import Connection
from synthesizer.toolcalls import read_reply

__all__ = ["REWARD_WEIGHTS", "Reward", "episode_reward", "score_rollout", "trl_reward", "verl_compute_score"]

REWARD_WEIGHTS = {"state_match": 0.6, "results_given": 0.2, "valid_calls": 0.1, "turns_used": 0.1}


@dataclass(frozen=True)
class Reward:
    total: float
    state_match: float
    results_given: float
    valid_calls: float
    turns_used: float

    def to_json(self) -> dict[str, float]:
        return asdict(self)


def score_rollout(task: Task, messages: list[dict[str, Any]], sandbox: Sandbox | Mapping[str, Any]) -> Reward:
    """Score a finished rollout: its OpenAI-format messages and the sandbox it ran in (or that sandbox's state,
    as `GET /sandboxes/{id}/state` serves it).

    Turns are found by the task's queries in the user messages; a tool message counts as refused when it carries
    `is_error: true` or its content is not JSON (our servers answer every accepted call with JSON).
    """
    state = sandbox.state() if isinstance(sandbox, Sandbox) else dict(sandbox)
    segments = _turn_segments(task, messages)
    reached = [task.turns[index] for index in segments]
    state_match = float(bool(reached) and reached[-1].state_hash == hash_state(state))
    given, calls, refused, answered = 0, 0, 0, 0
    for index, segment in segments.items():
        evidence = _evidence(segment)
        calls += len(evidence.calls)
        refused += sum(call["is_error"] for call in evidence.calls)
        answered += int(bool(evidence.answer))
        given += all(result_given(result, evidence) for result in task.turns[index].expected_results)
    needed = any(turn.calls for turn in reached)
    return _reward(
        state_match,
        given / len(segments) if segments else 0.0,
        _valid_share(calls, refused, needed),
        answered / len(task.turns),
    )


def episode_reward(episode: Episode) -> Reward:
    """The reward of an episode (gym, verl interaction) from its per-turn grades; unplayed turns count as failed."""
    turns = len(episode.task.turns)
    grades = episode.grades
    calls = sum(grade.calls for grade in grades)
    invalid = sum(grade.invalid_calls for grade in grades)
    needed = any(turn.calls for turn in episode.task.turns[: len(grades)])
    return _reward(
        sum(grade.state_ok for grade in grades) / turns,
        sum(grade.results_ok for grade in grades) / turns,
        _valid_share(calls, invalid, needed),
        sum(bool(evidence.answer) for evidence in episode.evidence[: len(grades)]) / turns,
    )


def trl_reward(prompts: list[Any], completions: list[Any], task: list[Any], **kwargs: Any) -> list[float]:
    """A reward function with TRL `GRPOTrainer`'s signature; the dataset needs a `task` column (a task's JSON).

    Each prompt + completion (conversational: lists of messages) is re-executed in a fresh sandbox of its task:
    every assistant tool call in order, tool results taken from the sandbox (those in the completion, if any,
    are replaced), then scored with `score_rollout`.

        from trl import GRPOConfig, GRPOTrainer
        from evaluation import trl_reward
        trainer = GRPOTrainer(model=..., reward_funcs=[trl_reward], train_dataset=dataset, args=GRPOConfig(...))
    """
    tasks = [Task.from_json(json.loads(item) if isinstance(item, str) else item) for item in task]
    conversations = [
        _as_messages(prompt) + _as_messages(completion) for prompt, completion in zip(prompts, completions, strict=True)
    ]
    return [reward.total for reward in anyio.run(_replay_all, tasks, conversations)]


def verl_compute_score(
    data_source: str, solution_str: str, ground_truth: str, extra_info: dict[str, Any] | None = None, **kwargs: Any
) -> dict[str, float]:
    """verl's custom reward hook (`custom_reward_function.name: verl_compute_score`); `ground_truth` is a task's JSON.

    `solution_str` is the decoded response, its calls written `<tool_call>{"name": ..., "arguments": ...}</tool_call>`;
    `extra_info["messages"]` may hold the prompt's messages (default: the task's first user turn). Returns verl's
    dict form: `score` plus every part.
    """
    task = Task.from_json(json.loads(ground_truth))
    prompt = list((extra_info or {}).get("messages") or [{"role": "user", "content": task.turns[0].query}])
    parsed = read_reply(solution_str)
    content, calls = parsed.content, parsed.tool_calls
    message = {"role": "assistant", "content": content, "tool_calls": _native_calls(calls)}
    (reward,) = anyio.run(_replay_all, [task], [[*prompt, message]])
    return {"score": reward.total, **{key: value for key, value in reward.to_json().items() if key != "total"}}


def _valid_share(calls: int, refused: int, needed: bool) -> float:
    """Share of calls accepted; making none scores 1 only where none were needed (silence earns nothing)."""
    if calls == 0:
        return 0.0 if needed else 1.0
    return 1 - refused / calls


def _reward(state_match: float, results_given: float, valid_calls: float, turns_used: float) -> Reward:
    parts = {
        "state_match": state_match,
        "results_given": results_given,
        "valid_calls": valid_calls,
        "turns_used": turns_used,
    }
    total = sum(REWARD_WEIGHTS[name] * value for name, value in parts.items())
    return Reward(round(total, 6), **parts)


async def _replay_all(tasks: list[Task], conversations: list[list[dict[str, Any]]]) -> list[Reward]:
    rewards = []
    async with ConnectionPool() as pool:
        for task, messages in zip(tasks, conversations, strict=True):
            connection = await pool.get(task.env, task.scenario)
            replayed = await _replay(task, messages, connection)
            state = await connection.state()
            rewards.append(score_rollout(task, replayed, state or {}))
    return rewards


async def _replay(task: Task, messages: list[dict[str, Any]], connection: Connection) -> list[dict[str, Any]]:
    """The conversation with every call executed in a fresh sandbox and its real result in place."""
    await start_task(task, connection)
    replayed = []
    for message in messages:
        if message["role"] == "tool":
            continue
        replayed.append(message)
        if message["role"] != "assistant" or not message.get("tool_calls"):
            continue
        reply = reply_from_message(message)
        for entry, call in zip(message["tool_calls"], reply.tool_calls, strict=True):
            if "error" in call:
                content, is_error = call["error"], True
            else:
                step = await connection.call(call["name"], call["arguments"])
                content, is_error = step.text, step.is_error
            replayed.append(
                {"role": "tool", "tool_call_id": entry.get("id", ""), "content": content, "is_error": is_error}
            )
    return replayed


def _turn_segments(task: Task, messages: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Turn index -> the messages after that turn's query, for the turns the rollout reached."""
    queries = [turn.query for turn in task.turns]
    segments: dict[int, list[dict[str, Any]]] = {}
    current: list[dict[str, Any]] | None = None
    for message in messages:
        if message["role"] == "user" and message.get("content") in queries[len(segments) : len(segments) + 1]:
            current = segments[len(segments)] = []
        elif current is not None:
            current.append(message)
    return segments


def _evidence(segment: list[dict[str, Any]]) -> TurnEvidence:
    evidence = TurnEvidence()
    for message in segment:
        if message["role"] == "tool":
            result, is_error = _tool_result(message)
            evidence.calls.append(
                {"tool": message.get("name", ""), "arguments": {}, "result": result, "is_error": is_error}
            )
        elif message["role"] == "assistant" and not message.get("tool_calls") and message.get("content"):
            evidence.answer = message["content"]
    return evidence


def _tool_result(message: dict[str, Any]) -> tuple[Any, bool]:
    try:
        result = json.loads(message.get("content") or "")
    except (TypeError, ValueError):
        return None, True
    return result, bool(message.get("is_error")) or not isinstance(result, dict | list)


def _as_messages(value: Any) -> list[dict[str, Any]]:
    """TRL passes conversational prompts and completions as message lists, standard ones as text."""
    return list(value) if isinstance(value, list) else [{"role": "assistant", "content": str(value)}]


def _native_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{n}",
            "type": "function",
            "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
        }
        for n, call in enumerate(calls)
    ]
