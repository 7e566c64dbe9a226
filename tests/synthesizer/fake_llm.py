"""A scripted OpenAI-compatible chat server for tests: it plays each role by reading the request.

It knows one 2-turn messaging dialogue: log in as USR001; then send Bob "Lunch at noon?".
Modes: right, wrong_then_right, garbage, flaky (429, 429, 500, then right), text_only (refuses `tools`),
slow_then_right (two answers too late), dropped_then_right (two connections cut mid-answer),
invalid_json (a 200 whose body is not JSON), unknown_tool (the model calls a tool that does not exist).
"""

import json
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SCRIPT = [
    [("log_in", {"user_id": "USR001"})],
    [("get_user_id", {"user_name": "Bob"}), ("send_message", {"receiver_id": "USR002", "message": "Lunch at noon?"})],
]


class ScriptedModel:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests = 0
        self.app = Starlette(routes=[Route("/v1/chat/completions", _Endpoint(self), methods=["POST"])])

    async def complete(self, request: Request) -> Response:
        self.requests += 1
        body = await request.json()
        if self.mode == "slow_then_right" and self.requests <= 2:
            await anyio.sleep(3)
        if self.mode == "invalid_json":
            return Response("<html>502 bad gateway, but with status 200</html>", media_type="application/json")
        if self.mode == "flaky" and self.requests <= 3:
            status = 429 if self.requests <= 2 else 500
            return JSONResponse({"error": {"message": "try again", "type": "server_error"}}, status_code=status)
        if self.mode == "text_only" and body.get("tools"):
            return JSONResponse({"error": {"message": "tool use is not supported by this model"}}, status_code=400)
        system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
        if system.startswith("You name composite tools"):
            return _reply(json.dumps({"name": "message_a_user", "description": "Look up a user and message them."}))
        if system.startswith("You write what a user types"):
            request_data = json.loads(body["messages"][-1]["content"])
            values = ", ".join(str(value) for value in request_data["values_to_mention"].values())
            return _reply(f"Please take care of this for me: {values}.")
        if system.startswith("You review a failed attempt"):
            return _reply("Compare the text you sent with the words the user asked for.")
        return self._reason(body, system)

    def _reason(self, body: dict[str, Any], system: str) -> JSONResponse:
        messages = body["messages"]
        queries = [i for i, m in enumerate(messages) if m["role"] == "user" and not _is_result(m)]
        turn = len(queries) - 1
        done = sum(1 for m in messages[queries[-1] :] if m["role"] == "tool" or _is_result(m))
        if self.mode == "garbage":
            return _reply("Let me see {{{", calls=[("send_message", "{not json")])
        if self.mode == "unknown_tool":
            return _reply("Teleporting.", calls=[("teleport_user", json.dumps({"to": "Bob"}))])
        if done == len(SCRIPT[turn]):
            return _reply("All done.")
        tool, arguments = SCRIPT[turn][done]
        if self.mode == "wrong_then_right" and tool == "send_message" and "A reviewer looked" not in system:
            arguments = {**arguments, "message": "Lunch at one?"}
        if self.mode == "text_only":
            call = json.dumps({"name": tool, "arguments": arguments})
            return _reply(f"I will call {tool}. <tool_call>{call}</tool_call>")
        return _reply(f"I need {tool} next.", calls=[(tool, json.dumps(arguments))])


class _Endpoint:
    """ASGI endpoint: cuts the connection mid-answer where the mode says so, else asks the model."""

    def __init__(self, model: ScriptedModel) -> None:
        self.model = model

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.model.mode == "dropped_then_right" and self.model.requests < 2:
            self.model.requests += 1
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"500")]})
            await send({"type": "http.response.body", "body": b'{"id": "chatc', "more_body": True})
            raise ConnectionAbortedError("the test server cuts this connection")
        response = await self.model.complete(Request(scope, receive))
        await response(scope, receive, send)


def _is_result(message: dict[str, Any]) -> bool:
    return message["role"] == "user" and str(message.get("content", "")).startswith("Tool result")


def _reply(content: str, calls: list[tuple[str, str]] | None = None) -> JSONResponse:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [
            {"id": f"call_{n}", "type": "function", "function": {"name": name, "arguments": arguments}}
            for n, (name, arguments) in enumerate(calls)
        ]
    return JSONResponse(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": "scripted",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    )
