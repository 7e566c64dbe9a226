"""A scripted OpenAI-compatible chat server for tests: it plays each role by reading the request.

It knows one 2-turn messaging dialogue, the story the planner makes of the test trajectory: look up
Catherine's user id; then log in as USR001 and send her "Running late.".
Modes: right, wrong_then_right, garbage, flaky (429, 429, 500, then right), text_only (refuses `tools`
with a 400), needs_jinja (refuses `tools` with a 500, as llama-server without --jinja does),
fenced_json (writes calls as fenced JSON in its text, as small local models do), python_calls (writes
`f(a='x')`), thinking (a <think> block before every answer), slow_then_right (two answers too late),
dropped_then_right (two connections cut mid-answer), invalid_json (a 200 whose body is not JSON),
unknown_tool (the model calls a tool that does not exist), unauthorized (401), no_such_model (404 naming
the model), down (503 on every request), json_query (the query writer answers with JSON until told off),
wrapped_query (the query writer fences its request as `{"request": "..."}`, as small models do),
stubborn_query (the query writer answers with JSON every time).
Any other dialogue gets a polite "I could not do that." (`generic`: whole runs over every environment).
A tool the request does not offer is never called: the model says it has no such tool.
"""

import json
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SCRIPT = [
    [("get_user_id", {"user_name": "Catherine"})],
    [
        ("log_in", {"user_id": "USR001"}),
        ("send_message", {"receiver_id": "USR003", "message": "Running late."}),
    ],
]

QUERY = "Please take care of this for me"
"""How every query the scripted writer writes begins."""


class ScriptedModel:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests = 0
        self.bodies: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", _Endpoint(self), methods=["POST"])])

    async def complete(self, request: Request) -> Response:
        self.requests += 1
        body = await request.json()
        self.bodies.append(body)
        if self.mode == "unauthorized":
            return JSONResponse(
                {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}, 401
            )
        if self.mode == "no_such_model":
            message = f"The model `{body['model']}` does not exist."
            return JSONResponse({"error": {"message": message, "code": "model_not_found"}}, status_code=404)
        if self.mode == "down":
            return JSONResponse({"error": {"message": "loading model", "type": "unavailable"}}, status_code=503)
        if self.mode == "needs_jinja" and body.get("tools"):
            return JSONResponse({"error": {"code": 500, "message": "tools param requires --jinja flag"}}, 500)
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
            request_data = json.loads(body["messages"][1]["content"])
            if self.mode == "json_query" and len(body["messages"]) == 2 or self.mode == "stubborn_query":
                return _reply(json.dumps(request_data["values_to_mention"]))
            values = ", ".join(f"{name} {_said(value)}" for name, value in request_data["values_to_mention"].items())
            if self.mode == "wrapped_query":
                return _reply(f"```json\n{json.dumps({'request': f'{QUERY}: {values}.'})}\n```")
            return _reply(f"{QUERY}: {values}.")
        if system.startswith("You review a failed attempt"):
            return _reply("Compare the text you sent with the words the user asked for.")
        return self._reason(body, system)

    def _reason(self, body: dict[str, Any], system: str) -> JSONResponse:
        messages = body["messages"]
        queries = [i for i, m in enumerate(messages) if m["role"] == "user" and m["content"].startswith(QUERY)]
        if not queries:
            return _reply("I could not do that.")
        turn = len(queries) - 1
        results = [m for m in messages[queries[-1] :] if m["role"] == "tool" or _is_result(m)]
        done = sum(1 for m in results if "Error" not in m["content"])  # an injected mistake is not progress
        if self.mode == "garbage":
            return _reply("Let me see {{{", calls=[("send_message", "{not json")])
        if self.mode == "unknown_tool":
            return _reply("Teleporting.", calls=[("teleport_user", json.dumps({"to": "Bob"}))])
        if self.mode == "generic" or turn >= len(SCRIPT):
            return _reply("I could not do that.")
        if done == len(SCRIPT[turn]):
            return _reply(_think(self.mode, "All done."))
        tool, arguments = SCRIPT[turn][done]
        offered = {tool["function"]["name"] for tool in body.get("tools") or []}
        if body.get("tools") and tool not in offered:
            return _reply(f"I have no tool for {tool} yet.")
        first_try = not any("A reviewer looked at your last attempt" in str(m.get("content")) for m in messages)
        if self.mode == "wrong_then_right" and arguments.get("message") == "Running late." and first_try:
            arguments = {**arguments, "message": "Running early."}
        if self.mode in ("text_only", "needs_jinja"):
            call = json.dumps({"name": tool, "arguments": arguments})
            return _reply(f"I will call {tool}. <tool_call>{call}</tool_call>")
        if self.mode == "fenced_json":
            call = json.dumps({"name": tool, "arguments": arguments}, indent=2)
            return _reply(f"```json\n{call}\n```")
        if self.mode == "python_calls":
            written = ", ".join(f"{name}={value!r}" for name, value in arguments.items())
            return _reply(f"[{tool}({written})]")
        return _reply(_think(self.mode, f"I need {tool} next."), calls=[(tool, json.dumps(arguments))])


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


def _think(mode: str, text: str) -> str:
    return f"<think>The user wants this done; {text}</think>{text}" if mode == "thinking" else text


def _said(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


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
