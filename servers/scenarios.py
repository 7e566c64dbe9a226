"""Scenario files (initial states) and value pools under `fixtures/<env>/`."""

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from servers.environment import Environment
from servers.errors import ScenarioError
from servers.registry import get_environment

__all__ = [
    "DEFAULT_SCENARIO",
    "Scenario",
    "combined_scenario_names",
    "fixtures_root",
    "load_combined_scenario",
    "load_pools",
    "load_scenario",
    "read_json_object",
    "scenario_names",
    "scenario_records",
]

DEFAULT_SCENARIO = "default"


@dataclass(frozen=True)
class Scenario:
    """One validated initial state of one environment."""

    env: str
    name: str
    description: str
    state: dict[str, Any]


def fixtures_root() -> Path:
    """Where the shipped fixtures live, in a checkout and in an installed copy alike."""
    return Path(str(resources.files("fixtures")))


def scenario_names(env: str) -> list[str]:
    """Names of the scenarios shipped for `env`, sorted."""
    folder = fixtures_root() / env / "scenarios"
    return sorted({path.stem for path in folder.glob("*.json")} | set(get_environment(env).builtin_scenarios))


def load_scenario(env: type[Environment], name: str | None = None, *, path: Path | None = None) -> Scenario:
    """Read and validate a scenario: a shipped one by name, or any file by path.

    A `name` ending in `.json` is read as a path, so users can bring their own; `generated:<seed>`
    is built by the environment's scenario generator (`servers.worlds`) from that seed.

    A scenario file is `{"description": "...", "state": {...}}`; the state is
    validated against the environment's state model.  Every failure is one
    `ScenarioError` line naming the file and the field.
    """
    name = name or DEFAULT_SCENARIO
    if path is None and name.startswith("generated:"):
        from servers.worlds import generate_world, generated_seed  # generators read this module's pools

        world = generate_world(env.name, generated_seed(name) or 0)
        return _validated(env, name, world.description, world.state, where=f"{env.name} scenario {name!r}")
    if path is None and name in env.builtin_scenarios:
        return _validated(env, name, "", env.builtin_scenarios[name], where=f"{env.name} scenario {name!r}")
    if path is None and name.endswith(".json"):
        path = Path(name)
    if path is None:
        path = fixtures_root() / env.name / "scenarios" / f"{name}.json"
        if not path.is_file():
            known = ", ".join(scenario_names(env.name)) or "none"
            raise ScenarioError(f"unknown scenario {name!r} for environment {env.name!r} (known: {known})")
    data = read_json_object(path)
    unknown = sorted(set(data) - {"description", "state"})
    if unknown or "state" not in data:
        problem = f"unexpected key {unknown[0]!r}" if unknown else "missing key 'state'"
        raise ScenarioError(f"{path}: {problem} (a scenario is {{'description': ..., 'state': {{...}}}})")
    return _validated(env, path.stem, str(data.get("description", "")), data["state"], where=str(path))


def combined_scenario_names() -> list[str]:
    """Scenarios that put several environments in one sandbox (`fixtures/combined/*.json`)."""
    return sorted(path.stem for path in (fixtures_root() / "combined").glob("*.json"))


def load_combined_scenario(name: str) -> dict[str, str] | None:
    """Environment -> scenario name for a combined scenario, or None when `name` is not one.

    A combined scenario file is `{"description": ..., "environments": {"travel": "default", ...}}`.
    """
    path = fixtures_root() / "combined" / f"{name}.json"
    if not path.is_file():
        return None
    environments = read_json_object(path).get("environments")
    if not isinstance(environments, dict) or not environments:
        raise ScenarioError(f"{path}: 'environments' must be an object of scenario names by environment")
    for env, scenario in environments.items():
        if scenario not in scenario_names(env):
            raise ScenarioError(f"{path}: environments.{env}: unknown scenario {scenario!r}")
    return environments


def load_pools(env: str) -> dict[str, list[Any]]:
    """Value pools for argument filling, keyed by entity type or parameter name."""
    path = fixtures_root() / env / "pools.json"
    pools = {key: list(values) for key, values in get_environment(env).builtin_pools.items()}
    if not path.is_file():
        return pools
    for key, values in read_json_object(path).items():
        if not isinstance(values, list):
            raise ScenarioError(f"{path}: {key}: a pool must be a list of values")
        pools.setdefault(key, []).extend(values)
    return pools


@functools.lru_cache(maxsize=256)
def scenario_records(env: str, name: str) -> dict[str, list[dict[str, Any]]]:
    """The pools of records (a login's username and password, drawn together) as a shipped scenario holds them:
    its objects that have every field of a pool's records, after the pool's records the scenario holds.  The
    shipped pools pair the default scenario's accounts, and a walk in another scenario never logged in.  Only
    the pools that differ from the shipped ones; a pool no object of the scenario fits is left as it is."""
    pools = load_pools(env)
    objects = list(_objects(load_scenario(get_environment(env), name).state))
    own: dict[str, list[dict[str, Any]]] = {}
    for key, records in pools.items():
        if not records or not all(isinstance(record, dict) and record for record in records):
            continue
        fields = list(dict.fromkeys(field for record in records for field in record))
        held = [record for record in records if any(record.items() <= item.items() for item in objects)]
        found = [{field: item[field] for field in fields} for item in objects if item.keys() >= set(fields)]
        merged = held + [record for record in found if record not in held]
        if found and merged != records:
            own[key] = merged
    return own


def _objects(data: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object inside `data`, outermost first."""
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _objects(value)
    elif isinstance(data, list):
        for value in data:
            yield from _objects(value)


def _validated(env: type[Environment], name: str, description: str, state: Any, *, where: str) -> Scenario:
    try:
        model = env.state_model.model_validate(state)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in ("state", *first["loc"]))
        raise ScenarioError(f"{where}: {field}: {first['msg']}") from error
    return Scenario(env.name, name, description, model.model_dump(mode="json", exclude_unset=True))


def read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioError(f"{path}: cannot read: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {error.start})") from error
    except json.JSONDecodeError as error:
        raise ScenarioError(f"{path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}") from error
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a JSON object at the top level")
    return data
