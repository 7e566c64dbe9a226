"""Scenario generators: from a seed and the value pools, a valid and varied initial state per environment.

`servers/worlds/<env>.py` holds one environment's generator (all of the same shape: one
`@generator(env)` function from a `Draw` to a `World`); `_framework.py` what they share.
A scenario named `generated:<seed>` is built here wherever a scenario name is accepted.
"""

from servers.worlds._framework import (
    GENERATED_PREFIX,
    Draw,
    Person,
    World,
    generate_world,
    generated_names,
    generated_seed,
    generator,
    world_environments,
    world_pools,
)

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
