"""Values for arguments of unknown servers: what a schema allows and what a result said.

Two halves: `schema_value` builds a value from a JSON schema alone (objects from their
properties, arrays of their item type, formats, enums, defaults, examples and "e.g."
values of descriptions); `result_tokens` pulls short values out of a result (fields of
JSON, and identifiers, names and paths inside text), never whole messages, so a later
call gets `budget_11`, not "Successfully created directory budget_11".
"""

import functools
import random
import re
from collections.abc import Iterable
from typing import Any

__all__ = [
    "describe_kind",
    "json_types",
    "leaf_words",
    "result_tokens",
    "schema_options",
    "schema_value",
    "words",
]

_WORDS = ["alpha", "report", "notes", "summary", "draft", "project", "budget", "review", "update", "archive"]
_PATH_WORDS = {"path", "paths", "file", "files", "filename", "dir", "directory", "folder", "source", "destination"}
_FORMATS = {
    "date-time": "2026-01-15T10:30:00Z",
    "date": "2026-01-15",
    "time": "10:30:00",
    "email": "alex@example.com",
    "uri": "https://example.com/item",
    "url": "https://example.com/item",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
    "uuid": "123e4567-e89b-42d3-a456-426614174000",
}
_EXAMPLE = re.compile(r"(?:e\.g\.|for example|such as|example:)[,:]?\s*(['\"`])([^'\"`]{1,60})\1", re.IGNORECASE)
_BARE_EXAMPLE = re.compile(r"(?:e\.g\.|for example|example:)[,:]?\s*([\w./:+-]{1,60}[\w/])", re.IGNORECASE)
_PATH = re.compile(r"(?<![\w:/])(/[\w.@+-]+(?:/[\w.@+-]+)*)")
_LISTED = re.compile(r"^\s*\[(FILE|DIR)\]\s+(\S.*?)(?:\s{2,}|\t|\s*$)", re.MULTILINE)
_PAIR = re.compile(r"^\s*([A-Za-z][\w ]{0,30}?)\s*[:=]\s*(\S[^\n]{0,60}?)\s*$", re.MULTILINE)
_IDENTIFIER = re.compile(r"(?<![\w/])([A-Za-z][\w-]*\d[\w-]*|[0-9a-f]{8}-[0-9a-f-]{27})(?![\w/])")
_QUOTED = re.compile(r"['\"`]([^'\"`\n]{1,40})['\"`]")

MESSAGE_WORDS = 4
"""A string of this many words or more is a message, not a value to pass on."""


def words(name: str) -> list[str]:
    """`entityName` -> ['entity', 'name']; `repo_path` -> ['repo', 'path']."""
    return list(_words(name))


def leaf_words(name: str) -> list[str]:
    """The words of a name, the last one singular: `entityNames` -> ['entity', 'name']."""
    found = words(name)
    if found and len(found[-1]) > 3 and found[-1].endswith("s") and not found[-1].endswith("ss"):
        found[-1] = found[-1][:-1]
    return found


def describe_kind(name: str, schema: dict[str, Any], tool: str = "") -> str:
    """What a parameter holds, as far as its name, format and tool tell: `dir`, `file` or `value`."""
    found = set(leaf_words(name)) | set(words(name))
    if found & {"dir", "directory", "folder"}:
        return "dir"
    if found & _PATH_WORDS or schema.get("format") == "path":
        return "dir" if set(words(tool)) & {"directory", "dir", "folder", "tree", "list", "search"} else "file"
    return "value"


def json_types(schema: dict[str, Any]) -> set[str]:
    types = set()
    for option in schema.get("anyOf", schema.get("oneOf", [schema])):
        kind = option.get("type")
        types.update(kind if isinstance(kind, list) else [kind] if kind else [])
    if not types and "properties" in schema:
        types.add("object")
    return types


def schema_options(schema: dict[str, Any]) -> list[Any]:
    """Values the schema itself offers: enum, const, examples, default, "e.g." in the description."""
    for option in schema.get("anyOf", schema.get("oneOf", [schema])):
        if "enum" in option:
            return list(option["enum"])
        if "const" in option:
            return [option["const"]]
    if schema.get("examples"):
        return list(schema["examples"])
    description = schema.get("description", "")
    quoted = [match.group(2) for match in _EXAMPLE.finditer(description)]
    bare = [match.group(1) for match in _BARE_EXAMPLE.finditer(description)]
    if (quoted or bare) and "string" in json_types(schema):
        return quoted or bare
    if "default" in schema and schema["default"] not in (None, [], {}):
        return [schema["default"]]
    return []


def schema_value(name: str, schema: dict[str, Any], rng: random.Random) -> Any:
    """A value of the schema's type from the schema alone: options first, else typed random."""
    options = schema_options(schema)
    if options:
        return rng.choice(options)
    types = json_types(schema) - {"null"}
    option = next((o for o in schema.get("anyOf", schema.get("oneOf", [schema])) if o.get("type") in types), schema)
    if "integer" in types or "number" in types:
        low = option.get("minimum", option.get("exclusiveMinimum", 0))
        high = option.get("maximum", option.get("exclusiveMaximum", max(low, 0) + 100))
        if "integer" in types:
            return rng.randint(int(low), int(high))
        return round(rng.uniform(low, high), 2)
    if "boolean" in types:
        return rng.random() < 0.5
    if "array" in types:
        items = option.get("items", {})
        count = max(option.get("minItems", 1), rng.randint(1, 4))
        return [schema_value(name, items, rng) for _ in range(count)]
    if "object" in types:
        return {
            key: schema_value(key, sub, rng)
            for key, sub in option.get("properties", {}).items()
            if key in option.get("required", []) or rng.random() < 0.3
        }
    fixed = _FORMATS.get(option.get("format", ""))
    if fixed is not None:
        return fixed
    return f"{rng.choice(_WORDS)}_{rng.randint(1, 99)}"


def result_tokens(result: Any, text: str, arguments: dict[str, Any]) -> list[tuple[str, Any]]:
    """(field, value) pairs worth offering to later calls: JSON scalars that are not messages,
    and identifiers, names and paths found inside messages and text results."""
    if result is None:
        return list(_text_tokens(text, arguments))
    found: list[tuple[str, Any]] = []
    _json_tokens(result, "result", arguments, found)
    return found


def _json_tokens(value: Any, field: str, arguments: dict[str, Any], found: list[tuple[str, Any]]) -> None:
    """Append the tokens of a JSON value to `found` (one list, not nested generators: this reads every result)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _json_tokens(item, key, arguments, found)
    elif isinstance(value, list):
        for item in value:
            _json_tokens(item, field, arguments, found)
    elif isinstance(value, str):
        if _is_message(value):
            found.extend(_text_tokens(value, arguments))
        elif value:
            found.append((field, value))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        found.append((field, value))


def _is_message(value: str) -> bool:
    return "\n" in value or ": " in value or len(value) > 80 or len(value.split()) >= MESSAGE_WORDS


def _text_tokens(text: str, arguments: dict[str, Any]) -> Iterable[tuple[str, Any]]:
    seen: set[str] = set()

    def once(field: str, value: str) -> Iterable[tuple[str, Any]]:
        if value not in seen:
            seen.add(value)
            yield field, value

    folders = [v for k, v in arguments.items() if isinstance(v, str) and describe_kind(k, {}, "dir") == "dir"]
    directory = folders[0] if folders else None
    for kind, name in _LISTED.findall(text):
        joined = f"{directory.rstrip('/')}/{name}" if directory and not name.startswith("/") else name
        yield from once("directory" if kind == "DIR" else "path", joined)
    for line in text.splitlines():
        for path in _PATH.findall(line):
            yield from once("directory" if "director" in line.lower() else "path", path.rstrip("."))
    for key, value in _PAIR.findall(text):
        if not _is_message(value):
            yield from once("_".join(words(key)) or "value", value.strip("'\"` "))
    for value in _IDENTIFIER.findall(text):
        yield from once("id", value)
    for value in _QUOTED.findall(text):
        if not _is_message(value):
            yield from once("name", value)


@functools.lru_cache(maxsize=4096)
def _words(name: str) -> tuple[str, ...]:
    """`words`, worked out once per name: the explorer asks about the same few names at every call."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return tuple(word.lower() for word in re.split(r"[^A-Za-z0-9]+", spaced) if word)
