"""BFCL's eight multi-turn classes (from the optional `bfcl-eval` package) as environments, with BFCL's scenarios.

FunReason-MT synthesized its data in these classes.  Each becomes an environment named
`bfcl:<Class>` through the class adapter; its scenarios are the initial configs of BFCL's
multi-turn base entries that involve it (named by entry id), plus `default`, the class's own.
Each class carries the shipped hints file `fixtures/bfcl/hints/<Class>.toml` (phrasing,
entities, state conditions, pools), so its tools publish hints as ours do; `bfcl_runs` picks
the entries a run starts from and `bfcl_scenario_pools` the values each entry's state holds.
"""

import ast
import functools
import importlib
import inspect
import json
import math
import random
import tomllib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from servers.classes import environment_from_class, with_hints
from servers.environment import Environment
from servers.errors import UnknownEnvironment
from servers.scenarios import fixtures_root

__all__ = [
    "BFCL_CLASSES",
    "BFCL_PREFIX",
    "bfcl_class",
    "bfcl_entries",
    "bfcl_environment",
    "bfcl_environment_names",
    "bfcl_hints_path",
    "bfcl_runs",
    "bfcl_scenario_pools",
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
    env = environment_from_class(target, name=BFCL_PREFIX + class_name, config={}, loader=loader, scenarios=scenarios)
    hints = tomllib.loads(bfcl_hints_path(class_name).read_text(encoding="utf-8"))
    return with_hints(env, hints.get("tools", {}), hints.get("pools", {}))


def bfcl_hints_path(class_name: str) -> Path:
    """The shipped hints file of a BFCL class (checked by `simulator.hints.load_hints` in the tests)."""
    return fixtures_root() / "bfcl" / "hints" / f"{class_name.removeprefix(BFCL_PREFIX)}.toml"


def bfcl_runs(
    env_names: Sequence[str], trajectories: int, seed: int
) -> list[tuple[tuple[str, ...], str | dict[str, str], int]]:
    """Which BFCL entries a run explores: (environments, scenario, trajectories) per entry, seeded.

    `trajectories` per class, spread over the base entries that involve any of `env_names`
    (at least two a entry), each in its own sandbox of the classes the entry involves, as BFCL
    combines them, starting in its initial config.  A class without a loader (MathAPI) starts
    in its default.
    """
    wanted = {name.removeprefix(BFCL_PREFIX) for name in env_names}
    eligible = [entry for entry in bfcl_entries() if wanted & set(entry["involved_classes"])]
    if not eligible or trajectories <= 0:
        return []
    random.Random(f"bfcl-runs:{seed}").shuffle(eligible)
    total = trajectories * len(wanted)
    each = max(2, math.ceil(total / len(eligible)))
    runs = []
    for entry in eligible[: math.ceil(total / each)]:
        envs = tuple(BFCL_PREFIX + name for name in entry["involved_classes"])
        scenarios = {env: entry["id"] if entry["id"] in _scenarios(env) else "default" for env in envs}
        chosen = entry["id"] if set(scenarios.values()) == {entry["id"]} else scenarios
        runs.append((envs, chosen, each))
    return runs


def bfcl_scenario_pools(env_names: Sequence[str], scenario: str | dict[str, str]) -> dict[str, list[Any]]:
    """Values the entry's initial state holds, by the entity types of the shipped hints: the files in
    the current folder, the account's credentials and travel token, tweet, ticket, order, card and booking ids."""
    pools: dict[str, list[Any]] = {}
    for env in env_names:
        name = scenario.get(env, "default") if isinstance(scenario, dict) else scenario
        state = _scenarios(env).get(name, {})
        environment = bfcl_environment(env)(state)
        for key, values in _STATE_POOLS.get(env.removeprefix(BFCL_PREFIX), _nothing)(environment.state_data()).items():
            found = [value for value in values if value not in (None, "")]
            if found:
                pools.setdefault(key, []).extend(dict.fromkeys(found))
    return pools


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


def _scenarios(env: str) -> dict[str, Any]:
    return bfcl_environment(env).builtin_scenarios


def _nothing(state: dict[str, Any]) -> dict[str, list[Any]]:
    return {}


def _files(state: dict[str, Any]) -> dict[str, list[Any]]:
    return {"fs_name": list((state.get("root") or {}).get("contents") or {})}


def _twitter(state: dict[str, Any]) -> dict[str, list[Any]]:
    tweets = list((state.get("tweets") or {}).values())
    return {
        "twitter_account": [state.get("username")],
        "twitter_password": [state.get("password")],
        "tweet_id": [tweet.get("id") for tweet in tweets],
        "twitter_user": [*(tweet.get("username") for tweet in tweets), *(state.get("following_list") or [])],
    }


def _messages(state: dict[str, Any]) -> dict[str, list[Any]]:
    """The workspace's users, and who signs in: the entry's current user (not a contact just added or looked up)."""
    users = state.get("user_map") or {}
    own = [state["current_user"]] if state.get("current_user") else list(users.values())
    return {"user": list(users), "message_user_id": list(users.values()), "message_account": own}


def _tickets(state: dict[str, Any]) -> dict[str, list[Any]]:
    return {"ticket_id": [ticket.get("id") for ticket in state.get("ticket_queue") or []]}


def _trading(state: dict[str, Any]) -> dict[str, list[Any]]:
    orders = [int(key) for key in state.get("orders") or {} if str(key).isdigit()]
    return {"symbol": [*(state.get("stocks") or {}), *(state.get("watch_list") or [])], "order_id": orders}


def _travel(state: dict[str, Any]) -> dict[str, list[Any]]:
    first, last = state.get("user_first_name"), state.get("user_last_name")
    return {
        "travel_access_token": [state.get("access_token")],
        "card_id": list(state.get("credit_card_list") or {}),
        "booking_id": list(state.get("booking_record") or {}),
        "first_name": [first],
        "last_name": [last],
        "user_first_name": [first],
        "user_last_name": [last],
        "cardholder_name": [f"{first} {last}" if first and last else None],
    }


_STATE_POOLS = {
    "GorillaFileSystem": _files,
    "TwitterAPI": _twitter,
    "MessageAPI": _messages,
    "TicketAPI": _tickets,
    "TradingBot": _trading,
    "TravelAPI": _travel,
}


def _json_lines(path: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
