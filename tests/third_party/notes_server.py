"""A third-party-style MCP server for tests: object and array parameters, text results, errors
written as text without `isError`, and state kept in a file (`NOTES_FILE`), not in the process.

Run over stdio (`python notes_server.py`) or streamable HTTP (`python notes_server.py --port N`).
"""

import json
import os
import sys
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

server = MCPServer("notes")
STORE = Path(os.environ.get("NOTES_FILE", "notes.json"))


class Note(BaseModel):
    title: Annotated[str, Field(description="Title of the note, e.g. 'groceries'")]
    tags: Annotated[list[str], Field(description="Tags to file the note under")]


def _load() -> dict[str, dict]:
    return json.loads(STORE.read_text()) if STORE.exists() else {}


def _save(notes: dict[str, dict]) -> None:
    STORE.write_text(json.dumps(notes, sort_keys=True))


@server.tool()
def create_note(note: Note) -> str:
    """Create a note and get back its id."""
    notes = _load()
    note_id = f"n{len(notes) + 1}"
    notes[note_id] = note.model_dump()
    _save(notes)
    return f"Created note {note_id} titled {note.title!r}"


@server.tool()
def read_note(note_id: Annotated[str, Field(description="Id of the note, as create_note returned it")]) -> str:
    """Read a note by its id."""
    notes = _load()
    if note_id not in notes:
        return f"Error: there is no note {note_id!r}"  # a text error, no isError: the rule must catch it
    return json.dumps(notes[note_id])


@server.tool()
def tag_notes(
    note_ids: Annotated[list[str], Field(description="Ids of the notes to tag")],
    tag: Annotated[str, Field(description="The tag to add")],
) -> str:
    """Add a tag to several notes at once."""
    notes = _load()
    missing = [note_id for note_id in note_ids if note_id not in notes]
    if missing:
        raise ValueError(f"unknown notes: {missing}")
    for note_id in note_ids:
        notes[note_id]["tags"].append(tag)
    _save(notes)
    return f"Tagged {len(note_ids)} notes"


@server.tool()
def count_notes() -> str:
    """How many notes there are."""
    return f"count: {len(_load())}"


if __name__ == "__main__":
    if "--port" in sys.argv:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[sys.argv.index("--port") + 1]))
    else:
        server.run()
