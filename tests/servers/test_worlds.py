"""Scenario generators, the contract every environment keeps: generated worlds are valid, reproducible
from their seed, different from each other, named like the world they describe, and every tool works
in them as it does in the shipped scenarios (explored for real through the in-process MCP server)."""

import json
from pathlib import Path

import pytest

from servers import (
    ScenarioError,
    canonical_json,
    create_sandbox,
    environment_names,
    get_environment,
    hash_state,
    load_pools,
    load_scenario,
)
from servers.worlds import GENERATED_PREFIX, generate_world, generated_names, generated_seed, world_environments
from simulator import ExploreConfig, ServerTarget, Store, explore

ENVIRONMENTS = environment_names()
SEEDS = range(12)


def _fresh(env: str, seed: int):
    """A world built again from nothing (the cache would hand back the object it made before)."""
    return generate_world.__wrapped__(env, seed)


def test_every_built_in_environment_has_a_generator():
    assert world_environments() == ENVIRONMENTS


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_generated_worlds_validate_and_come_back_from_their_seed(env):
    model = get_environment(env).state_model
    for seed in SEEDS:
        world = _fresh(env, seed)
        model.model_validate(world.state)  # the environment's own checks
        assert canonical_json(_fresh(env, seed).state) == canonical_json(world.state)
        assert _fresh(env, seed).pools == world.pools
        scenario = load_scenario(get_environment(env), f"{GENERATED_PREFIX}{seed}")
        assert scenario.state == world.state and scenario.description == world.description
        first, second = create_sandbox(env, scenario.name, seed=5), create_sandbox(env, scenario.name, seed=5)
        assert first.state_hash() == second.state_hash() == hash_state({env: world.state})


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_different_seeds_give_different_worlds_of_varied_size(env):
    states = [_fresh(env, seed).state for seed in SEEDS]
    assert len({canonical_json(state) for state in states}) == len(states)
    default = load_scenario(get_environment(env), "default").state
    shipped = canonical_json(default)
    assert all(canonical_json(state) != shipped for state in states)
    sizes = {len(canonical_json(state)) for state in states}
    assert len(sizes) >= len(states) // 2, "worlds should differ in size, not only in values"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_world_pools_name_what_is_in_the_world(env):
    """A pool that replaces the shipped one holds values this world has (its users, ids, paths), so the
    explorer's arguments find something; at least half of each pool's values occur in the state."""
    for seed in SEEDS:
        world = _fresh(env, seed)
        text = canonical_json(world.state)
        for key, values in world.pools.items():
            assert values, f"{env} seed {seed}: empty pool {key!r}"
            found = [value for value in values if _occurs(value, text)]
            figures = env == "math" and key != "variable_name"  # a calculator's user brings other numbers
            if key not in ("travel_date", "name", "cardholder_name") and not figures:  # new values by design
                assert len(found) * 2 >= len(values), (env, seed, key, values)


def _occurs(value, text: str) -> bool:
    """Whether a pool value (a record: each of its values) is written somewhere in the state's JSON."""
    if isinstance(value, dict):
        return all(_occurs(item, text) for item in value.values())
    return json.dumps(value, ensure_ascii=False).strip('"').lower() in text.lower()


@pytest.mark.heavy
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_tool_works_in_generated_worlds(env, tmp_path: Path):
    """The tools that succeed in an exploration of the shipped scenarios succeed in eight generated
    worlds too (every tool a target four times)."""
    tools = len(get_environment(env).tool_specs())
    config = ExploreConfig(trajectories=4 * tools, max_steps=12, after_target_steps=2, discovery=4)
    worked = {}
    for label, worlds in (("shipped", ()), ("generated", tuple(generated_names(8, seed=1)))):
        store_path = tmp_path / f"{label}.db"
        explore(ServerTarget(envs=(env,)), store_path, ExploreConfig(**{**config.__dict__, "worlds": worlds}))
        with Store(store_path) as store:
            trajectories = list(store.iter_trajectories())
        worked[label] = {step.tool for t in trajectories for step in t.steps if not step.is_error}
        if worlds:
            assert {t.scenario for t in trajectories} <= set(worlds)
            assert len({t.scenario for t in trajectories}) == len(worlds)
    # The sampler pairs a login's user name (from an earlier result) and password (from a pool record) by
    # chance, so a tool that needs one user logged in is reached in some walks, not all: allow a tenth.
    missing = worked["shipped"] - worked["generated"]
    assert len(missing) <= len(worked["shipped"]) // 10, missing


def test_a_bad_generated_name_is_one_line():
    with pytest.raises(ScenarioError, match="generated:<seed>"):
        load_scenario(get_environment("messaging"), "generated:abc")
    assert generated_seed("default") is None and generated_seed("generated:42") == 42
    assert generated_names(2, seed=3) != generated_names(2, seed=4)


def test_a_calculator_world_asks_with_its_own_figures_in_range():
    """Each math world moves the shipped figures (7!, the 90th percentile) within the whole numbers beside them,
    so the same request comes with other numbers in other worlds, and a list keeps its length."""
    shipped = load_pools("math")
    worlds = [_fresh("math", seed).pools for seed in SEEDS]
    assert len({repr(pools["n"]) for pools in worlds}) == len(worlds)
    for pools in worlds:
        assert all(min(shipped["n"]) <= n <= max(shipped["n"]) for n in pools["n"])
        assert all(min(shipped["percentile"]) <= p <= max(shipped["percentile"]) for p in pools["percentile"])
        assert sorted(map(len, pools["numbers"])) == sorted(map(len, shipped["numbers"]))
