"""A server that reports its own environment (`getenv`) and can die on purpose mid-call (`crash`)."""

import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("env-reporter")


@server.tool()
def getenv(name: str) -> str:
    """The value of an environment variable of this server's process ('' when unset)."""
    return os.environ.get(name, "")


@server.tool()
def crash() -> str:
    """Kill the server process in the middle of the call."""
    os._exit(1)


if __name__ == "__main__":
    server.run()
