"""The records the simulator produces: tools as discovered, steps and trajectories as executed."""

import json
from dataclasses import dataclass, field
from typing import Any

from mcp_types import CallToolResult, TextContent

from servers import DIFF_META_KEY

__all__ = ["Step", "ToolInfo", "Trajectory", "step_from_result"]


@dataclass(frozen=True)
class ToolInfo:
    """A tool as `tools/list` describes it, plus our dependency hints when the server publishes them."""

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    read_only: bool | None = None
    hints: dict[str, Any] | None = None

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.input_schema.get("properties", {}))

    @property
    def required(self) -> list[str]:
        return list(self.input_schema.get("required", []))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
            "read_only": self.read_only,
            "hints": self.hints,
        }


@dataclass
class Step:
    """One executed call: what was asked, what came back, what it changed and how long it took."""

    index: int
    tool: str
    arguments: dict[str, Any]
    result: Any
    text: str
    is_error: bool
    diff: list[dict[str, Any]] | None = None
    latency_ms: float = 0.0
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Where each argument came from: `{"source": "result", "step": 2, "field": "order_id"}`, pool, schema, ..."""


@dataclass
class Trajectory:
    """A sequence of real calls in one fresh sandbox, aimed at one target tool."""

    id: str
    run_id: str
    index: int
    env: str
    scenario: str
    seed: int
    target: str | None
    source: str = "explore"
    reached: bool = False
    status: str = "complete"
    error: str | None = None
    steps: list[Step] = field(default_factory=list)
    covered_edges: list[list[str]] = field(default_factory=list)
    final_state_hash: str | None = None


def step_from_result(tool: str, arguments: dict[str, Any], result: CallToolResult, latency_ms: float) -> Step:
    """A step from an MCP call result: structured content (or JSON text), text, error flag, our diff."""
    text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
    structured = result.structured_content
    if structured is None and not result.is_error:
        try:
            structured = json.loads(text)
        except ValueError:
            structured = None
    elif isinstance(structured, dict) and set(structured) == {"result"} and isinstance(structured["result"], str):
        # FastMCP 1.x wraps a tool's `json.dumps(...)` return as {"result": "<json text>"}: the structure is inside
        inner = _json_of(structured["result"])
        structured = inner if inner is not None else structured
    diff = (result.meta or {}).get(DIFF_META_KEY)
    return Step(-1, tool, arguments, structured, text, bool(result.is_error), diff, round(latency_ms, 3))


def _json_of(text: str) -> Any:
    """The JSON object or array a text holds as a whole; None for prose (or a bare number or string)."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, (dict, list)) else None
