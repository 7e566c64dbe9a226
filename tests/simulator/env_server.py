"""A server that reports its own environment: `getenv` answers a variable's value."""

import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("env-reporter")


@server.tool()
def getenv(name: str) -> str:
    """The value of an environment variable of this server's process ('' when unset)."""
    return os.environ.get(name, "")


if __name__ == "__main__":
    server.run()
