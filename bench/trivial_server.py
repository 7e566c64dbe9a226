"""The floor our tool calls are measured against: an `MCPServer` whose tools do nothing.

Its tools have the names, parameters and result shapes of the filesystem tools the
benchmark calls (`pwd`, `echo`), so the SDK does the same work on both sides: argument
validation, output-schema validation, serialisation.  They are async, like our
adapter's tool functions, so neither side pays the SDK's worker-thread hop.

    python bench/trivial_server.py --transport stdio
    python bench/trivial_server.py --transport http --port 8766    # MCP endpoint at /mcp
"""

import argparse
from typing import Annotated

import anyio
import uvicorn
from mcp.server import MCPServer
from pydantic import BaseModel, Field


class DirectoryResult(BaseModel):
    current_working_directory: str = Field(description="Absolute path of the working directory.")


class EchoResult(BaseModel):
    terminal_output: str | None = Field(description="What was printed, when no file was given.")
    path: str | None = Field(description="Absolute path of the file written, when one was given.")


def build_server() -> MCPServer:
    server = MCPServer("trivial", log_level="WARNING")

    @server.tool()
    async def pwd() -> DirectoryResult:
        """Print the working directory (always '/')."""
        return DirectoryResult(current_working_directory="/")

    @server.tool()
    async def echo(
        content: Annotated[str, Field(description="Text to print or write.")],
        file_name: Annotated[str | None, Field(description="File to write to.")] = None,
        append: Annotated[bool, Field(description="Append instead of replacing.")] = False,
    ) -> EchoResult:
        """Pretend to write text to a file; nothing is stored."""
        if file_name is None:
            return EchoResult(terminal_output=content, path=None)
        return EchoResult(terminal_output=None, path="/" + file_name)

    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    server = build_server()
    if args.transport == "stdio":
        anyio.run(server.run_stdio_async)
    else:
        uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
