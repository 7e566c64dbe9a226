"""Values for arguments of unknown servers: what a schema allows and what a result said.

Two halves: `schema_value` builds a value from a JSON schema alone (objects from their
properties, arrays of their item type, formats, `pattern`, lengths and bounds, enums,
defaults, examples, "e.g." values and enum-like lists of descriptions); `result_tokens`
pulls short values out of a result (fields of JSON, JSON inside text, and identifiers,
names and paths inside text), never whole messages nor error texts, so a later call gets
`budget_11`, not "Successfully created directory budget_11" nor "Tag not found".
`fits` says whether a value meets a schema, constraints included.
"""

import functools
import json
import random
import re
from collections.abc import Iterable, Iterator
from re import _constants as sre_constants  # type: ignore[attr-defined]  # the parser `re` itself uses
from re import _parser as sre_parse  # type: ignore[attr-defined]  # (the public `sre_parse` is deprecated)
from typing import Any

from servers import canonical_json

__all__ = [
    "REFERENCE_WORDS",
    "describe_kind",
    "fits",
    "json_types",
    "leaf_values",
    "leaf_words",
    "listed_options",
    "reference_entity",
    "result_tokens",
    "schema_options",
    "schema_value",
    "value_key",
    "words",
]

REFERENCE_WORDS = {"id", "uuid", "key", "token", "handle", "ref", "number", "slug", "code"}
"""Last words of a parameter that make it a reference to a thing (`taskId`, `session_token`): such a value is
meant to be used again and again, and only a result of the thing's own kind may feed it."""

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
_LISTED_OPTIONS = re.compile(
    r"(?:\(|\{|\[|one of:?\s*|either\s+|values?:\s*|∈\s*\{?)"
    r"((?:['\"`]?[A-Za-z][\w-]{0,30}['\"`]?\s*(?:,|\||/|\bor\b)\s*){1,12}['\"`]?[A-Za-z][\w-]{0,30}['\"`]?)",
    re.IGNORECASE,
)
_ERRORISH = re.compile(
    r"\b(?:not found|no such|does not exist|doesn't exist|unknown|invalid|error|failed|denied|required)\b",
    re.IGNORECASE,
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_FORMAT_CHECKS = {
    "uuid": _UUID,
    "date-time": re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$"),
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "email": re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    "uri": re.compile(r"^[a-zA-Z][\w+.-]*:\S+$"),
    "url": re.compile(r"^[a-zA-Z][\w+.-]*://\S+$"),
}
_ERROR_KEYS = {"error", "errors", "error_message", "errormessage", "exception", "traceback"}

MESSAGE_WORDS = 4
"""A string of this many words or more is a message, not a value to pass on."""


def leaf_values(value: Any) -> Iterator[Any]:
    """The values a person or a result would have to state: strings and numbers, not flags, empties or
    one-character strings (".", "/", "a": any text holds them, so they prove nothing)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from leaf_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaf_values(item)
    elif (
        isinstance(value, str)
        and len(value.strip()) > 1
        or isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        yield value


def value_key(value: Any) -> str:
    """A value as a dialogue would show it: 5.0 and 5 are the same number."""
    return canonical_json(int(value) if isinstance(value, float) and value.is_integer() else value)


def words(name: str) -> list[str]:
    """`entityName` -> ['entity', 'name']; `repo_path` -> ['repo', 'path']."""
    return list(_words(name))


def leaf_words(name: str) -> list[str]:
    """The words of a name, the last one singular: `entityNames` -> ['entity', 'name']."""
    found = words(name)
    if found:
        found[-1] = _singular(found[-1])
    return found


def reference_entity(name: str) -> str | None:
    """The kind of thing a reference parameter names: `taskId` -> 'task', `depends_on_task_id` -> 'task',
    `session_token` -> 'session'; None for a parameter that is no reference (`title`) or a bare `id`."""
    found = leaf_words(name)
    if len(found) < 2 or found[-1] not in REFERENCE_WORDS:
        return None
    return _singular(found[-2])


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
    listed = listed_options(description)
    if listed and "string" in json_types(schema):
        return listed
    if "default" in schema and schema["default"] not in (None, [], {}):
        return [schema["default"]]
    return []


def listed_options(description: str) -> list[str]:
    """An enum-like list a description spells out: "(todo, in_progress, done)", "one of: a | b", "{'x', 'y'}"."""
    for match in _LISTED_OPTIONS.finditer(description):
        items = [item.strip(" '\"`") for item in re.split(r",|\||/|\bor\b", match.group(1))]
        items = [item for item in items if item]
        if len(items) >= 2 and all(re.fullmatch(r"[A-Za-z][\w-]*", item) for item in items):
            return list(dict.fromkeys(items))
    return []


def schema_value(name: str, schema: dict[str, Any], rng: random.Random) -> Any:
    """A value of the schema's type from the schema alone: options first, else typed random."""
    options = schema_options(schema)
    if options:
        return rng.choice(options)
    types = json_types(schema) - {"null"}
    option = next((o for o in schema.get("anyOf", schema.get("oneOf", [schema])) if json_types(o) & types), schema)
    if "integer" in types or "number" in types:
        low, high = _bounds(option, "integer" in types)
        if "integer" in types:
            return rng.randint(low, high)
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
    if option.get("pattern"):
        made = _from_pattern(option["pattern"], rng)
        if made is not None:
            return _sized(made, option, rng) if fits(_sized(made, option, rng), option) else made
    return _sized(f"{rng.choice(_WORDS)}_{rng.randint(1, 99)}", option, rng)


def fits(value: Any, schema: dict[str, Any], types: set[str] | None = None) -> bool:
    """Whether `value` is of the schema's type and meets its enum, `pattern`, `format`, lengths and bounds;
    `types`: `json_types(schema)`, when the caller checks many values against one schema."""
    types = json_types(schema) if types is None else types
    if not types:
        return True
    if isinstance(value, bool):
        return "boolean" in types
    if isinstance(value, (int, float)):
        if not (types & {"integer", "number"}) or (isinstance(value, float) and "number" not in types):
            return False
        option = _option_of(schema, {"integer", "number"})
        low, high = _bounds(option, False, default_high=None)
        return low <= value and (high is None or value <= high)
    if isinstance(value, str):
        if "string" not in types or ("enum" in schema and value not in schema["enum"]):
            return False
        option = _option_of(schema, {"string"})
        if not option.get("minLength", 0) <= len(value) <= option.get("maxLength", len(value)):
            return False
        check = _FORMAT_CHECKS.get(option.get("format", ""))
        if check is not None and not check.match(value):
            return False
        return not option.get("pattern") or _matches(option["pattern"], value)
    return False


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
            if str(key).lower() not in _ERROR_KEYS:  # an error text is never a value to pass on
                _json_tokens(item, key, arguments, found)
    elif isinstance(value, list):
        for item in value:
            _json_tokens(item, field, arguments, found)
    elif isinstance(value, str):
        inner = _json_inside(value)
        if inner is not None:  # FastMCP 1.x and friends: `json.dumps(...)` returned as text
            _json_tokens(inner, field, arguments, found)
        elif _is_message(value):  # words mentioned in a message rank below the result's own fields
            found.extend(
                (f"mentioned_{key}" if key in ("id", "name") else key, token)
                for key, token in _text_tokens(value, arguments)
            )
        elif value and not _ERRORISH.search(value):
            found.append((field, value))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        found.append((field, value))


def _json_inside(value: str) -> Any:
    stripped = value.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        inner = json.loads(stripped)
    except ValueError:
        return None
    return inner if isinstance(inner, (dict, list)) else None


def _option_of(schema: dict[str, Any], types: set[str]) -> dict[str, Any]:
    """The branch of an `anyOf`/`oneOf` of one of `types` (the schema itself when it has none)."""
    options = schema.get("anyOf", schema.get("oneOf", [schema]))
    return next((option for option in options if json_types(option) & types), schema)


def _bounds(option: dict[str, Any], integer: bool, default_high: float | None = 100) -> tuple[Any, Any]:
    """The least and greatest values a numeric schema allows (exclusive bounds moved inside)."""
    step = 1 if integer else 0.01
    low = option.get("minimum", option["exclusiveMinimum"] + step if "exclusiveMinimum" in option else None)
    high = option.get("maximum", option["exclusiveMaximum"] - step if "exclusiveMaximum" in option else None)
    low = (0 if high is None or high >= 0 else high - 100) if low is None else low
    if high is None and default_high is not None:
        high = max(low, 0) + default_high
    if integer:
        return int(-(-low // 1)), int(high // 1) if high is not None else None
    return low, high


def _sized(value: str, option: dict[str, Any], rng: random.Random) -> str:
    """`value` padded or cut to the schema's `minLength`/`maxLength`."""
    low, high = option.get("minLength", 0), option.get("maxLength")
    while len(value) < low:
        value += rng.choice(_WORDS)
    return value[:high] if high is not None else value


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _matches(pattern: str, value: str) -> bool:
    compiled = _compiled(pattern)
    return compiled is None or compiled.search(value) is not None  # JSON Schema patterns are unanchored


def _from_pattern(pattern: str, rng: random.Random) -> str | None:
    """A string that matches a regular expression, built from its parse tree; None when it has a construct
    this does not build (lookarounds, back references) or the result does not match."""
    try:
        made = "".join(_build(sre_parse.parse(pattern), rng))
    except (re.error, ValueError, KeyError, TypeError):
        return None
    return made if _matches(pattern, made) else None


_CATEGORIES = {
    sre_constants.CATEGORY_DIGIT: "0123456789",
    sre_constants.CATEGORY_WORD: "abcdefghijklmnopqrstuvwxyz0123456789",
    sre_constants.CATEGORY_SPACE: " ",
    sre_constants.CATEGORY_NOT_DIGIT: "abcdefgh",
    sre_constants.CATEGORY_NOT_WORD: "-",
    sre_constants.CATEGORY_NOT_SPACE: "abcdefgh",
}


def _build(parsed: Any, rng: random.Random) -> list[str]:
    out: list[str] = []
    for op, arg in parsed:
        if op == sre_constants.LITERAL:
            out.append(chr(arg))
        elif op == sre_constants.ANY:
            out.append(rng.choice("abcdefgh"))
        elif op == sre_constants.IN:
            out.append(_one_of(arg, rng))
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
            low, high, inner = arg
            high = low + 3 if high == sre_constants.MAXREPEAT else high
            for _ in range(rng.randint(low, max(low, min(high, low + 3)))):
                out.extend(_build(inner, rng))
        elif op == sre_constants.SUBPATTERN:
            out.extend(_build(arg[-1], rng))
        elif op == sre_constants.BRANCH:
            out.extend(_build(rng.choice(arg[1]), rng))
        elif op == sre_constants.CATEGORY:
            out.append(rng.choice(_CATEGORIES[arg]))
        elif op != sre_constants.AT:
            raise ValueError(f"cannot build {op}")
    return out


def _one_of(items: Any, rng: random.Random) -> str:
    choices: list[str] = []
    for op, arg in items:
        if op == sre_constants.NEGATE:
            raise ValueError("negated class")
        if op == sre_constants.LITERAL:
            choices.append(chr(arg))
        elif op == sre_constants.RANGE:
            choices.extend(chr(code) for code in range(arg[0], min(arg[1], arg[0] + 25) + 1))
        elif op == sre_constants.CATEGORY:
            choices.extend(_CATEGORIES[arg])
    return rng.choice(choices)


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


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
