"""Connect to any MCP server, build its Environment-API graph, explore it and record real trajectories."""

from simulator.connection import Connection, ServerTarget
from simulator.errors import ConnectionFailed, FocusError, ServerDied, SimulatorError, StoreError
from simulator.explorer import ExploreConfig, explore, learn_from, run_id_for
from simulator.focus import DEFAULT_FOCUS_SHARE, Focus, read_focus
from simulator.graph import (
    add_reason,
    build_graph,
    distances_to,
    export_graph,
    graph_from_json,
    graph_to_json,
    is_legal,
    requirement_groups,
)
from simulator.hints import Hints, HintsError, load_hints
from simulator.recorder import Recorder, run_proxy
from simulator.records import Step, ToolInfo, Trajectory, step_from_result
from simulator.replay import replay
from simulator.store import Store

__all__ = [
    "Connection",
    "ConnectionFailed",
    "DEFAULT_FOCUS_SHARE",
    "ExploreConfig",
    "Focus",
    "FocusError",
    "Hints",
    "HintsError",
    "Recorder",
    "ServerDied",
    "ServerTarget",
    "SimulatorError",
    "Step",
    "Store",
    "StoreError",
    "ToolInfo",
    "Trajectory",
    "add_reason",
    "build_graph",
    "distances_to",
    "explore",
    "export_graph",
    "graph_from_json",
    "graph_to_json",
    "is_legal",
    "learn_from",
    "load_hints",
    "read_focus",
    "replay",
    "requirement_groups",
    "run_id_for",
    "run_proxy",
    "step_from_result",
]
