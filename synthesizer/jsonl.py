"""JSON Lines files a user hands us (exports, task files, anyone's chat data): read line by line, and
every problem one line that names the file and the line, never a traceback."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["json_lines", "json_objects"]


def json_lines(path: Path, error: type[Exception]) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line, streamed; a file that cannot be read, is not UTF-8 or has
    a line that is not JSON raises `error` naming where (`data.jsonl:2: not JSON: ...`)."""
    try:
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, 1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except ValueError as problem:
                    raise error(f"{path}:{number}: not JSON: {problem}") from None
                yield number, value
    except OSError as problem:
        raise error(f"{path}: cannot read: {problem.strerror or problem}") from None
    except UnicodeDecodeError as problem:
        raise error(f"{path}: not UTF-8 text: {problem.reason} at byte {problem.start}") from None


def json_objects(path: Path, error: type[Exception]) -> Iterator[tuple[int, dict[str, Any]]]:
    """`json_lines` where every line must be a JSON object."""
    for number, value in json_lines(path, error):
        if not isinstance(value, dict):
            raise error(f"{path}:{number}: not a JSON object")
        yield number, value
