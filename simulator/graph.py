"""The Environment-API graph: tools as nodes, an edge A -> B when B needs what A provides.

Edges carry `reasons`, each with a `kind` (`value`: an output of A feeds a parameter
of B; `state`: A establishes a condition B needs) and a `source` (`declared` in tool
metadata, `inferred` from schemas and names, `observed` in execution).
"""

import json
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import networkx as nx

from simulator.records import ToolInfo
from simulator.values import describe_kind, json_types, leaf_words, reference_entity, words

__all__ = [
    "CREATION_VERBS",
    "add_reason",
    "build_graph",
    "created_entities",
    "distances_to",
    "export_graph",
    "graph_from_json",
    "graph_to_json",
    "is_legal",
    "is_removal",
    "output_fields",
    "requirement_groups",
]

MAX_EVIDENCE = 3
"""Pieces of evidence kept per reason: enough to check it, few enough to keep graphs small."""

_LINKING_WORDS = {"id", "name", "path", "key", "token", "handle", "uri", "url", "code", "slug", "ref"}
"""Last words of a name that mark a reference rather than free text (inferred edges for unknown servers)."""

CREATION_VERBS = {"create", "add", "new", "register", "make", "insert", "post", "plan", "submit", "upload", "start"}
"""First words of a tool's name (or of its description) that say it makes something others then take."""

_REMOVAL_VERBS = {"delete", "remove", "cancel", "destroy", "drop", "rm", "unlink", "revoke", "erase", "discard"}
"""First words of a tool's name that say it does away with something: a story's last step on it."""

_DESCRIBED_CREATION = {"create", "add", "register", "insert", "submit", "upload"}
"""The creation verbs that also say so as a description's first word ("Make line-based edits" does not)."""

_READ_VERBS = {"get", "list", "read", "open", "search", "find", "show", "fetch", "view", "describe", "query"}
"""First words of a tool's name that say it shows things (and so their ids) without making them."""

_LINK_WORDS = {"to", "for", "from", "of", "by", "in", "on", "into", "with", "a", "an", "the", "and", "or"}

_LINKING_SUFFIXES = ("id", "_id", "_ids", "key", "_key", "token", "_token", "code", "_code", "handle", "path", "symbol")
"""Parameter names that carry a reference rather than free text: the only ones matched by name."""


def build_graph(tools: Iterable[ToolInfo], *, third_party: bool = False) -> nx.DiGraph:
    """Declared edges from our hints; inferred edges from schemas for tools that publish none.

    Tools that make things (`created_entities`) are marked `creates`, for the sampler to call first:
    those that publish no hints, and on a server we did not write (`third_party`) hinted ones too.
    """
    graph = nx.DiGraph()
    tools = list(tools)

    def unknown(tool: ToolInfo) -> bool:  # on a server we did not write, hints without entities infer nothing
        return tool.hints is None or (third_party and not (tool.hints.get("consumes") or tool.hints.get("produces")))

    for tool in tools:
        graph.add_node(tool.name, tool=tool.to_json())
        if (tool.hints is None or third_party) and tool.read_only is not True and created_entities(tool):
            graph.nodes[tool.name]["creates"] = sorted(created_entities(tool))
    for producer in tools:
        produced = _produced_entities(producer)
        provided = set((producer.hints or {}).get("provides", []))
        fields = output_fields(producer.output_schema)
        for consumer in tools:
            if consumer.name == producer.name:
                continue
            hints = consumer.hints or {}
            for param, entity in hints.get("consumes", {}).items():
                for field in produced.get(entity, []):
                    add_reason(
                        graph,
                        producer.name,
                        consumer.name,
                        "value",
                        "declared",
                        evidence={"rule": "declared", "output": f"{producer.name}.{field}", "input": param},
                        param=param,
                        field=field,
                        entity=entity,
                    )
            for condition in sorted(set(hints.get("requires", [])) & provided):  # a set: in hash order otherwise
                evidence = {"rule": "declared", "provides": condition}
                add_reason(
                    graph, producer.name, consumer.name, "state", "declared", evidence=evidence, condition=condition
                )
            if unknown(consumer) or unknown(producer):
                for param in consumer.parameters:
                    for field in _name_matches(param, fields):
                        evidence = {"rule": "same name", "output": f"{producer.name}.{field}", "input": param}
                        add_reason(
                            graph,
                            producer.name,
                            consumer.name,
                            "value",
                            "inferred",
                            evidence=evidence,
                            param=param,
                            field=field,
                            entity=param,
                        )
            if unknown(consumer) and unknown(producer):
                for param, entity, rule in _entity_matches(producer, consumer):
                    evidence = {"rule": rule, "input": f"{consumer.name}.{param}", "entity": entity}
                    field = {"dir": "directory", "file": "path"}.get(entity, param if entity == param else "id")
                    add_reason(
                        graph,
                        producer.name,
                        consumer.name,
                        "value",
                        "inferred",
                        evidence=evidence,
                        param=param,
                        field=field,
                        entity=entity,
                    )
                for param, path, field, kind in _schema_matches(producer, consumer):
                    evidence = {"output": f"{producer.name}.{field}", "input": f"{consumer.name}.{path}", "type": kind}
                    add_reason(
                        graph,
                        producer.name,
                        consumer.name,
                        "value",
                        "inferred",
                        evidence=evidence,
                        param=param,
                        field=field.rsplit(".", 1)[-1].removesuffix("[]"),
                        entity=param,
                    )
    for tool in list(graph.nodes):  # a maker of things nobody takes is no prerequisite of anything: not first
        if "creates" in graph.nodes[tool] and not graph.out_degree(tool):
            del graph.nodes[tool]["creates"]
    return graph


def created_entities(tool: ToolInfo) -> set[str]:
    """The kinds of thing a tool makes, by its name and schema: `create_story` -> {'story'};
    `request_planning` ("Register a new user request ...", taking `tasks`) -> {'request', 'planning', 'task'}."""
    name_words = words(tool.name)
    described = words(tool.description.split(".")[0])[:1]
    if not (set(name_words[:1]) & CREATION_VERBS or set(described) & _DESCRIBED_CREATION):
        return set()
    made = {leaf_words(word)[-1] for word in name_words if word not in CREATION_VERBS | _LINK_WORDS}
    for param, schema in tool.parameters.items():  # records passed in whole are made too: `tasks: [{...}]`
        items = schema.get("items", {}) if "array" in json_types(schema) else {}
        if "object" in json_types(items) or "properties" in items:
            made.add(leaf_words(param)[-1])
    return made


def add_reason(
    graph: nx.DiGraph,
    source: str,
    target: str,
    kind: str,
    origin: str,
    evidence: dict[str, Any] | None = None,
    **details: str,
) -> bool:
    """Record why `target` depends on `source`; False when that reason was already known.

    `evidence` (what showed the dependency: a trajectory step, or the matching schema fields)
    is kept with the reason, up to `MAX_EVIDENCE` pieces; it does not make a reason new.
    """
    reason: dict[str, Any] = {"kind": kind, "source": origin, **details}
    if graph.has_edge(source, target):
        reasons = graph.edges[source, target]["reasons"]
        for known in reasons:
            if {key: value for key, value in known.items() if key != "evidence"} == reason:
                pieces = known.setdefault("evidence", []) if evidence else []
                if evidence and evidence not in pieces and len(pieces) < MAX_EVIDENCE:
                    pieces.append(evidence)
                return False
        reasons.append(reason)
    else:
        graph.add_edge(source, target, reasons=[reason])
    if evidence:
        reason["evidence"] = [evidence]
    return True


def requirement_groups(graph: nx.DiGraph, tool: str, free: Collection[str] = ()) -> list[set[str]]:
    """What must have run before `tool`: one group per required input or condition, any member satisfies it.

    Parameters in `free` can be filled without a producer (from value pools), so they need none.
    """
    required = set(graph.nodes[tool]["tool"]["input_schema"].get("required", [])) - set(free)
    groups: dict[str, set[str]] = {}
    for producer, _, data in graph.in_edges(tool, data=True):
        for reason in data["reasons"]:
            if reason["kind"] == "value" and reason.get("param") in required:
                groups.setdefault(f"param:{reason['param']}", set()).add(producer)
            elif reason["kind"] == "state":
                groups.setdefault(f"state:{reason['condition']}", set()).add(producer)
    return list(groups.values())


def is_removal(tool: str) -> bool:
    """Whether a tool's name says it does away with something (`delete-note`, `cancel_booking`)."""
    return bool(set(words(tool)[:1]) & _REMOVAL_VERBS)


def is_legal(graph: nx.DiGraph, tool: str, called: set[str], free: Collection[str] = ()) -> bool:
    """A tool is legal when each of its requirement groups has a member already called."""
    return all(group & called for group in requirement_groups(graph, tool, free))


def distances_to(graph: nx.DiGraph, target: str) -> dict[str, int]:
    """Shortest path length from every tool that can lead to `target` (0 for the target)."""
    return dict(nx.single_source_shortest_path_length(graph.reverse(copy=False), target))


def output_fields(schema: dict[str, Any] | None) -> list[str]:
    """Property names of an output schema, including those of objects inside arrays and `$defs`."""
    names: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for name, value in node.get("properties", {}).items():
                names.append(name)
                walk(value)
            walk(list(node.get("$defs", {}).values()))
            walk([node.get("items"), node.get("anyOf"), node.get("additionalProperties")])

    walk(schema or {})
    return list(dict.fromkeys(names))


def graph_to_json(graph: nx.DiGraph) -> dict[str, Any]:
    return nx.node_link_data(graph, edges="edges")


def graph_from_json(data: dict[str, Any]) -> nx.DiGraph:
    return nx.node_link_graph(data, directed=True, edges="edges")


def export_graph(graph: nx.DiGraph, path: Path) -> None:
    """Write the graph as `.graphml`, `.dot`, `.png` or `.json`, chosen by the suffix."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        path.write_text(json.dumps(graph_to_json(graph), indent=1))
    elif suffix == ".graphml":
        nx.write_graphml(_flat(graph), path)
    elif suffix == ".dot":
        path.write_text(_dot(graph))
    elif suffix == ".png":
        _png(graph, path)
    else:
        raise ValueError(f"{path}: unknown graph format {suffix!r} (use .graphml, .dot, .png or .json)")


def _produced_entities(tool: ToolInfo) -> dict[str, list[str]]:
    entities: dict[str, list[str]] = {}
    for field, entity in (tool.hints or {}).get("produces", {}).items():
        entities.setdefault(entity, []).append(field)
    return entities


def _entity_matches(producer: ToolInfo, consumer: ToolInfo) -> list[tuple[str, str, str]]:
    """(parameter, entity, rule) where `producer` makes or shows the kind of thing a reference parameter of
    `consumer` names: `create_item` makes items, so `item_id` takes what it returns (`{"id": ...}`)."""
    made = created_entities(producer)
    shown = set()
    if words(producer.name)[:1] and words(producer.name)[0] in _READ_VERBS:
        shown = {leaf_words(word)[-1] for word in words(producer.name)[1:] if word not in _LINK_WORDS}
    matches = []
    made_at = {describe_kind(param, producer.parameters[param], producer.name) for param in producer.required} - {
        "value"
    }
    for param, schema in consumer.parameters.items():  # `create_directory(path)` makes the folder at that path
        kind = describe_kind(param, schema, consumer.name)
        if made and kind in made_at and kind != "value":
            matches.append((param, kind, f"{producer.name} makes a {kind} at its path"))
    for param in sorted(
        set(producer.required) & set(consumer.required)
    ):  # `add_note(name)` makes what `delete_note(name)` takes
        if made and not created_entities(consumer) and leaf_words(param)[-1:] in (["name"], ["key"], ["title"]):
            matches.append((param, param, f"{producer.name} makes the {'/'.join(sorted(made))} its {param} names"))
    for param in consumer.parameters:
        entity = reference_entity(param)
        if entity is None or param in producer.parameters:  # a tool that takes the id already has the thing
            continue
        if entity in made:
            matches.append((param, entity, f"{producer.name} makes {entity}s"))
        elif entity in shown:
            matches.append((param, entity, f"{producer.name} shows {entity}s"))
    return matches


def _schema_matches(producer: ToolInfo, consumer: ToolInfo) -> list[tuple[str, str, str, str]]:
    """(parameter, input path, output path, type) where an output field of `producer` can feed an
    input of `consumer`: same words, or the input's words end with a one-word linking field
    (`entityName` <- `name`), and the same scalar type."""
    outputs = _leaves(producer.output_schema or {}, "")
    echoed = {path.lstrip(".") for path, _ in _leaves(consumer.output_schema or {}, "")}
    matches = []
    for param, schema in consumer.parameters.items():
        for path, kind in _leaves(schema, param):
            wanted = leaf_words(path.rsplit(".", 1)[-1].removesuffix("[]"))
            if not wanted or wanted[-1] not in _LINKING_WORDS or path in echoed:
                continue  # a tool that returns an input where it took it is creating it, not referring to it
            for field, field_kind in outputs:
                have = leaf_words(field.rsplit(".", 1)[-1].removesuffix("[]"))
                if field_kind == kind and (have == wanted or have == wanted[-1:]):
                    matches.append((param, path, field.lstrip("."), kind))
    return matches


def _leaves(schema: dict[str, Any], path: str) -> list[tuple[str, str]]:
    """(path, scalar type) of every scalar inside a schema: `observations[].entityName`."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object" or "properties" in schema:
        return [leaf for key, sub in schema.get("properties", {}).items() for leaf in _leaves(sub, f"{path}.{key}")]
    if kind == "array":
        return _leaves(schema.get("items", {}), path + "[]")
    return [(path, kind)] if kind in ("string", "integer", "number") else []


def _name_matches(param: str, fields: list[str]) -> list[str]:
    if not param.endswith(_LINKING_SUFFIXES):
        return []
    return [field for field in fields if field in (param, param + "s", param.removesuffix("_id") + "_ids")]


def _edge_summary(data: dict[str, Any]) -> tuple[str, str, str]:
    reasons = data["reasons"]
    kinds = ",".join(sorted({reason["kind"] for reason in reasons}))
    sources = ",".join(sorted({reason["source"] for reason in reasons}))
    label = ", ".join(sorted({reason.get("entity") or reason.get("condition") or "" for reason in reasons} - {""}))
    return kinds, sources, label


def _flat(graph: nx.DiGraph) -> nx.DiGraph:
    """GraphML holds scalars only: summarise reasons and keep the full JSON as a string."""
    flat = nx.DiGraph()
    for node, data in graph.nodes(data=True):
        tool = data["tool"]
        flat.add_node(node, description=tool["description"], read_only=bool(tool.get("read_only")))
    for source, target, data in graph.edges(data=True):
        kinds, sources, label = _edge_summary(data)
        flat.add_edge(source, target, kind=kinds, source=sources, label=label, reasons=json.dumps(data["reasons"]))
    return flat


def _dot(graph: nx.DiGraph) -> str:
    lines = ["digraph environment_api {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
    for node, data in sorted(graph.nodes(data=True)):
        style = ', style="rounded,dashed"' if data["tool"].get("read_only") else ""
        lines.append(f"  {json.dumps(node)} [label={json.dumps(node)}{style}];")
    for source, target, data in sorted(graph.edges(data=True)):
        kinds, sources, label = _edge_summary(data)
        style = "dashed" if kinds == "state" else "solid"
        lines.append(f"  {json.dumps(source)} -> {json.dumps(target)} [label={json.dumps(label)}, style={style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _png(graph: nx.DiGraph, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(6.0, len(graph) ** 0.5 * 2.2)
    figure, axes = plt.subplots(figsize=(size, size))
    layout = nx.spring_layout(graph, seed=0, k=2.5 / max(len(graph), 1) ** 0.5)
    colours = ["#9ecae1" if data["tool"].get("read_only") else "#fdae6b" for _, data in graph.nodes(data=True)]
    nx.draw_networkx_nodes(graph, layout, node_color=colours, node_size=500, ax=axes)
    nx.draw_networkx_labels(graph, layout, font_size=7, ax=axes)
    nx.draw_networkx_edges(graph, layout, arrows=True, arrowsize=10, edge_color="#555555", alpha=0.6, ax=axes)
    axes.set_title("Environment-API graph (blue: read-only, orange: changes state)")
    axes.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
