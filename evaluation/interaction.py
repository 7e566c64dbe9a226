"""verl's interaction hook over a sandbox: the model's `<tool_call>` blocks run for real, the episode plays the user.

Configure it in verl's interaction config (`class_name: evaluation.interaction.VerlInteraction`) and give each
row `interaction_kwargs: {"name": ..., "task": <task JSON>}`.  verl calls `generate_response` whenever the
model stops; the answer is the tool results (as `Tool result (name): ...` lines, the text protocol) or the
user's next words, and the episode's reward when the dialogue is over.

No connection is held between verl's calls (each may run in another task): every call replays the
assistant's replies so far in a fresh sandbox of the same seed, which reaches the same state.
"""

import json
from typing import Any
from uuid import uuid4

from evaluation.episode import Episode, reply_from_message
from evaluation.errors import RolloutError
from evaluation.pool import ConnectionPool
from evaluation.rewards import episode_reward
from evaluation.tasks import Task
from synthesizer.llm import ChatReply

__all__ = ["VerlInteraction"]


class VerlInteraction:
    """The method names and signatures of verl's `BaseInteraction` (verl itself is not needed to import this)."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = dict(config or {})
        self.name: str = self.config.get("name", "funreason_sandbox")
        self._instances: dict[str, tuple[Task, list[ChatReply], float]] = {}

    async def start_interaction(self, instance_id: str | None = None, task: Any = None, **kwargs: Any) -> str:
        if task is None:
            raise RolloutError("start_interaction needs task=<a task or its JSON>")
        data = json.loads(task) if isinstance(task, str) else task
        instance_id = instance_id or str(uuid4())
        self._instances[instance_id] = (data if isinstance(data, Task) else Task.from_json(data), [], 0.0)
        return instance_id

    async def generate_response(
        self, instance_id: str, messages: list[dict[str, Any]], **kwargs: Any
    ) -> tuple[bool, str, float, dict[str, Any]]:
        """(should_terminate_sequence, response_content, current_turn_score, additional_data)."""
        task, replies, _ = self._instance(instance_id)
        replies[:] = [reply_from_message(m) for m in messages if m["role"] == "assistant"]
        async with ConnectionPool() as pool:
            episode = Episode(task, await pool.get(task.env, task.scenario))
            answer = await episode.start()
            for reply in replies:
                if episode.done:
                    break
                answer = await episode.step(reply)
        score = episode_reward(episode).total
        self._instances[instance_id] = (task, replies, score)
        data = {"grades": [grade.to_json() for grade in episode.grades]}
        return episode.done, _as_text(answer), score if episode.done else 0.0, data

    async def calculate_score(self, instance_id: str, **kwargs: Any) -> float:
        return self._instance(instance_id)[2]

    async def finalize_interaction(self, instance_id: str, **kwargs: Any) -> None:
        self._instances.pop(instance_id, None)

    def _instance(self, instance_id: str) -> tuple[Task, list[ChatReply], float]:
        try:
            return self._instances[instance_id]
        except KeyError:
            raise RolloutError(f"no interaction {instance_id!r} (start_interaction first)") from None


def _as_text(messages: list[dict[str, Any]]) -> str:
    """What the episode answered, as one user message: tool results in the text protocol, the rest as said."""
    lines = []
    for message in messages:
        if message["role"] == "tool":
            lines.append(f"Tool result ({message.get('name', 'tool')}): {message['content']}")
        else:
            lines.append(message["content"])
    return "\n\n".join(lines)
