"""BFCL's eight multi-turn classes (from the optional `bfcl-eval` package) as environments, with BFCL's scenarios.

FunReason-MT synthesized its data in these classes.  Each becomes an environment named
`bfcl:<Class>` through the class adapter; its scenarios are the initial configs of BFCL's
multi-turn base entries that involve it (named by entry id), plus `default`, the class's own.
"""

import ast
import functools
import importlib
import inspect
import json
from importlib import resources
from typing import Any

from servers.classes import environment_from_class
from servers.environment import Environment
from servers.errors import UnknownEnvironment

__all__ = [
    "BFCL_CLASSES",
    "BFCL_PREFIX",
    "bfcl_class",
    "bfcl_entries",
    "bfcl_environment",
    "bfcl_environment_names",
    "parse_bfcl_call",
]

BFCL_PREFIX = "bfcl:"
"""Environment names of BFCL classes start with this: `bfcl:TravelAPI`."""

BFCL_CLASSES = (
    "GorillaFileSystem",
    "MathAPI",
    "MessageAPI",
    "TicketAPI",
    "TradingBot",
    "TravelAPI",
    "TwitterAPI",
    "VehicleControlAPI",
)
"""The classes of BFCL's multi-turn categories (BFCL's own names, as its checker's class map has them)."""

_LOADER = "_load_scenario"
_INSTALL = "BFCL environments need the bfcl-eval package: pip install 'funreason-mt[bfcl]'"


def bfcl_environment_names() -> list[str]:
    """`bfcl:<Class>` for each of the eight classes."""
    return [BFCL_PREFIX + name for name in BFCL_CLASSES]


@functools.cache
def bfcl_environment(name: str) -> type[Environment]:
    """The environment for `bfcl:<Class>` (or the bare class name), built once per process."""
    class_name = name.removeprefix(BFCL_PREFIX)
    target = bfcl_class(class_name)
    loader = _LOADER if callable(getattr(target, _LOADER, None)) else None
    scenarios = {}
    if loader is not None:
        scenarios = {
            entry["id"]: entry["initial_config"].get(class_name, {})
            for entry in bfcl_entries()
            if class_name in entry["involved_classes"]
        }
    return environment_from_class(target, name=BFCL_PREFIX + class_name, config={}, loader=loader, scenarios=scenarios)


def bfcl_class(class_name: str) -> type:
    """BFCL's class `class_name`, imported from `bfcl-eval`; one-line errors when it cannot be."""
    if class_name not in BFCL_CLASSES:
        raise UnknownEnvironment(f"unknown BFCL class {class_name!r} (known: {', '.join(BFCL_CLASSES)})")
    try:
        from bfcl_eval.constants.executable_backend_config import CLASS_FILE_PATH_MAPPING

        return getattr(importlib.import_module(CLASS_FILE_PATH_MAPPING[class_name]), class_name)
    except ImportError as error:
        raise UnknownEnvironment(f"{_INSTALL} ({error})") from error


@functools.cache
def bfcl_entries(category: str = "multi_turn_base") -> tuple[dict[str, Any], ...]:
    """BFCL's entries of `category`, each with its `ground_truth` (from BFCL's possible answers) added."""
    try:
        data = resources.files("bfcl_eval") / "data"
    except ModuleNotFoundError as error:
        raise UnknownEnvironment(_INSTALL) from error
    found = sorted(path.name for path in data.iterdir() if path.name.endswith(f"_{category}.json"))
    if not found:
        raise UnknownEnvironment(f"bfcl-eval ships no {category!r} entries")
    answers = {entry["id"]: entry["ground_truth"] for entry in _json_lines(data / "possible_answer" / found[-1])}
    return tuple(entry | {"ground_truth": answers.get(entry["id"], [])} for entry in _json_lines(data / found[-1]))


def parse_bfcl_call(call: str, classes: list[str]) -> tuple[str, dict[str, Any]]:
    """BFCL's `tool(a='x', 3)` as (tool, keyword arguments); positional ones named from the method of `classes`."""
    try:
        node = ast.parse(call.strip(), mode="eval").body
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            raise ValueError("not a plain function call")
        arguments = {keyword.arg: ast.literal_eval(keyword.value) for keyword in node.keywords if keyword.arg}
        positional = [ast.literal_eval(value) for value in node.args]
    except (SyntaxError, ValueError) as error:
        raise ValueError(f"cannot read the BFCL call {call!r}: {error}") from error
    tool = node.func.id
    if positional:
        method = next((getattr(bfcl_class(name), tool) for name in classes if hasattr(bfcl_class(name), tool)), None)
        if method is None:
            raise ValueError(f"no class of {classes} has a method {tool!r}")
        names = list(inspect.signature(method).parameters)[1:]
        arguments = dict(zip(names, positional, strict=False)) | arguments
    return tool, arguments


def _json_lines(path: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
