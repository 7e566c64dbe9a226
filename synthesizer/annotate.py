"""`funreason annotate`: a hints file drafted for any MCP server, by rules and, with a model, phrasing too.

The rules (`simulator.annotate`) read the tool list and a short exploration; a model, when given,
drafts per tool the requests a user would make (`asks`), the answers (`answers`) and value pools,
each checked against the tool's parameters before it is kept.  The file is for a person to review:
its header says what drafted it.  `funreason explore --hints FILE` then treats those tools as ours.
"""

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from servers.phrasing import TemplateError, parse_template
from simulator import ExploreConfig, ServerTarget, Store, explore
from simulator.annotate import draft_hints, hints_toml
from simulator.graph import build_graph
from simulator.records import ToolInfo
from synthesizer.llm import ChatModel

__all__ = ["AnnotateReport", "annotate_server"]

logger = logging.getLogger(__name__)

_DRAFTING = (
    "You write phrasing hints for one tool of an MCP server, for a person to review. Answer with one JSON "
    'object: {"asks": [...], "answers": [...], "pools": {parameter: [values]}}. "asks": two requests a user '
    "would say to get what the tool does, in plain words, never naming the tool, never an internal id; every "
    'required parameter appears as {parameter} (optional ones inside [brackets]). "answers": one or two '
    "sentences the assistant says after the call, with result fields as {field} and arguments as {@parameter}. "
    '"pools": a few realistic values for parameters a user knows (names, titles, texts).'
)


@dataclass(frozen=True)
class AnnotateReport:
    """What `annotate_server` wrote: how many tools, edges (consumes) and asks, and what drafted them."""

    tools: int
    consumed: int
    asks: int
    drafted_by: str


def annotate_server(
    target: ServerTarget, out: Path, chat: ChatModel | None = None, trajectories: int = 12, seed: int = 0
) -> AnnotateReport:
    """Explore `target` briefly (in a scratch store), draft its hints and write them to `out` (.toml or .json)."""
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "annotate.db"
        config = ExploreConfig(trajectories=trajectories, seed=seed, discovery=trajectories)
        run_id = explore(target, db, config)
        with Store(db) as store:
            walks = list(store.iter_trajectories(run_id))
    tools = anyio.run(_tools, target)
    draft = draft_hints(tools, walks, build_graph(tools, third_party=True))
    drafted_by = "rules"
    if chat is not None:
        anyio.run(_phrase, draft, tools, chat)
        drafted_by = f"rules and {chat.model}"
    _keep_declared_fields(draft, tools)
    header = (
        f"Hints for {target.label}, drafted by {drafted_by} from its tool list and {trajectories} explored "
        "trajectories.\nReview before use: read_only guesses, consumes/produces (entities), asks and answers.\n"
        f"Use: funreason explore --hints {out.name} ..."
    )
    if out.suffix.lower() == ".json":
        out.write_text(json.dumps(draft, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        out.write_text(hints_toml(draft, header), encoding="utf-8")
    tables = draft["tools"].values()
    return AnnotateReport(
        tools=len(draft["tools"]),
        consumed=sum(len(table.get("consumes", {})) for table in tables),
        asks=sum(len(table.get("asks", [])) for table in tables),
        drafted_by=drafted_by,
    )


async def _tools(target: ServerTarget) -> list[ToolInfo]:
    async with ServerTarget(**{**target.__dict__, "hints": None}).connect() as connection:
        return connection.tools


async def _phrase(draft: dict[str, Any], tools: list[ToolInfo], chat: ChatModel) -> None:
    """Ask the model for each tool's asks, answers and pools; keep what passes the template checks."""
    try:
        for tool in tools:
            await _phrase_one(draft["tools"][tool.name], tool, chat)
    finally:
        await chat.aclose()


async def _phrase_one(table: dict[str, Any], tool: ToolInfo, chat: ChatModel) -> None:
    request = {"tool": tool.name, "description": tool.description, "input_schema": tool.input_schema}
    messages = [
        {"role": "system", "content": _DRAFTING},
        {"role": "user", "content": json.dumps(request, ensure_ascii=False)},
    ]
    reply = await chat.chat(messages)
    try:
        answer = json.loads(_json_part(reply.content or ""))
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        logger.warning("annotate: the model's answer for %s is no JSON object; its rule draft stands", tool.name)
        return
    asks = [text for text in answer.get("asks", []) if _fits(text, tool, asks=True)]
    answers = [text for text in answer.get("answers", []) if _fits(text, tool, asks=False)]
    if asks:
        table["asks"] = asks
    if answers:
        table["answers"] = answers
    pools = {
        name: [value for value in values if isinstance(value, (str, int, float))]
        for name, values in (answer.get("pools") or {}).items()
        if name in tool.parameters and isinstance(values, list)
    }
    if any(pools.values()):
        table["pools"] = {name: values for name, values in pools.items() if values}


def _fits(text: Any, tool: ToolInfo, *, asks: bool) -> bool:
    """A drafted template the hints loader will accept: good markup, slots the tool has, required ones said."""
    if not isinstance(text, str):
        return False
    try:
        template = parse_template(text)
    except TemplateError:
        return False
    if not asks:
        return all(slot[1:] in tool.parameters for slot in template.slots if slot.startswith("@"))
    return template.slots <= set(tool.parameters) and set(tool.required) <= template.required_slots


def _keep_declared_fields(draft: dict[str, Any], tools: list[ToolInfo]) -> None:
    """Where a tool publishes an output schema, `produces` and answer slots may name only its fields."""
    for tool in tools:
        if not tool.output_schema:
            continue
        fields = set(tool.output_schema.get("properties", {}))
        table = draft["tools"][tool.name]
        produced = {key: value for key, value in table.get("produces", {}).items() if key in fields}
        if produced:
            table["produces"] = produced
        else:
            table.pop("produces", None)
        answers = [
            text
            for text in table.get("answers", [])
            if all(slot.startswith("@") or slot.split(".")[0] in fields for slot in parse_template(text).slots)
        ]
        if answers:
            table["answers"] = answers
        else:
            table.pop("answers", None)


def _json_part(text: str) -> str:
    """The JSON object inside a reply that may wrap it in prose or a code fence."""
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if start != -1 and end > start else text
