"""Directed sampling (FunReason-MT eq. 2): which tool to call next and with which arguments."""

import heapq
import math
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from simulator.focus import Focus
from simulator.graph import distances_to, is_removal, requirement_groups
from simulator.records import ToolInfo
from simulator.values import (
    REFERENCE_WORDS,
    describe_kind,
    fits,
    json_types,
    leaf_words,
    reference_entity,
    result_tokens,
    schema_options,
    schema_value,
    words,
)

__all__ = [
    "ArgumentFiller",
    "GraphIndex",
    "ValueMemory",
    "choose_next",
    "free_parameters",
    "plan_targets",
    "story_goals",
]

_NEW_NAMES = {
    "file": ["meeting-notes.txt", "budget.txt", "ideas.md", "todo.txt", "draft.md", "recipes.txt"],
    "dir": ["archive", "photos", "invoices", "drafts", "travel", "old-projects"],
}
"""Names for new files and folders a person would pick (a path like `summary_31.txt` reads as a placeholder)."""

_MEMO_LIMIT = 10_000
"""Entries each memo of a `GraphIndex` keeps (about 600 bytes each) before it starts over: the situations a
run meets often come back at once."""


def plan_targets(graph: nx.DiGraph, count: int, seed: int, focus: Focus | None = None) -> list[str]:
    """Target tools for `count` trajectories, spread to cover the graph.

    Every tool is a target before any is a target twice; after that, tools with
    more incoming edges (more dependencies to cover) come up proportionally more.
    With a `focus` that weighs any of the tools, that first round is the coverage floor and takes
    at most the uniform part of the picks (`1 - share` of `count`, rounded up; none at share 1);
    every pick after it is proportional to the weights `Focus.mixed` gives (the focus's share by
    failure rate, the rest as above).
    Depends only on the graph, the seed and the focus, so workers and resumes agree on it.
    """
    rng = random.Random(f"{seed}:targets")
    tools = sorted(graph.nodes)
    if not tools:
        return []
    weight = {tool: 1 + graph.in_degree(tool) for tool in tools}
    focused = focus is not None and any(focus.tools.get(tool, 0) > 0 for tool in tools)
    offset, first_round = int(focused), count  # with a focus: (times + 1) / weight, a first round of its floor
    if focus is not None and focused:
        weight = {tool: share or 1e-12 for tool, share in focus.mixed(weight).items()}  # share 1: the rest last
        first_round = math.ceil(round((1 - focus.share) * count, 9))
    times = dict.fromkeys(tools, 0)
    # Each pick is the least (called yet, (times + offset) / weight, random order, place in name order): a heap.
    ranks = [(False, offset / weight[tool], rng.random(), position, tool) for position, tool in enumerate(tools)]
    heapq.heapify(ranks)
    plan = []
    for picked in range(count):
        if picked == first_round:  # the floor is taken: from here on by weight alone
            ranks = [(True, *rank[1:]) for rank in ranks]
            heapq.heapify(ranks)
        _, _, order, position, target = ranks[0]
        times[target] += 1
        heapq.heapreplace(ranks, (True, (times[target] + offset) / weight[target], order, position, target))
        plan.append(target)
    return plan


def choose_next(
    graph: nx.DiGraph,
    target: str,
    called: set[str],
    excluded: set[str],
    rng: random.Random,
    free: Mapping[str, set[str]] | None = None,
    index: "GraphIndex | None" = None,
) -> str | None:
    """The next tool: the target when legal and not yet called; else the legal tool nearest to it,
    preferring one that meets a requirement still unmet on the way to the target.

    Legal first means strictly legal (every input has had a producer called).  When
    no strictly legal tool leads to the target, inputs that value pools can fill
    (`free`, by tool) stop counting as requirements; when still stuck, any tool not
    yet called, to find values the graph does not know of.  After the target has been
    called, any legal tool not yet called.  `called` holds the tools that succeeded
    in this trajectory; `excluded` those that failed too often.  `index` is a `GraphIndex`
    of this graph and `free`, to reuse while neither changes (built here when not given).
    """
    index = index if index is not None else GraphIndex(graph, free)
    options = index.next_options(target, called, excluded)
    if options is None or isinstance(options, str):  # nothing to call, or the target itself: no draw
        return options
    return rng.choice(options)


def _next_options(
    index: "GraphIndex", target: str, called: set[str], excluded: set[str]
) -> str | tuple[str, ...] | None:
    """What `choose_next` draws from (a tuple), the one tool it takes without drawing (a str), or None."""
    for tier in (False, True):
        options = _tier_options(index, target, called, excluded, tier)
        if options is not None:
            return options
    if target in called:
        return None
    # Stuck short of the target: call anything legal, for values or state the graph does not know of yet.
    untried = tuple(tool for tool in index.tools if tool not in called and tool not in excluded)
    return untried or None


class GraphIndex:
    """What the sampler reads from a graph, worked out once per graph and `free`.

    Working out the requirement groups of every tool and the distances to the target
    at each step cost the explorer more than the calls it made; the graph does not change
    within a trajectory (nor at all once frozen), so the explorer builds one index per graph
    and builds it again only when discovery has taught the graph something.
    """

    def __init__(self, graph: nx.DiGraph, free: Mapping[str, set[str]] | None = None) -> None:
        free = free or {}
        self.graph = graph
        self.tools = sorted(graph.nodes)
        """In name order, so that the legal tools come out sorted."""
        self.groups = {
            tier: {tool: requirement_groups(graph, tool, free.get(tool, ()) if tier else ()) for tool in self.tools}
            for tier in (False, True)
        }
        """Per tier (False: strict; True: inputs that pools fill need no producer), tool -> groups."""
        self.dependents = [tool for tool in self.tools if graph.in_degree(tool)]
        """The tools with a prerequisite, in name order: the candidates for a next goal."""
        self.never_succeeded = {tool for tool, failing in graph.nodes(data="never_succeeded") if failing}
        self.creators = sorted(tool for tool, made in graph.nodes(data="creates") if made)
        """Tools of a server that declares nothing which make things others take (`create_item`): called
        first where several tools meet a requirement, and a trajectory's first goal (see the explorer)."""
        self._distances: dict[str, dict[str, int]] = {}
        self._links: dict[str, dict[str, set[tuple[str, str]]]] = {}
        self._ancestors: dict[str, set[str]] = {}
        self._options: dict[tuple[str, frozenset[str], frozenset[str]], str | tuple[str, ...] | None] = {}
        self._goals: dict[tuple[frozenset[str], frozenset[str]], tuple[str, ...]] = {}

    def next_options(self, target: str, called: set[str], excluded: set[str]) -> str | tuple[str, ...] | None:
        """`choose_next`'s candidates, worked out once per (target, called, excluded): walks of one
        run pass through the same few situations again and again."""
        key = (target, frozenset(called), frozenset(excluded))
        return _remembered(self._options, key, lambda: _next_options(self, target, called, excluded))

    def next_goals(self, called: set[str], excluded: set[str]) -> tuple[str, ...]:
        """The (up to) three tools not called yet with the most prerequisites not called yet either,
        the deepest first, ties in name order; worked out once per (called, excluded)."""
        key = (frozenset(called), frozenset(excluded))
        return _remembered(self._goals, key, lambda: _next_goals(self, called, excluded))

    def is_legal(self, tool: str, called: set[str], tier: bool) -> bool:
        return all(not group.isdisjoint(called) for group in self.groups[tier][tool])

    def distances_to(self, target: str) -> dict[str, int]:
        if target not in self._distances:
            self._distances[target] = distances_to(self.graph, target)
        return self._distances[target]

    def ancestors(self, tool: str) -> set[str]:
        """The tools with a path to `tool` (its prerequisites, direct or not)."""
        if tool not in self._ancestors:
            self._ancestors[tool] = nx.ancestors(self.graph, tool)
        return self._ancestors[tool]

    def links(self, tool: str) -> dict[str, set[tuple[str, str]]]:
        """Parameter -> the (producing tool, output field) pairs that feed it according to the graph's value edges."""
        if tool not in self._links:
            links: dict[str, set[tuple[str, str]]] = {}
            for producer, _, data in self.graph.in_edges(tool, data=True):
                for reason in data["reasons"]:
                    if reason["kind"] == "value" and "field" in reason:
                        links.setdefault(reason["param"], set()).add((producer, reason["field"]))
            self._links[tool] = links
        return self._links[tool]


def _next_goals(index: GraphIndex, called: set[str], excluded: set[str]) -> tuple[str, ...]:
    depth = {  # `called` is a handful of tools: intersecting with it beats copying every ancestor set
        tool: len(index.ancestors(tool)) - len(index.ancestors(tool) & called)
        for tool in index.dependents
        if tool not in called and tool not in excluded
    }
    return tuple(sorted(depth, key=depth.__getitem__, reverse=True)[:3])  # sorted is stable: ties stay in name order


def story_goals(index: GraphIndex, called: set[str], excluded: set[str]) -> tuple[str, ...]:
    """The (up to) three tools not called yet that act on what the called tools made, revealed or changed
    (a value edge or a state edge from one of them, a login's session not counting), the most linked first,
    then the deepest, ties in name order: the next goal of a story (FunReason-MT: later requests build on
    the state earlier ones created).  A removal (`delete-note`) waits while other goals are
    left: a note is changed before it is deleted, and deleting it first leaves the rest nothing to act on."""
    logins = {tool for tool in called if _opens_session(index.graph, tool)}
    linked: dict[str, int] = {}
    for tool in sorted(called - logins):
        for _, later, data in index.graph.out_edges(tool, data=True):
            if later in called or later in excluded or later not in index.groups[False]:
                continue
            if any(not _session_reason(reason) for reason in data["reasons"]):
                linked[later] = linked.get(later, 0) + 1
    depth = {tool: len(index.ancestors(tool) - called) for tool in linked}
    ranked = sorted(linked, key=lambda tool: (-linked[tool], -depth[tool], tool))
    lasting = [tool for tool in ranked if not is_removal(tool)]
    return tuple((lasting or ranked)[:3])


def _opens_session(graph: nx.DiGraph, tool: str) -> bool:
    """A login: its edges out are all about a session (a `*logged_in` state, a token)."""
    reasons = [reason for _, _, data in graph.out_edges(tool, data=True) for reason in data["reasons"]]
    return bool(reasons) and all(_session_reason(reason) for reason in reasons)


def _session_reason(reason: dict[str, Any]) -> bool:
    text = str(reason.get("condition") or reason.get("entity") or reason.get("param") or "").lower()
    return "logged_in" in text or "token" in text or "session" in text


def _remembered(memo: dict[Any, Any], key: Any, work: Callable[[], Any]) -> Any:
    """`memo[key]`, from `work()` the first time; a full memo (`_MEMO_LIMIT`) starts over."""
    if key not in memo:
        if len(memo) >= _MEMO_LIMIT:
            memo.clear()
        memo[key] = work()
    return memo[key]


def _tier_options(
    index: GraphIndex, target: str, called: set[str], excluded: set[str], tier: bool
) -> str | tuple[str, ...] | None:
    def legal(tool: str) -> bool:
        return tool not in excluded and tool not in called and index.is_legal(tool, called, tier)

    if target in called:
        chosen = tuple(tool for tool in index.tools if legal(tool))  # sorted, as `index.tools` is
        return chosen or None
    if target in index.groups[tier] and legal(target):
        return target
    distance = index.distances_to(target)
    leading = [tool for tool in distance if legal(tool)]
    if not leading:
        return None
    groups = index.groups[tier]
    unmet = set().union(*(group for tool in distance for group in groups[tool] if group.isdisjoint(called)))
    creators = index.creators
    ranked = [((tool not in unmet, tool not in creators, distance[tool]), tool) for tool in leading]
    nearest = min(rank for rank, _ in ranked)
    return tuple(sorted(tool for rank, tool in ranked if rank == nearest))


def free_parameters(tools: Iterable[ToolInfo], pools: Mapping[str, list[Any]]) -> dict[str, set[str]]:
    """Per tool, the parameters a value pool can fill without calling a producer first."""
    free: dict[str, set[str]] = {}
    for tool in tools:
        consumes = (tool.hints or {}).get("consumes", {})
        records = [record for record in pools.get(tool.name, []) if isinstance(record, dict)]
        free[tool.name] = {
            name
            for name in tool.parameters
            if pools.get(consumes.get(name, "")) or pools.get(name) or any(name in record for record in records)
        }
    return free


@dataclass
class _Value:
    value: Any
    step: int
    tool: str
    field: str


@dataclass
class ValueMemory:
    """Values produced so far in a trajectory, by entity type and by output field name.

    Results give short values only (see `simulator.values.result_tokens`): JSON scalars,
    and identifiers, names and paths found inside text; never whole messages.
    """

    by_entity: dict[str, list[_Value]] = field(default_factory=dict)
    by_field: dict[str, list[_Value]] = field(default_factory=dict)
    everything: list[_Value] = field(default_factory=list)
    used: list[Any] = field(default_factory=list)
    """Argument values already sent: fresh values are preferred, so a chain does not feed
    the logged-in user's own id back as the receiver of a message."""

    def note_arguments(self, arguments: dict[str, Any]) -> None:
        _scalar_values(arguments, self.used)

    def origin_of(self, value: Any) -> dict[str, Any]:
        """Where a value someone else chose came from: the latest result that held it, else the user."""
        for record in reversed(self.everything):
            if record.value == value and not isinstance(value, bool):
                return {"source": "result", "step": record.step, "tool": record.tool, "field": record.field}
        return {"source": "user"}

    def remember(
        self,
        step: int,
        tool: str,
        result: Any,
        produces: Mapping[str, str] | None = None,
        *,
        text: str = "",
        arguments: dict[str, Any] | None = None,
    ) -> None:
        """Collect the values of a successful result, tagged with their field and entity type."""
        produces = produces or {}
        for field_name, value in result_tokens(result, text, arguments or {}):
            record = _Value(value, step, tool, field_name)
            self.by_field.setdefault(field_name, []).append(record)
            self.everything.append(record)
            if field_name in produces:
                self.by_entity.setdefault(produces[field_name], []).append(record)

    def matching(self, name: str, schema: dict[str, Any], tool: str = "") -> list[_Value]:
        """Values whose field matches a parameter by name (`entityName` <- `name`) or by kind (paths)."""
        wanted = leaf_words(name)
        kind = describe_kind(name, schema, tool)
        found = []
        for field_name, records in self.by_field.items():
            have = leaf_words(field_name)
            loose = len(have) == 1 and wanted[-1:] == have and have[0] not in REFERENCE_WORDS  # `name`, never `id`
            by_name = kind == "value" and bool(have) and (have == wanted or loose)
            by_kind = field_name == {"dir": "directory", "file": "path"}.get(kind)
            if by_name or by_kind:
                found.extend(records)
        if not found and "name" in words(schema.get("description", "")):
            found = list(self.by_field.get("name", []))
        types = json_types(schema)
        fitting = [record for record in found if fits(record.value, schema, types)]
        return sorted(fitting, key=lambda record: record.step)


class ArgumentFiller:
    """Fills arguments, in order of preference: values produced earlier in the trajectory
    (by entity type, then by name or kind), the value pools (scenario's, `--values`, or what
    the server said it allows), the schema's enums, defaults and examples, then typed values
    built from the schema: objects from their properties, arrays of their items, recursively.
    Every choice is recorded; a value built from parts records where its parts came from."""

    def __init__(
        self, pools: dict[str, list[Any]], rng: random.Random, *, probe: bool = False, third_party: bool = False
    ) -> None:
        self.pools = pools
        self.rng = rng
        self.probe = probe
        self.third_party = third_party
        """A server we did not write: its tools whose hints tie no input to an entity are matched as unknown."""
        self._unknown = False
        self._writes = False
        self._tool = ""
        self._defs: dict[str, Any] = {}

    def fill(
        self, tool: ToolInfo, memory: ValueMemory, links: dict[str, set[tuple[str, str]]] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Arguments for `tool` and where each came from; `links` maps a parameter to the (producing tool,
        output field) pairs that feed it according to the graph (declared, inferred or observed)."""
        consumes = (tool.hints or {}).get("consumes", {})
        required = set(tool.required)
        records = [record for record in self.pools.get(tool.name, []) if isinstance(record, dict)]
        record = self.rng.choice(records) if records else {}
        writes = tool.read_only is not True
        arguments: dict[str, Any] = {}
        provenance: dict[str, dict[str, Any]] = {}
        self._unknown = tool.hints is None or (self.third_party and not consumes)  # looser name rules
        self._tool = tool.name
        self._writes = writes
        self._defs = tool.input_schema.get("$defs", {})
        for name, given in tool.parameters.items():
            schema = self._resolved(given)
            entity = consumes.get(name)
            earlier = self._from_memory(name, entity, (links or {}).get(name, set()), schema, memory, arguments)
            if earlier is None and name in record:
                earlier = record[name], {"source": "pool", "pool": tool.name}
            if name not in required and earlier is None and self.rng.random() < 0.7:
                continue
            value, source = earlier if earlier is not None else self._build(name, entity, schema, memory, writes)
            if name not in required and entity is not None and source.get("source") == "random":
                continue  # an optional reference with nothing to refer to is left out: a made-up id is nobody's
            for _ in range(3):  # two parameters of one call rarely mean the same value ("convert K to K")
                if value not in arguments.values():
                    break
                value, source = self._build(name, entity, schema, memory, writes)
            arguments[name] = value
            provenance[name] = source
        return arguments, provenance

    def _resolved(self, schema: dict[str, Any]) -> dict[str, Any]:
        """A schema with its local `$ref` (`#/$defs/Note`) replaced by the definition."""
        reference = schema.get("$ref", "")
        if reference.startswith("#/$defs/") and reference.removeprefix("#/$defs/") in self._defs:
            rest = {key: value for key, value in schema.items() if key != "$ref"}
            return {**self._defs[reference.removeprefix("#/$defs/")], **rest}
        return schema

    def _from_memory(
        self,
        name: str,
        entity: str | None,
        linked: set[tuple[str, str]],
        schema: dict[str, Any],
        memory: ValueMemory,
        taken: dict[str, Any],
    ) -> tuple[Any, dict[str, Any]] | None:
        """An earlier result's value for `name`; never one another parameter of the call already takes
        (`add(x, x)` and "the sum of x and x" are nobody's request).

        In order: the declared entity; for a server that declares nothing, the result field of exactly this
        name (`requestId` <- `requestId`), then what the graph links to it (`taskId` <- `id` of a tool that
        makes tasks), then looser name rules.  Free text prefers values not sent yet (so a chain does not send
        the same words twice); a reference (`taskId`, `session_token`) does not: an id is meant to be reused.
        """
        candidates = memory.by_entity.get(entity, []) if entity else []
        if not candidates and not self._unknown and not entity and self._writes and self.pools.get(name):
            return None  # a setting the user picks (a speed, a level) from its pool, not what a result reports now
        if not candidates and self._unknown:
            candidates = memory.by_field.get(name, [])
        if not candidates and linked:
            fields = {field_name for _, field_name in linked}
            producers = {producer for producer, _ in linked}
            linked_values = [record for field_name in sorted(fields) for record in memory.by_field.get(field_name, [])]
            if self._unknown:  # an `id` feeds `taskId` only when a tool of the graph's edge produced it
                linked_values = [record for record in linked_values if record.tool in producers]
            candidates = sorted(linked_values, key=lambda record: record.step)
        if not candidates and not self._unknown and entity and self.pools.get(entity):
            return None  # the entity's own pool (who signs in), not a field of the same name (a contact's user_id)
        if not candidates:
            candidates = memory.matching(name, schema, self._tool) if self._unknown else memory.by_field.get(name, [])
        if not candidates:
            return None
        types = json_types(schema)
        fresh = [record for record in candidates if record.value not in taken.values()]
        fitting = [record for record in fresh if fits(record.value, schema, types)]
        if not fitting:
            return None
        if not (self._unknown and reference_entity(name) is not None):
            unused = [record for record in fitting if record.value not in memory.used]
            fitting = unused or fitting
        record = fitting[-1] if self.rng.random() < 0.7 else self.rng.choice(fitting)
        return record.value, {"source": "result", "step": record.step, "tool": record.tool, "field": record.field}

    def _build(
        self, name: str, entity: str | None, schema: dict[str, Any], memory: ValueMemory, writes: bool
    ) -> tuple[Any, dict[str, Any]]:
        """A value not taken whole from an earlier result: pools, schema, or built from parts."""
        types = json_types(schema)
        whole = [value for value in self.pools.get(entity or name, []) if isinstance(value, dict)]
        if "object" in types and whole:  # a whole object a pool holds (a hints file's `updates = [{...}]`)
            return self.rng.choice(whole), {"source": "pool", "pool": entity or name}
        if "object" in types or "array" in types:
            parts: dict[str, dict[str, Any]] = {}
            value = self._compose(name, schema, memory, writes, name, parts)
            results = {path: origin for path, origin in parts.items() if origin["source"] in ("result", "probe")}
            return value, ({"source": "composed", "parts": results} if results else {"source": "schema"})
        return self._scalar(name, entity, schema, memory, writes)

    def _compose(
        self,
        name: str,
        schema: dict[str, Any],
        memory: ValueMemory,
        writes: bool,
        path: str,
        parts: dict[str, dict[str, Any]],
    ) -> Any:
        schema = self._resolved(schema)
        types = json_types(schema)
        option = next((o for o in schema.get("anyOf", schema.get("oneOf", [schema])) if json_types(o) & types), schema)
        option = self._resolved(option)
        if "object" in types:
            required = option.get("required", [])
            return {
                key: self._compose(key, sub, memory, writes, f"{path}.{key}", parts)
                for key, sub in option.get("properties", {}).items()
                if key in required or self.rng.random() < 0.3
            }
        if "array" in types:
            items = option.get("items", {})
            count = max(option.get("minItems", 1), self.rng.randint(1, 2 if self._unknown else 4))
            built: list[Any] = []
            for _ in range(count):  # distinct items: nobody asks to lock "rear_left and rear_left"
                at = f"{path}[{len(built)}]"
                for _ in range(3):
                    item = self._compose(name, items, memory, writes, at, parts)
                    if item not in built:
                        built.append(item)
                        break
                else:
                    for key in [key for key in parts if key.startswith(at)]:
                        del parts[key]
            return built
        earlier = self._from_memory(name, None, set(), schema, memory, {})
        value, origin = earlier if earlier is not None else self._scalar(name, None, schema, memory, writes)
        parts[path] = origin
        return value

    def _scalar(
        self, name: str, entity: str | None, schema: dict[str, Any], memory: ValueMemory, writes: bool
    ) -> tuple[Any, dict[str, Any]]:
        kind = describe_kind(name, schema, self._tool) if self._unknown else "value"
        if kind != "value":
            folders = [value for value in self.pools.get("directory", []) if isinstance(value, str)]
            existing = bool(set(words(name)) & {"source", "src", "old", "from"})  # a thing to move must exist
            new_ok = writes or not self.pools.get("path")
            if folders and new_ok and not existing and self.rng.random() < 0.5:
                folder = self.rng.choice(folders).rstrip("/")  # somewhere new inside a folder the server allows
                return f"{folder}/{self.rng.choice(_NEW_NAMES[kind])}", {"source": "random"}
        by_kind = {"dir": ["directory"], "file": ["path"]}.get(kind, [])
        own = name if kind == "value" or name not in ("path", "directory") else None  # those name our kinds
        types = json_types(schema)
        for key in (entity, own, *by_kind):
            pool = [value for value in self.pools.get(key or "", []) if fits(value, schema, types)]
            if pool:
                return self.rng.choice(pool), {"source": "pool", "pool": key}
        options = schema_options(schema)
        if self.probe and not options:
            probes = [record for record in memory.everything if fits(record.value, schema, types)]
            if probes and self.rng.random() < 0.6:
                record = self.rng.choice(probes[-6:])
                return record.value, {
                    "source": "probe",
                    "step": record.step,
                    "tool": record.tool,
                    "field": record.field,
                }
        if options:
            return self.rng.choice(options), {"source": "schema"}
        return schema_value(name, schema, self.rng), {"source": "random"}


def _scalar_values(value: Any, found: list[Any]) -> None:
    """Append the non-empty scalars inside a JSON value to `found`, in order."""
    if isinstance(value, dict):
        for item in value.values():
            _scalar_values(item, found)
    elif isinstance(value, list):
        for item in value:
            _scalar_values(item, found)
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != "":
        found.append(value)
