"""Outcome rewards for RL: one reward, computed the same way for the gym, `score_rollout`, TRL and verl.

A rollout is played through an `Episode` (every call executed for real; the episode plays the user), which
leaves per-turn evidence; each turn the rollout is scored on earns, in [0, 1]:

* `state_match`: the sandbox stood in the ground truth's state when the turn ended;
* `results_given`: the asked-for result was returned by a call or stated in the answer;
* `valid_calls`: share of the turn's calls the sandbox accepted (1 when none were needed and none made);
* `turns_used`: the turn was answered in words.

A turn whose ground truth calls tools and where the model made no call earns nothing at all (silence, or a
question where acting was due, reaches no outcome). `total` weighs the parts by `REWARD_WEIGHTS`; a rollout's
reward and its parts are the means over the turns it is scored on (turns it never reached count 0), so a
perfect rollout scores 1 and one that stops after turn 1 of 2 scores at most 0.5.
"""

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import anyio

from evaluation.checker import TurnEvidence, grade_turn
from evaluation.episode import Episode, reply_from_message
from evaluation.pool import ConnectionPool
from evaluation.tasks import Task, TaskTurn
from servers import Sandbox, hash_state

__all__ = [
    "REWARD_WEIGHTS",
    "Reward",
    "episode_reward",
    "parse_task",
    "replay",
    "rollout_reward",
    "run_blocking",
    "score_rollout",
    "score_rollout_async",
    "turn_reward",
]

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

    def parts(self) -> dict[str, float]:
        return {key: value for key, value in self.to_json().items() if key != "total"}


def turn_reward(turn: TaskTurn, evidence: TurnEvidence | None) -> Reward:
    """One turn's reward from what the model did in it (None: the rollout never reached it)."""
    if evidence is None or (turn.calls and not evidence.calls):
        return _reward(0.0, 0.0, 0.0, 0.0)
    grade = grade_turn(turn, evidence)
    calls = len(evidence.calls)
    valid = 1.0 if calls == 0 else 1 - grade.invalid_calls / calls
    return _reward(float(grade.state_ok), float(grade.results_ok), valid, float(bool(evidence.answer)))


def rollout_reward(task: Task, evidence: Sequence[TurnEvidence], turns: Iterable[int] | None = None) -> Reward:
    """The mean reward over `turns` (default: every turn of the task); `evidence[i]` is turn i's, if reached."""
    chosen = list(range(len(task.turns)) if turns is None else turns)
    scored = [turn_reward(task.turns[i], evidence[i] if i < len(evidence) else None) for i in chosen]
    if not scored:
        return _reward(0.0, 0.0, 0.0, 0.0)
    means = {name: sum(getattr(reward, name) for reward in scored) / len(scored) for name in REWARD_WEIGHTS}
    return _reward(**means)


def episode_reward(episode: Episode, turns: Iterable[int] | None = None) -> Reward:
    """The reward of an episode so far: the turns it finished (one in progress does not count yet)."""
    return rollout_reward(episode.task, episode.evidence[: len(episode.grades)], turns)


def score_rollout(
    task: Task,
    messages: list[dict[str, Any]],
    sandbox: Sandbox | Mapping[str, Any] | None = None,
    *,
    turns: Iterable[int] | None = None,
) -> Reward:
    """Score a finished rollout from its OpenAI-format messages (native `tool_calls` or `<tool_call>` text).

    The assistant messages are played again through an episode in a fresh sandbox of the task, so every call
    is checked and every turn's end state is known; tool messages in `messages` are not trusted. `sandbox`
    (the sandbox the rollout ran in, or its state as `GET /sandboxes/{id}/state` serves it), when given, is
    what the last turn reached is judged on instead of the replay's end state. Callable from inside a running
    event loop too (it then replays in a thread of its own).
    """
    return run_blocking(score_rollout_async, task, messages, sandbox, turns)


async def score_rollout_async(
    task: Task,
    messages: list[dict[str, Any]],
    sandbox: Sandbox | Mapping[str, Any] | None = None,
    turns: Iterable[int] | None = None,
) -> Reward:
    """`score_rollout` for async callers (TRL awaits async reward functions)."""
    async with ConnectionPool() as pool:
        episode = await replay(task, messages, await pool.get(task.env, task.scenario))
    evidence = episode.evidence[: len(episode.grades)]
    if sandbox is not None and evidence:
        state = sandbox.state() if isinstance(sandbox, Sandbox) else dict(sandbox)
        if hash_state(state) != evidence[-1].state_hash:
            evidence[-1] = TurnEvidence(**{**evidence[-1].to_json(), "state_hash": hash_state(state)})
    return rollout_reward(task, evidence, turns)


async def replay(task: Task, messages: list[dict[str, Any]], connection: Any) -> Episode:
    """The episode the assistant messages of `messages` play, from the task's start, in `connection`'s sandbox.

    A rollout whose last turn the model left without a reply in words (a trainer's tool loop that ran out of
    iterations) ends that turn unfinished, as the episode's reply limit would.
    """
    episode = Episode(task, connection)
    await episode.start()
    for message in messages:
        if message["role"] == "assistant" and not episode.done:
            await episode.step(reply_from_message(message))
    await episode.finish()
    return episode


def parse_task(value: Any) -> Task:
    """A task given as a `Task`, its JSON dict, or its JSON text (dataset columns hold either)."""
    if isinstance(value, Task):
        return value
    return Task.from_json(json.loads(value) if isinstance(value, str | bytes) else dict(value))


def run_blocking(function: Any, *args: Any) -> Any:
    """Run an async function to its end from sync code; inside a running loop (a notebook), in a new thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(function, *args)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, function, *args).result()


def _reward(state_match: float, results_given: float, valid_calls: float, turns_used: float) -> Reward:
    parts = {
        "state_match": state_match,
        "results_given": results_given,
        "valid_calls": valid_calls,
        "turns_used": turns_used,
    }
    total = sum(REWARD_WEIGHTS[name] * value for name, value in parts.items())
    return Reward(total, **parts)
