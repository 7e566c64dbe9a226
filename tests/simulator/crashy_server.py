"""A server that dies on purpose: `crash` kills the process mid-call."""

import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("crashy")


@server.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"


@server.tool()
def crash() -> str:
    """Kill the server process in the middle of the call."""
    os._exit(1)


if __name__ == "__main__":
    server.run()
