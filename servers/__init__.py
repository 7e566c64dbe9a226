"""Stateful mock tool environments served over MCP: stdio, in-process and HTTP sandboxes."""

from servers.bfcl import BFCL_CLASSES, bfcl_entries, bfcl_environment, bfcl_environment_names, parse_bfcl_call
from servers.classes import PassThrough, environment_from_class, import_class, with_hints
from servers.environment import Environment, EnvironmentSnapshot, ToolSpec, tool
from servers.errors import (
    InvalidArgument,
    NotFound,
    PreconditionFailed,
    SandboxError,
    SandboxLimitReached,
    ScenarioError,
    ToolError,
    UnknownEnvironment,
    UnknownSandbox,
)
from servers.http import SandboxApp, create_app
from servers.mcp import DIFF_META_KEY, HINTS_META_KEY, CallObserver, build_mcp_server, serve_sandbox
from servers.registry import environment_names, get_environment, register_environment
from servers.sandboxes import Execution, Sandbox, SandboxManager, create_sandbox
from servers.scenarios import (
    Scenario,
    combined_scenario_names,
    fixtures_root,
    load_combined_scenario,
    load_pools,
    load_scenario,
    read_json_object,
    scenario_names,
)
from servers.state import StateModel, apply_diff, canonical_json, diff_states, hash_state

__all__ = [
    "BFCL_CLASSES",
    "CallObserver",
    "DIFF_META_KEY",
    "Environment",
    "EnvironmentSnapshot",
    "Execution",
    "HINTS_META_KEY",
    "InvalidArgument",
    "NotFound",
    "PassThrough",
    "PreconditionFailed",
    "Sandbox",
    "SandboxApp",
    "SandboxError",
    "SandboxLimitReached",
    "SandboxManager",
    "Scenario",
    "ScenarioError",
    "StateModel",
    "ToolError",
    "ToolSpec",
    "UnknownEnvironment",
    "UnknownSandbox",
    "apply_diff",
    "bfcl_entries",
    "bfcl_environment",
    "bfcl_environment_names",
    "build_mcp_server",
    "canonical_json",
    "combined_scenario_names",
    "create_app",
    "create_sandbox",
    "diff_states",
    "environment_from_class",
    "environment_names",
    "fixtures_root",
    "get_environment",
    "hash_state",
    "import_class",
    "load_combined_scenario",
    "load_pools",
    "load_scenario",
    "parse_bfcl_call",
    "read_json_object",
    "register_environment",
    "scenario_names",
    "serve_sandbox",
    "tool",
    "with_hints",
]
