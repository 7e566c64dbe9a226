"""Draft a hints file for a server we did not write, by rules: entities, edges, read-only guesses, safe asks.

What the rules can know: a tool's name and schema (`create_story` makes stories; `story_id` takes
one), and what a short exploration showed (`request_planning`'s result field `requestId` fed
`get_next_task`'s `requestId` in a successful call).  From that they draft, per tool, `read_only`,
`consumes` (parameter -> entity) and `produces` (result field -> entity), and `asks` only where a
request can be written from names alone without naming an id ("Create a task titled {title}.").
Everything else (answers, pools, better asks) is for a model (`funreason annotate --llm openai`) or a
person; the draft says so in its header.  The file is in the shared hints schema (`simulator.hints`).
"""

import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import networkx as nx

from simulator.graph import CREATION_VERBS, build_graph, created_entities
from simulator.records import ToolInfo, Trajectory
from simulator.values import reference_entity, words

__all__ = ["draft_hints", "hints_toml"]

_READ_VERBS = {"get", "list", "read", "open", "search", "find", "show", "fetch", "view", "describe", "query", "count"}
_WRITE_VERBS = CREATION_VERBS | {
    "update",
    "delete",
    "remove",
    "set",
    "mark",
    "approve",
    "archive",
    "complete",
    "move",
    "edit",
    "write",
    "send",
    "reopen",
    "resolve",
    "tag",
    "rename",
}
_PHRASES = {"list": "List the {noun}", "get": "Show me the {noun}", "read": "Show me the {noun}"}


def draft_hints(
    tools: Iterable[ToolInfo], trajectories: Iterable[Trajectory] = (), graph: nx.DiGraph | None = None
) -> dict[str, Any]:
    """A hints table per tool (the shared schema's keys) from names, schemas and observed successful calls.

    `trajectories` (explored with this server) add what execution showed: a value that a successful call
    took from an earlier successful result ties the result field to the parameter under one entity.
    """
    tools = list(tools)
    graph = graph if graph is not None else build_graph(tools, third_party=True)
    consumes: dict[str, dict[str, str]] = {tool.name: {} for tool in tools}
    produces: dict[str, Counter[tuple[str, str]]] = {tool.name: Counter() for tool in tools}
    for trajectory in trajectories:
        for step in trajectory.steps:
            if step.is_error or step.tool not in consumes:
                continue
            for param, origin in step.provenance.items():
                if origin.get("source") != "result" or origin.get("tool") not in produces:
                    continue
                entity = reference_entity(param)
                if entity is None or trajectory.steps[origin["step"]].is_error:
                    continue  # references only (a title taken again is no dependency); never from a failed call
                consumes[step.tool][param] = entity
                produces[origin["tool"]][(origin["field"], entity)] += 1
    for producer, consumer, data in graph.edges(data=True):  # rules where execution showed nothing
        for reason in data["reasons"]:
            param, entity = reason.get("param"), reason.get("entity")
            if reason["kind"] != "value" or not param or param in consumes[consumer] or entity is None:
                continue
            if reference_entity(param) == entity and created_entities(_named(tools, producer)) & {entity}:
                consumes[consumer][param] = entity
                if not any(known == entity for _, known in produces[producer]):
                    produces[producer][(param, entity)] += 1  # the field of that name, where the result has one
    draft: dict[str, Any] = {}
    for tool in tools:
        table: dict[str, Any] = {"read_only": _read_only(tool)}
        fields: dict[str, str] = {}
        for (field, entity), _count in produces[tool.name].most_common():
            fields.setdefault(field, entity)
        if consumes[tool.name]:
            table["consumes"] = dict(sorted(consumes[tool.name].items()))
        if fields:
            table["produces"] = dict(sorted(fields.items()))
        asks = _rule_asks(tool)
        if asks:
            table["asks"] = asks
        draft[tool.name] = table
    return {"tools": draft}


def hints_toml(draft: dict[str, Any], header: str = "") -> str:
    """The draft as TOML, one table per tool, in the tools' order (a person reads and edits it)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    if draft.get("pools"):
        lines += ["", "[pools]", *(f"{_key(k)} = {_value(v)}" for k, v in draft["pools"].items())]
    for name, table in draft.get("tools", {}).items():
        lines += ["", f"[tools.{_key(name)}]"]
        lines += [f"{_key(key)} = {_value(value)}" for key, value in table.items() if key != "pools"]
        if table.get("pools"):
            lines += [f"[tools.{_key(name)}.pools]", *(f"{_key(k)} = {_value(v)}" for k, v in table["pools"].items())]
    return "\n".join(lines).lstrip("\n") + "\n"


def _named(tools: list[ToolInfo], name: str) -> ToolInfo:
    return next(tool for tool in tools if tool.name == name)


def _read_only(tool: ToolInfo) -> bool:
    """The server's own annotation, else a guess from the first word of the name."""
    if tool.read_only is not None:
        return tool.read_only
    first = (words(tool.name) or [""])[0]
    return first in _READ_VERBS and first not in _WRITE_VERBS


def _rule_asks(tool: ToolInfo) -> list[str]:
    """A request from names alone, only where it names no id and every required parameter is something
    a user says (a title, a name, a text): `create_task(title)` -> "Create a task with the title {title}."."""
    found = words(tool.name)
    if not found or any(reference_entity(param) for param in tool.parameters if param in tool.required):
        return []
    verb, noun = found[0], " ".join(found[1:])
    required = [param for param in tool.parameters if param in tool.required]
    if any(not _sayable(tool.parameters[param]) for param in required) or not noun:
        return []
    if verb in _PHRASES and not required:
        return [_PHRASES[verb].format(noun=noun) + "."]
    if verb not in CREATION_VERBS or not required:
        return []
    given = " and ".join(f"the {' '.join(words(param))} {{{param}}}" for param in required)
    optional = "".join(
        f"[, {' '.join(words(param))} {{{param}}}]"
        for param, schema in tool.parameters.items()
        if param not in tool.required and _sayable(schema) and not reference_entity(param)
    )
    article = "an" if noun[:1] in "aeiou" else "a"
    return [f"{verb.capitalize()} {article} {noun} with {given}{optional}."]


def _sayable(schema: dict[str, Any]) -> bool:
    return schema.get("type") in ("string", "integer", "number") and "format" not in schema


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)
