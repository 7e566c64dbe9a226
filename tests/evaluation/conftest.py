"""A small store of verified samples (two environments, offline backend) and a scripted OpenAI-compatible model."""

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from evaluation import GroundTruthPolicy, Task, TaskTurn, load_tasks
from simulator import ExploreConfig, ServerTarget, explore
from synthesizer import ChatReply, OfflineBackend, SynthesisConfig, synthesize


@pytest.fixture(scope="session")
def store_path(tmp_path_factory) -> Path:
    """Verified samples of messaging and trading, the way `funreason run` makes them."""
    path = tmp_path_factory.mktemp("eval") / "store.db"
    for env in ("messaging", "trading"):
        explore(ServerTarget(envs=(env,)), path, ExploreConfig(trajectories=6, seed=7, after_target_steps=3))
    counts = synthesize(path, SynthesisConfig(seed=1), OfflineBackend())
    assert counts["verified"] >= 8
    return path


@pytest.fixture(scope="session")
def tasks(store_path) -> list[Task]:
    return load_tasks(db=store_path)


class ScriptedModel:
    """Answers chat completions like a model would, through the real wire format.

    Modes: `truth` plays back each task's ground truth (found by the dialogue's first user message);
    `text_only` does the same but refuses native `tools` and writes its calls as `<tool_call>` text;
    `no_tools` answers every request in words without calling anything.  `fails_on` (tool names): a
    turn whose target is one of them is answered in words, without a call; the next turn that calls
    makes the calls of the turns it failed first, so that only those turns fail.
    """

    def __init__(self, tasks: list[Task], mode: str, fails_on: frozenset[str] = frozenset()) -> None:
        self.by_first_query = {task.turns[0].query: task for task in tasks}
        self.mode = mode
        self.fails_on = fails_on
        self.requests = 0
        self.app = Starlette(routes=[Route("/v1/chat/completions", self.complete, methods=["POST"])])

    async def complete(self, request: Request) -> JSONResponse:
        self.requests += 1
        body = await request.json()
        if self.mode == "no_tools":
            return completion("I am sorry, I cannot help with that.")
        if self.mode == "text_only" and body.get("tools"):
            return JSONResponse({"error": {"message": "tool use is not supported by this model"}}, status_code=400)
        messages = [as_tool_result(message) for message in body["messages"]]
        first = next(message for message in messages if message["role"] == "user")
        task = self.by_first_query[first["content"]]
        reply = await GroundTruthPolicy(task).act(messages, [])
        if self.fails_on:
            reply = self.failing(task, messages, reply)
        if self.mode == "text_only":
            blocks = [{"name": call["name"], "arguments": call["arguments"]} for call in reply.tool_calls]
            return completion(reply.content + "".join(f"<tool_call>{json.dumps(b)}</tool_call>" for b in blocks))
        calls = [(call["name"], json.dumps(call["arguments"])) for call in reply.tool_calls]
        return completion(reply.content, calls)

    def failing(self, task: Task, messages: list[dict[str, Any]], reply: ChatReply) -> ChatReply:
        """`reply` as a model that cannot use the `fails_on` tools, but catches up on their calls later."""
        queries = [turn.query for turn in task.turns]
        current = [message["content"] for message in messages if message.get("content") in queries][-1]
        index = queries.index(current)
        if _target(task.turns[index]) in self.fails_on:
            return ChatReply(content="I cannot do that with the tools I have.")
        if not reply.tool_calls:
            return reply
        since = index  # the failed turns since the last one it answered with calls: caught up once, not again
        while since > 0 and _target(task.turns[since - 1]) in self.fails_on:
            since -= 1
        missed = [
            {"name": call["tool"], "arguments": call["arguments"]}
            for turn in task.turns[since:index]
            for call in turn.calls
        ]
        return ChatReply(content=reply.content, tool_calls=missed + reply.tool_calls)


def _target(turn: TaskTurn) -> str | None:
    return turn.target or (turn.calls[-1]["tool"] if turn.calls else None)


def as_tool_result(message: dict[str, Any]) -> dict[str, Any]:
    """The text protocol sends tool results as user messages; read them back as what they are."""
    if message["role"] == "user" and str(message.get("content", "")).startswith("Tool result"):
        return {"role": "tool", "content": message["content"]}
    return message


def completion(content: str, calls: list[tuple[str, str]] | None = None) -> JSONResponse:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [
            {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": arguments}}
            for n, (name, arguments) in enumerate(calls)
        ]
    choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
    return JSONResponse(
        {
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "created": 0,
            "model": "scripted",
            "choices": [choice],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    )
