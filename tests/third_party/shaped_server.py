"""A third-party-style MCP server whose results are JSON written as text (FastMCP 1.x style: a `str`
return holding `json.dumps(...)`), whose errors are JSON shapes in French without `isError`, and whose
ids follow a schema `pattern`.  State in a file (`ITEMS_FILE`).  Run over stdio: `python shaped_server.py`.
"""

import json
import os
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

server = MCPServer("items")
STORE = Path(os.environ.get("ITEMS_FILE", "items.json"))
ItemId = Annotated[str, Field(description="Id of the item", pattern=r"^item-[0-9]+$")]


def _load() -> dict[str, dict]:
    return json.loads(STORE.read_text()) if STORE.exists() else {}


def _save(items: dict[str, dict]) -> None:
    STORE.write_text(json.dumps(items, sort_keys=True))


@server.tool()
def create_item(title: Annotated[str, Field(description="Title of the item")]) -> str:
    """Create an item and get back its id."""
    items = _load()
    item_id = f"item-{len(items) + 1}"
    items[item_id] = {"id": item_id, "title": title, "state": "open"}
    _save(items)
    return json.dumps(items[item_id])


@server.tool()
def get_item(item_id: ItemId) -> str:
    """Read one item."""
    items = _load()
    if item_id not in items:
        return json.dumps({"status": "error", "message": "Élément introuvable"})
    return json.dumps(items[item_id])


@server.tool()
def close_item(item_id: ItemId) -> dict:
    """Close an item."""
    items = _load()
    if item_id not in items:
        return {"success": False, "raison": "aucun élément de ce nom"}
    items[item_id]["state"] = "closed"
    _save(items)
    return {"success": True, "id": item_id}


@server.tool()
def list_items() -> str:
    """List the items."""
    items = _load()
    return json.dumps({"items": list(items.values()), "total": len(items)})


if __name__ == "__main__":
    server.run()
