"""What a model-backed run costs: requests, prompt and completion size per verified sample, by role, and the
share of each prompt that a prefix cache could reuse.

    python bench/model_cost.py [--trajectories 8] [--json figures.json]

`funreason run`'s synthesis with `--llm openai`, through the real `ChatModel` and `openai` client, against
a local OpenAI-compatible endpoint on 127.0.0.1 that answers every request with the ground truth: for each
role call the bench asks the offline rules what the right answer is and hands it to the endpoint, so every
request succeeds as a perfect model's would and what is measured is the prompts our roles build.

Sizes are bytes and tokens; with no tokenizer on the machine a token is counted as 4 bytes of UTF-8
(OpenAI's rule of thumb for English; JSON-heavy prompts run nearer 3, so real counts are higher).
A request's prompt is what a chat template renders: the system message, then the tool list (where
Hermes/Qwen/Llama templates put it), then the other messages.  Its cacheable prefix is the longest run
of leading bytes it shares with any earlier request of the run, byte for byte: what vLLM's and SGLang's
prefix caching and OpenAI's prompt caching reuse (they cache by blocks of tokens, so slightly less).
"""

import argparse
import bisect
import collections
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from servers import environment_names  # noqa: E402
from simulator import ExploreConfig, ServerTarget, explore  # noqa: E402
from synthesizer.llm import ChatModel  # noqa: E402
from synthesizer.offline import OfflineRoles  # noqa: E402
from synthesizer.roles import AssistantMessage, ModelBackend, ModelRoles, Roles  # noqa: E402
from synthesizer.synthesize import SynthesisConfig, synthesize  # noqa: E402

__all__ = ["measure"]

BYTES_PER_TOKEN = 4
ROLES = {
    "You name composite tools": "tooling",
    "You write what a user types": "querying",
    "You are an assistant that solves": "reasoning",
    "You review a failed attempt": "critiquing",
}


class TruthEndpoint:
    """An OpenAI-compatible chat endpoint that answers with what it was told the right answer is, and
    keeps every prompt's size, role and cacheable prefix."""

    def __init__(self) -> None:
        self.answers: collections.deque[dict[str, Any]] = collections.deque()
        self.last: dict[str, Any] = {"role": "assistant", "content": ""}
        self.seen: list[bytes] = []  # earlier prompts, sorted: the longest shared prefix is with a neighbour
        self.by_role: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.app = Starlette(routes=[Route("/v1/chat/completions", self.complete, methods=["POST"])])

    async def complete(self, request: Request) -> JSONResponse:
        body = await request.json()
        prompt = _rendered(body)
        system = body["messages"][0].get("content") or "" if body["messages"][0]["role"] == "system" else ""
        role = next((name for start, name in ROLES.items() if system.startswith(start)), "other")
        message = self.answers.popleft() if self.answers else self.last  # a retry gets the same right answer
        self.last = message
        completion = len(json.dumps(message, ensure_ascii=False).encode())
        counts = self.by_role[role]
        counts["requests"] += 1
        counts["prompt_bytes"] += len(prompt)
        counts["cached_bytes"] += self._shared(prompt)
        counts["completion_bytes"] += completion
        usage = {"prompt_tokens": len(prompt) // BYTES_PER_TOKEN, "completion_tokens": completion // BYTES_PER_TOKEN}
        choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if "tool_calls" in message else "stop"}
        return JSONResponse(
            {
                "id": "chatcmpl-truth",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [choice],
                "usage": {**usage, "total_tokens": sum(usage.values())},
            }  # fmt: skip
        )

    def _shared(self, prompt: bytes) -> int:
        position = bisect.bisect_left(self.seen, prompt)
        best = max(
            (_common(prompt, self.seen[i]) for i in (position - 1, position) if 0 <= i < len(self.seen)), default=0
        )
        self.seen.insert(position, prompt)
        return best


class TruthRoles(Roles):
    """The model's roles, each call preceded by the right answer (the offline rules') handed to the endpoint."""

    def __init__(self, model: ModelRoles, truth: OfflineRoles, endpoint: TruthEndpoint) -> None:
        self.model_roles, self.truth, self.endpoint = model, truth, endpoint
        self.model = model.model

    async def name_tool(self, turn):
        named = await self.truth.name_tool(turn)
        self._expect(json.dumps({"name": named.name, "description": named.description}))
        return await self.model_roles.name_tool(turn)

    async def write_query(self, turn, tools):
        query = await self.truth.write_query(turn, tools)
        self._expect(query)
        return await self.model_roles.write_query(turn, tools)

    async def act(self, conversation, tools, turn, hint):
        right: AssistantMessage = await self.truth.act(conversation, tools, turn, hint)
        calls = [
            {"id": f"call_{n}", "type": "function",
             "function": {"name": call["name"], "arguments": json.dumps(call["arguments"], ensure_ascii=False)}}
            for n, call in enumerate(right.tool_calls)
        ]  # fmt: skip
        self._expect(right.reasoning if calls else right.content, calls)
        return await self.model_roles.act(conversation, tools, turn, hint)

    async def critique(self, turn, attempt, failure):
        self._expect(await self.truth.critique(turn, attempt, failure))
        return await self.model_roles.critique(turn, attempt, failure)

    def _expect(self, content: str, calls: list[dict[str, Any]] | None = None) -> None:
        self.endpoint.answers.clear()
        self.endpoint.answers.append(
            {"role": "assistant", "content": content, **({"tool_calls": calls} if calls else {})}
        )


class TruthBackend(ModelBackend):
    def __init__(self, chat: ChatModel, endpoint: TruthEndpoint) -> None:
        super().__init__(chat)
        self.endpoint = endpoint

    def roles_for(self, tools, rng):
        return TruthRoles(ModelRoles(self.chat, tools, rng), OfflineRoles(tools, rng), self.endpoint)


def measure(workdir: Path, trajectories: int) -> dict[str, Any]:
    store = workdir / "store.db"
    for env in environment_names():
        explore(
            ServerTarget(envs=(env,)),
            store,
            ExploreConfig(trajectories=trajectories, max_steps=32, after_target_steps=26),
        )
    endpoint = TruthEndpoint()
    with _serving(endpoint.app) as url:
        chat = ChatModel("truth", base_url=f"{url}/v1", api_key="local", concurrency=1, cache=None)
        started = time.perf_counter()
        counts = synthesize(store, SynthesisConfig(concurrency=1), TruthBackend(chat, endpoint))
        seconds = time.perf_counter() - started
    verified = max(counts["verified"], 1)
    roles = {}
    for role, c in sorted(endpoint.by_role.items()):
        roles[role] = {
            "requests_per_sample": round(c["requests"] / verified, 2),
            "prompt_tokens_per_sample": round(c["prompt_bytes"] / BYTES_PER_TOKEN / verified),
            "completion_tokens_per_sample": round(c["completion_bytes"] / BYTES_PER_TOKEN / verified),
            "prompt_tokens_per_request": round(c["prompt_bytes"] / BYTES_PER_TOKEN / c["requests"]),
            "cacheable_prefix_share": round(c["cached_bytes"] / c["prompt_bytes"], 3),
        }
    total = collections.Counter()
    for c in endpoint.by_role.values():
        total.update(c)
    return {
        "trajectories": counts["verified"] + counts["rejected"],
        "verified": counts["verified"],
        "rejected": counts["rejected"],
        "seconds": round(seconds, 1),
        "requests_per_sample": round(total["requests"] / verified, 2),
        "prompt_tokens_per_sample": round(total["prompt_bytes"] / BYTES_PER_TOKEN / verified),
        "completion_tokens_per_sample": round(total["completion_bytes"] / BYTES_PER_TOKEN / verified),
        "cacheable_prefix_share": round(total["cached_bytes"] / max(total["prompt_bytes"], 1), 3),
        "roles": roles,
    }


def _rendered(body: dict[str, Any]) -> bytes:
    """The prompt as a chat template lays it out: system message, tool list, then the other messages."""
    messages = body["messages"]
    head = [messages[0]] if messages and messages[0]["role"] == "system" else []
    parts = [json.dumps(message, ensure_ascii=False, sort_keys=True) for message in head]
    if body.get("tools"):
        parts.append(json.dumps(body["tools"], ensure_ascii=False, sort_keys=True))
    parts += [json.dumps(message, ensure_ascii=False, sort_keys=True) for message in messages[len(head) :]]
    return "\n".join(parts).encode()


def _common(first: bytes, second: bytes) -> int:
    size = min(len(first), len(second))
    low, high = 0, size  # the longest equal prefix, by halving (bytes compare in C)
    while low < high:
        middle = (low + high + 1) // 2
        if first[:middle] == second[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


class _serving:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in a thread for the block; its base URL."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, default=8, help="Per environment.")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="funreason-cost-") as folder:
        figures = measure(Path(folder), args.trajectories)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
