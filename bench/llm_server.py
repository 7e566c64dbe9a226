"""A local OpenAI-compatible endpoint that answers every chat completion after a fixed latency.

    python bench/llm_server.py --port 8767 --latency 0.1

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


def build_app(latency_s: float) -> Starlette:
    counter = itertools.count()

    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        await asyncio.sleep(latency_s)
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
    args = parser.parse_args()
    uvicorn.run(build_app(args.latency), host="127.0.0.1", port=args.port, log_level="warning", backlog=1024)


if __name__ == "__main__":
    main()
