"""A third-party-style MCP server for tests: no hints, no output schemas, handles not named like keys."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("kv-store")
values: dict[str, str] = {}


@server.tool()
def put(value: str):
    """Store a value and get back the handle to read it with."""
    handle = f"h{len(values) + 1:03d}"
    values[handle] = value
    return {"handle": handle}


@server.tool()
def get(key: str):
    """Read a stored value by the handle `put` returned."""
    if key not in values:
        raise ValueError(f"unknown key {key!r}")
    return {"value": values[key]}


@server.tool()
def size():
    """How many values are stored."""
    return {"count": len(values)}


if __name__ == "__main__":
    server.run()
