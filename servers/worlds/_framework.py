"""What every scenario generator shares: the `generated:<seed>` names, the seeded draw, the registry, the check."""

import functools
import importlib
import pkgutil
import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import ValidationError

from servers.errors import ScenarioError
from servers.registry import get_environment

__all__ = [
    "GENERATED_PREFIX",
    "Draw",
    "Person",
    "World",
    "generate_world",
    "generated_names",
    "generated_seed",
    "generator",
    "world_environments",
    "world_pools",
]

GENERATED_PREFIX = "generated:"
"""A scenario named `generated:<seed>` is built by the environment's generator from that seed."""

_T = TypeVar("_T")
Generator = Callable[["Draw"], "World"]
_GENERATORS: dict[str, Generator] = {}


@dataclass(frozen=True)
class World:
    """One generated initial state, and the values a user of that world would name.

    `pools` replace the environment's pools of the same key for trajectories in this world
    (its users, credentials, ids, paths): the shipped pools name the default scenario's.
    """

    state: dict[str, Any]
    pools: dict[str, list[Any]]
    description: str


@dataclass(frozen=True)
class Person:
    first: str
    last: str

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"


class Draw:
    """The one source of randomness a generator may use: seeded by (environment, seed), so a world is
    the same on every machine; with the shared vocabulary (`fixtures/worlds.json`) and the env's pools."""

    def __init__(self, env: str, seed: int, pools: dict[str, list[Any]], vocabulary: dict[str, list[Any]]) -> None:
        self.env = env
        self.seed = seed
        self.pools = pools
        self.words = vocabulary
        self.rng = random.Random(f"world:{env}:{seed}")

    def pick(self, options: Sequence[_T]) -> _T:
        return options[self.rng.randrange(len(options))]

    def sample(self, options: Sequence[_T], count: int) -> list[_T]:
        """`count` distinct items (all of them when there are fewer), in a random order."""
        return self.rng.sample(list(options), min(count, len(options)))

    def between(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def amount(self, low: float, high: float, step: float = 0.01) -> float:
        """A money-like number in [low, high] on a grid of `step`."""
        return round(round(self.rng.uniform(low, high) / step) * step, 2)

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def vocab(self, key: str) -> list[Any]:
        return self.words[key]

    def pool(self, key: str) -> list[Any]:
        return self.pools.get(key, [])

    def people(self, count: int) -> list[Person]:
        """`count` people with distinct full names and distinct first names (handles stay unique)."""
        firsts = self.sample(self.vocab("first_names"), count)
        return [Person(first, self.pick(self.vocab("last_names"))) for first in firsts]

    def password(self, person: Person) -> str:
        """A password a person might pick: a word or name, digits, a symbol, in one of a few shapes."""
        word = self.pick([person.first, person.last, self.pick(self.vocab("password_words"))])
        digits = str(self.pick([self.between(1, 99), self.between(1960, 2026), self.between(100, 9999)]))
        symbol = self.pick("!#$%&*?@")
        shape = self.between(0, 3)
        if shape == 0:
            return f"{word}{symbol}{digits}"
        if shape == 1:
            return f"{word.lower()}-{self.pick(self.vocab('password_words')).capitalize()}-{digits}"
        if shape == 2:
            return f"{word[0].upper()}{word[1:].lower()}{digits}{symbol}"
        return f"{self.pick(self.vocab('password_words')).capitalize()}{symbol}{word.lower()}{digits[-2:]}"

    def moment(self, end: str, days: float) -> str:
        """An ISO time (to the minute) up to `days` before `end`."""
        back = timedelta(minutes=self.between(1, max(1, int(days * 24 * 60))))
        return (datetime.fromisoformat(end) - back).replace(second=0).isoformat()

    def moments(self, end: str, days: float, count: int) -> list[str]:
        """`count` ISO times up to `days` before `end`, oldest first (ids follow time, as a service's do)."""
        return sorted(self.moment(end, days) for _ in range(count))

    def handle(self, person: Person, separator: str = ".") -> str:
        """A login name made from a person's name: `maria.lopez`, `mlopez`, `maria_l` or `maria.lopez7`."""
        first, last = person.first.lower(), person.last.lower()
        shapes = [
            f"{first}{separator}{last}",
            f"{first[0]}{last}",
            f"{first}{separator}{last[0]}",
            f"{first}{last[:3]}",
        ]
        return self.pick(shapes) + (str(self.between(1, 99)) if self.chance(0.2) else "")

    def unique(self, names: list[str]) -> list[str]:
        """`names` with a number added to each repeat (`alopez`, `alopez2`), order kept."""
        seen: set[str] = set()
        result = []
        for name in names:
            candidate, number = name, 1
            while candidate in seen:
                number += 1
                candidate = f"{name}{number}"
            seen.add(candidate)
            result.append(candidate)
        return result

    def clock(self, year: int = 2026) -> str:
        """A working-day morning or afternoon in the first half of `year`."""
        day = datetime(year, 1, 5) + timedelta(days=self.between(0, 170))
        return day.replace(hour=self.between(8, 17), minute=self.pick((0, 10, 15, 30, 45, 50))).isoformat()

    def code(self, length: int = 4) -> str:
        return "".join(self.pick(string.digits) for _ in range(length))


def generator(env: str) -> Callable[[Generator], Generator]:
    """Register `function(draw) -> World` as `env`'s scenario generator (one per environment)."""

    def register(function: Generator) -> Generator:
        if env in _GENERATORS:
            raise ScenarioError(f"{env!r} has a scenario generator already")
        _GENERATORS[env] = function
        return function

    return register


def world_environments() -> list[str]:
    """Environments that have a scenario generator, sorted."""
    _import_generators()
    return sorted(_GENERATORS)


def generated_seed(name: str | None) -> int | None:
    """The seed of a `generated:<seed>` scenario name; None for any other name."""
    if not name or not name.startswith(GENERATED_PREFIX):
        return None
    text = name.removeprefix(GENERATED_PREFIX)
    if not text.isdigit():
        raise ScenarioError(f"scenario {name!r}: a generated scenario is {GENERATED_PREFIX}<seed>, seed 0 or more")
    return int(text)


def generated_names(count: int, seed: int) -> list[str]:
    """`count` generated scenario names for a run with `seed`: another seed, other worlds."""
    return [f"{GENERATED_PREFIX}{seed * 10_000 + number}" for number in range(count)]


@functools.lru_cache(maxsize=512)
def generate_world(env: str, seed: int) -> World:
    """`env`'s world for `seed`, checked by the environment's state model (cached: a run meets each often).

    A generator that breaks its environment's rules is a bug, and shows as one line naming the field.
    """
    from servers.scenarios import load_pools  # scenarios resolve generated names through this module

    _import_generators()
    if env not in _GENERATORS:
        known = ", ".join(sorted(_GENERATORS)) or "none"
        raise ScenarioError(f"environment {env!r} has no scenario generator (those that do: {known})")
    world = _GENERATORS[env](Draw(env, seed, load_pools(env), _vocabulary()))
    try:
        model = get_environment(env).state_model.model_validate(world.state)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in ("state", *first["loc"]))
        raise ScenarioError(f"{env} scenario {GENERATED_PREFIX}{seed}: {field}: {first['msg']}") from error
    return World(model.model_dump(mode="json", exclude_unset=True), world.pools, world.description)


def world_pools(env: str, scenario: str | None) -> dict[str, list[Any]]:
    """The pools a trajectory in `scenario` should use in place of the env's: a generated world's, a shipped
    scenario's own records (`servers.scenarios.scenario_records`), nothing for a file of the user's."""
    from servers.scenarios import scenario_names, scenario_records

    seed = generated_seed(scenario)
    if seed is not None:
        return generate_world(env, seed).pools
    return dict(scenario_records(env, scenario)) if scenario in scenario_names(env) else {}


@functools.cache
def _vocabulary() -> dict[str, list[Any]]:
    from servers.scenarios import fixtures_root, read_json_object

    return read_json_object(fixtures_root() / "worlds.json")


@functools.cache
def _import_generators() -> None:
    """Import each `servers/worlds/<env>.py` once; importing registers its generator."""
    package = importlib.import_module("servers.worlds")
    for module_info in pkgutil.iter_modules(package.__path__):
        if not module_info.name.startswith("_"):
            importlib.import_module(f"servers.worlds.{module_info.name}")
