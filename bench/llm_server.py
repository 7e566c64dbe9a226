"""A local OpenAI-compatible endpoint that answers every chat completion after a fixed latency.

    python bench/llm_server.py --port 8767 --latency 0.1
    python bench/llm_server.py --fail 401        # every request refused: the run must stop at once
    python bench/llm_server.py --no-tools        # a 500 for `tools`, as llama-server without --jinja

The reply echoes the last user message, so distinct requests get distinct replies.
"""

import argparse
import asyncio
import itertools

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def build_app(latency_s: float, fail: int | None = None, no_tools: bool = False) -> Starlette:
    counter = itertools.count()

    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        await asyncio.sleep(latency_s)
        if fail is not None:
            return JSONResponse({"error": {"message": f"scripted failure {fail}", "code": fail}}, status_code=fail)
        if no_tools and body.get("tools"):
            return JSONResponse({"error": {"code": 500, "message": "tools param requires --jinja flag"}}, 500)
        last = body["messages"][-1].get("content") or ""
        return JSONResponse(
            {
                "id": f"chatcmpl-{next(counter)}",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "bench"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"ok: {last}"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"]), Route("/health", health)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--fail", type=int, help="Answer every request with this HTTP status.")
    parser.add_argument("--no-tools", action="store_true", help="Refuse `tools` with a 500, as llama-server does.")
    args = parser.parse_args()
    app = build_app(args.latency, args.fail, args.no_tools)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", backlog=1024)


if __name__ == "__main__":
    main()
