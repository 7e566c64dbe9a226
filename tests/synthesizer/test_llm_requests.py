"""What `ChatModel` puts on the wire and reads back, through the real `openai` client and a local server."""

import json

import anyio
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from synthesizer.errors import LLMError
from synthesizer.llm import ChatModel
from tests.conftest import http_server

TOOL = {
    "type": "function",
    "function": {
        "name": "add_numbers",
        "description": "Add two numbers — exactly.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer", "maximum": 2**70}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}


class _Recorder:
    """Answers every completion with `answer` and keeps each request's headers and body as received."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", self.complete, methods=["POST"])])

    async def complete(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        return Response(self.answer, media_type="application/json")


def _chat(base_url: str, *args, **options):
    async def go():
        model = ChatModel("m", base_url=f"{base_url}/v1", api_key="sk-test", max_retries=0, **options)
        try:
            return await model.chat(*args), model.usage
        finally:
            await model.aclose()

    return anyio.run(go)


def test_the_body_is_the_request_as_json_with_extra_body_merged_and_big_integers_kept():
    call = {"id": "c1", "type": "function", "function": {"name": "add_numbers", "arguments": '{"a":1,"b":2}'}}
    answer = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": "Adding.",
                    "reasoning_content": "Both numbers are given.",
                    "tool_calls": [call],
                }
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7},
    }
    server = _Recorder(json.dumps(answer).encode())
    messages = [{"role": "user", "content": "Add 1 and 2, s'il vous plaît ✓"}]
    with http_server(server.app) as base:
        reply, usage = _chat(base, messages, [TOOL], max_tokens=64, extra_body={"top_k": 5})
    ((headers, body),) = server.requests
    assert headers["authorization"] == "Bearer sk-test" and headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "model": "m",
        "messages": messages,
        "temperature": 0.0,
        "max_tokens": 64,
        "tools": [TOOL],
        "top_k": 5,
    }
    assert reply.content == "Adding." and reply.reasoning == "Both numbers are given."
    assert reply.tool_calls == [{"name": "add_numbers", "arguments": {"a": 1, "b": 2}}]
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens) == (1, 11, 7)


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (b"[1, 2]", "JSON that is not a chat completion"),
        (b'{"choices": []}', "no choices"),
        (b"<html>oops</html>", "a body that is not JSON"),
    ],
)
def test_an_answer_that_is_not_a_completion_is_an_llm_error_that_says_what_came(answer, said):
    server = _Recorder(answer)
    with http_server(server.app) as base, pytest.raises(LLMError, match=said):
        _chat(base, [{"role": "user", "content": "hi"}])


def test_an_error_status_still_comes_back_as_the_sdks_error():
    async def refuse(request: Request) -> Response:
        return JSONResponse({"error": {"message": "the context is too long"}}, status_code=400)

    app = Starlette(routes=[Route("/v1/chat/completions", refuse, methods=["POST"])])
    with http_server(app) as base, pytest.raises(LLMError, match="HTTP 400: the context is too long"):
        _chat(base, [{"role": "user", "content": "hi"}])
