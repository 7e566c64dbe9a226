"""Hints files: what our `@tool` declares (phrasing, entities, state conditions, pools), for tools we did not write.

A hints file (TOML or JSON, the same shape) gives any tool, by its exact name, the keys of
`servers.environment.ToolSpec.hints()` plus a `description` and per-parameter `pools`; a
top-level `[pools]` table holds value pools by parameter name or entity type.  The one point
where the file meets a server is `Hints.apply`, run on every tool list a connection reads:
a hinted tool then looks exactly as if its server had published those hints itself.

Checks: on load, unknown keys, wrong types and template markup; against the server's tools,
a tool it does not list and a template slot naming a parameter (or, where the server
publishes an output schema, a result field) the tool does not have.  Each failure is one
`HintsError` line naming the file, the tool and the key.
"""

import functools
import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from servers.phrasing import TemplateError, parse_template
from simulator.errors import SimulatorError
from simulator.records import ToolInfo

__all__ = ["Hints", "HintsError", "load_hints"]

_LISTS = ("asks", "answers", "requires", "provides")
_MAPS = ("names", "consumes", "produces")
_TOOL_KEYS = frozenset({"read_only", "description", "pools", *_LISTS, *_MAPS})


class HintsError(SimulatorError):
    """A hints file that cannot be read or does not fit the server's tools (the CLI exits 2)."""

    exit_code = 2


@dataclass(frozen=True)
class Hints:
    """A checked hints file: per-tool hints (in `ToolSpec.hints()` form), descriptions and pools."""

    path: str
    tools: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    descriptions: Mapping[str, str] = field(default_factory=dict)
    pools: Mapping[str, list[Any]] = field(default_factory=dict)
    """Value pools by parameter name or entity type; a tool's own pools are added under its parameters' names."""

    def tables(self) -> dict[str, dict[str, Any]]:
        """Per tool, its hints and its description: what `servers.with_hints` puts on a served class."""
        return {
            name: hints | ({"description": self.descriptions[name]} if name in self.descriptions else {})
            for name, hints in self.tools.items()
        }

    def check(self, tools: Iterable[ToolInfo]) -> None:
        """Refuse hints for a tool the server does not list, or slots the tool does not have."""
        listed = {tool.name: tool for tool in tools}
        for name, hints in self.tools.items():
            if name not in listed:
                known = ", ".join(sorted(listed)) or "none"
                raise HintsError(f"{self.path}: tools.{name}: the server lists no tool {name!r} (it lists: {known})")
            _check_slots(self.path, listed[name], hints)

    def apply(self, tools: Iterable[ToolInfo]) -> list[ToolInfo]:
        """`tools` with the file's hints merged over what each server published (checked first)."""
        tools = list(tools)
        self.check(tools)
        return [self._applied(tool) for tool in tools]

    def _applied(self, tool: ToolInfo) -> ToolInfo:
        if tool.name not in self.tools:
            return tool
        hints = {**_EMPTY, **(tool.hints or {}), **self.tools[tool.name]}
        return replace(
            tool,
            hints=hints,
            read_only=hints["read_only"],
            description=self.descriptions.get(tool.name, tool.description),
        )


@functools.cache
def load_hints(path: str | Path) -> Hints:
    """Read and check a hints file (`.toml`, else JSON); read once per process."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise HintsError(f"{where}: cannot read: {error.strerror}") from None
    try:
        data = tomllib.loads(text) if where.endswith(".toml") else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise HintsError(f"{where}: not valid {'TOML' if where.endswith('.toml') else 'JSON'}: {error}") from None
    if not isinstance(data, dict):
        raise HintsError(f"{where}: expected an object with 'tools' and 'pools'")
    if unknown := sorted(set(data) - {"tools", "pools"}):
        raise HintsError(f"{where}: unknown key {unknown[0]!r} (known: pools, tools)")
    pools = {key: list(values) for key, values in _pools(where, "pools", data.get("pools", {})).items()}
    tools: dict[str, dict[str, Any]] = {}
    descriptions: dict[str, str] = {}
    for name, table in _table(where, "tools", data.get("tools", {})).items():
        tools[name], description, own_pools = _tool_hints(where, name, table)
        if description is not None:
            descriptions[name] = description
        for key, values in own_pools.items():
            pools.setdefault(key, []).extend(value for value in values if value not in pools[key])
    return Hints(where, tools, descriptions, pools)


_EMPTY: dict[str, Any] = {
    "read_only": False,
    "consumes": {},
    "produces": {},
    "requires": [],
    "provides": [],
    "asks": [],
    "answers": [],
    "names": {},
}


def _tool_hints(where: str, name: str, table: dict[str, Any]) -> tuple[dict[str, Any], str | None, dict[str, list]]:
    at = f"{where}: tools.{name}"
    if unknown := sorted(set(table) - _TOOL_KEYS):
        raise HintsError(f"{at}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_TOOL_KEYS))})")
    hints: dict[str, Any] = {}
    if "read_only" in table:
        if not isinstance(table["read_only"], bool):
            raise HintsError(f"{at}: read_only: expected true or false")
        hints["read_only"] = table["read_only"]
    for key in _LISTS:
        if key in table:
            values = table[key]
            if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
                raise HintsError(f"{at}: {key}: expected a list of strings")
            hints[key] = list(values)
    for key in _MAPS:
        if key in table:
            values = _table(where, f"tools.{name}.{key}", table[key])
            if not all(isinstance(value, str) for value in values.values()):
                raise HintsError(f"{at}: {key}: expected a table of strings")
            hints[key] = dict(values)
    for key in ("asks", "answers"):
        for text in hints.get(key, []):
            _parsed(at, key, text)
    for text in hints.get("names", {}).values():
        _parsed(at, "names", text)
    description = table.get("description")
    if description is not None and not isinstance(description, str):
        raise HintsError(f"{at}: description: expected a string")
    return hints, description, _pools(where, f"tools.{name}.pools", table.get("pools", {}))


def _check_slots(where: str, tool: ToolInfo, hints: dict[str, Any]) -> None:
    """Every slot names something the tool has; every request says every required parameter."""
    at = f"{where}: tools.{tool.name}"
    parameters = set(tool.parameters)
    required = set(tool.required) - {p for p, entity in hints.get("consumes", {}).items() if entity.endswith("token")}
    fields = set((tool.output_schema or {}).get("properties", {})) if tool.output_schema else None
    for text in hints.get("asks", []):
        template = parse_template(text)
        if unknown := sorted(template.slots - parameters):
            raise HintsError(f"{at}: asks: {text!r} names {unknown[0]!r}, which is no parameter of the tool")
        if unsaid := sorted(required - template.required_slots):
            raise HintsError(f"{at}: asks: {text!r} leaves out the required parameter {unsaid[0]!r}")
    for text in hints.get("answers", []):
        for slot in sorted(parse_template(text).slots):
            if slot.startswith("@") and slot[1:] not in parameters:
                raise HintsError(f"{at}: answers: {text!r} names {slot!r}, which is no parameter of the tool")
            if not slot.startswith("@") and fields is not None and slot.split(".")[0] not in fields:
                raise HintsError(f"{at}: answers: {text!r} names {slot!r}, which is no field of the tool's result")
    for key in ("names", "produces"):
        for result_field, text in hints.get(key, {}).items():
            if fields is not None and result_field not in fields:
                raise HintsError(f"{at}: {key}: {result_field!r} is no field of the tool's result")
            if key == "names" and (unknown := sorted(parse_template(text).slots - parameters)):
                raise HintsError(f"{at}: names: {text!r} names {unknown[0]!r}, which is no parameter of the tool")
    if unknown := sorted(set(hints.get("consumes", {})) - parameters):
        raise HintsError(f"{at}: consumes: {unknown[0]!r} is no parameter of the tool")


def _parsed(at: str, key: str, text: str) -> None:
    try:
        parse_template(text)
    except TemplateError as error:
        raise HintsError(f"{at}: {key}: {error}") from None


def _table(where: str, key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise HintsError(f"{where}: {key}: expected a table")
    return value


def _pools(where: str, key: str, value: Any) -> dict[str, list[Any]]:
    pools = _table(where, key, value)
    for name, values in pools.items():
        if not isinstance(values, list):
            raise HintsError(f"{where}: {key}.{name}: a pool must be a list of values")
    return pools
