"""The eval runner: every task attempt in a fresh sandbox, a model (or the ground truth) playing the assistant.

Attempts run concurrently (`concurrency` workers, each attempt on a connection borrowed from one
shared pool for its environment set and given back after); the model's own concurrency limit and
cache are `ChatModel`'s.
"""

import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from evaluation.checker import CHECKER_VERSION, TurnEvidence, TurnGrade, grade_turn
from evaluation.episode import Episode
from evaluation.pool import SharedConnections
from evaluation.tasks import Task
from simulator import Connection
from synthesizer.errors import EndpointUnavailable, LLMError
from synthesizer.llm import ChatModel, ChatReply

__all__ = ["Attempt", "ChatPolicy", "GroundTruthPolicy", "Policy", "SYSTEM_PROMPT", "regrade", "run_attempts"]

SYSTEM_PROMPT = (
    "You are an assistant that solves the user's requests with the tools provided. Work out which calls are "
    "needed and where each argument comes from (the request, or an earlier tool result), then call the tools. "
    "If the request lacks a value you need, ask the user for it instead of guessing. If no tool can do what is "
    "asked, say so. When the request is done, answer briefly with the outcome and the values the user asked for."
)


class Policy(Protocol):
    """Whatever plays the assistant: given the dialogue so far and the tools offered, the next reply."""

    model: str

    async def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> ChatReply: ...


class ChatPolicy:
    """A model behind an OpenAI-compatible endpoint (native tool calls, or the text protocol where refused)."""

    def __init__(self, chat: ChatModel, *, temperature: float = 0.0, system_prompt: str = SYSTEM_PROMPT) -> None:
        self.chat = chat
        self.model = chat.model
        self.temperature = temperature
        self.system_prompt = system_prompt

    async def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> ChatReply:
        sent = [{key: value for key, value in message.items() if key != "reasoning"} for message in messages]
        request = [{"role": "system", "content": self.system_prompt}, *sent]
        native = self.chat.native_tools
        try:
            return await self.chat.chat(request, tools, temperature=self.temperature)
        except LLMError:
            # Requests in flight when another one found that the endpoint refuses native tools come back
            # refused; `ChatModel` has switched to the text protocol by then, so one more try goes through.
            if native and not self.chat.native_tools:
                return await self.chat.chat(request, tools, temperature=self.temperature)
            raise


class GroundTruthPolicy:
    """Plays back a task's ground truth: asks where a value is missing, declines until a withheld tool is offered.

    The checker's sanity baseline: it must score 100% on every task.
    """

    model = "ground-truth"

    def __init__(self, task: Task) -> None:
        self.task = task

    async def act(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> ChatReply:
        queries = [turn.query for turn in self.task.turns]
        starts = [
            i for i, message in enumerate(messages) if message["role"] == "user" and message["content"] in queries
        ]
        turn = self.task.turns[queries.index(messages[starts[-1]]["content"])]
        since = messages[starts[-1] + 1 :]
        if any(message["role"] == "tool" for message in since):
            return ChatReply(content="Done; the results are above.")
        if turn.variant == "missing_parameter" and turn.follow_up and not any(m["role"] == "user" for m in since):
            return ChatReply(content="Which value should I use for that?")
        if turn.variant == "missing_tool" and turn.withheld and not any(m["role"] == "system" for m in since):
            return ChatReply(content="I cannot do that with the tools I have right now.")
        calls = [{"name": call["tool"], "arguments": call["arguments"]} for call in turn.calls]
        return ChatReply(content="" if calls else "Nothing needs doing.", tool_calls=calls)


@dataclass
class Attempt:
    """One attempt at one task: the full transcript, the evidence per turn and its grades."""

    task: Task
    number: int
    model: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[TurnEvidence] = field(default_factory=list)
    grades: list[TurnGrade] = field(default_factory=list)
    error: str | None = None
    """Why the attempt stopped early (the endpoint failed); the turns it never reached count as failed."""
    pending: bool = False
    """The endpoint stayed down through every retry: not stored, so the next run plays it again."""

    @property
    def id(self) -> str:
        key = json.dumps([self.model, self.task.id, self.number])
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    @property
    def passed(self) -> bool:
        return len(self.grades) == len(self.task.turns) and all(grade.passed for grade in self.grades)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task.to_json(),
            "number": self.number,
            "model": self.model,
            "messages": self.messages,
            "evidence": [evidence.to_json() for evidence in self.evidence],
            "grades": [grade.to_json() for grade in self.grades],
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Attempt":
        return cls(
            task=Task.from_json(data["task"]),
            number=data["number"],
            model=data["model"],
            messages=data["messages"],
            evidence=[TurnEvidence(**evidence) for evidence in data["evidence"]],
            grades=[TurnGrade(**grade) for grade in data["grades"]],
            error=data["error"],
        )


def regrade(attempt: Attempt) -> Attempt:
    """The same attempt graded again by the current checker, from its stored evidence only."""
    played = [grade_turn(turn, evidence) for turn, evidence in zip(attempt.task.turns, attempt.evidence, strict=False)]
    if attempt.error is not None:
        played = played[: len(attempt.evidence) - 1] if attempt.evidence else []
    attempt.grades = _padded(attempt, played)
    return attempt


async def run_attempts(
    tasks: list[Task],
    policy_for: Callable[[Task, int], Policy],
    *,
    k: int = 1,
    concurrency: int = 16,
    skip: set[str] | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> list[Attempt]:
    """Run `k` attempts of every task (attempt ids in `skip` are left out); each finished one goes to `on_attempt`.

    Attempts take turns across (environment, scenario) pairs, so the connections they borrow spread over
    the pairs and each pair needs only as many as its share of the workers. Once an attempt finds the endpoint
    down through every retry (`pending`), no further attempt starts: they would wait through theirs too.
    """
    pending = _taking_turns([(task, number) for task in tasks for number in range(k)])
    pending.reverse()
    done: list[Attempt] = []
    outage: list[Attempt] = []

    async def worker(connections: SharedConnections) -> None:
        while pending and not outage:
            task, number = pending.pop()
            policy = policy_for(task, number)
            attempt = Attempt(task, number, policy.model)
            if skip and attempt.id in skip:
                continue
            connection = await connections.borrow(task.env, task.scenario)
            try:
                await _play(attempt, policy, connection)
            finally:
                connections.give_back(task.env, task.scenario, connection)
            if attempt.pending:  # the endpoint is down: attempts not begun yet stay pending too
                outage.append(attempt)
            done.append(attempt)
            if on_attempt is not None:
                on_attempt(attempt)

    async with SharedConnections() as connections, anyio.create_task_group() as group:
        for _ in range(max(1, min(concurrency, len(pending)))):
            group.start_soon(worker, connections)
    return done


def _taking_turns(attempts: list[tuple[Task, int]]) -> list[tuple[Task, int]]:
    """The attempts in round-robin order over their (environment, scenario) pairs, each pair's in its order."""
    by_pair: dict[tuple[str, str], list[tuple[Task, int]]] = {}
    for task, number in attempts:
        by_pair.setdefault((task.env, task.scenario), []).append((task, number))
    rounds = itertools.zip_longest(*by_pair.values())
    return [attempt for turn in rounds for attempt in turn if attempt is not None]


async def _play(attempt: Attempt, policy: Policy, connection: Connection) -> None:
    episode = Episode(attempt.task, connection)
    await episode.start()
    try:
        while not episode.done:
            await episode.step(await policy.act(episode.messages, episode.tools))
    except LLMError as error:
        attempt.error = str(error)
    except EndpointUnavailable as error:
        attempt.error, attempt.pending = str(error), True
    attempt.messages, attempt.evidence = episode.messages, episode.evidence
    attempt.grades = _padded(attempt, episode.grades)


def _padded(attempt: Attempt, grades: list[TurnGrade]) -> list[TurnGrade]:
    """Turns an attempt never finished (the endpoint failed) count as failed, with that reason."""
    missing = len(attempt.task.turns) - len(grades)
    failed = TurnGrade(False, False, False, "model_error", 0, 0, CHECKER_VERSION)
    return list(grades) + [failed] * missing
