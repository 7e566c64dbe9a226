"""Exploring BFCL's classes in BFCL's own task states: one short run per sampled base entry."""

import functools
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from servers.bfcl import BFCL_PREFIX, bfcl_runs, bfcl_scenario_pools
from simulator.connection import ServerTarget
from simulator.explorer import ExploreConfig, Progress, explore

__all__ = ["explore_bfcl", "is_bfcl"]

_SEEDS = 1_000_003
"""Entry `k` of a run with seed `s` explores with seed `s * _SEEDS + k`: no two seeds share an entry seed."""


def is_bfcl(env_names: Sequence[str]) -> bool:
    """Whether every environment named is one of BFCL's classes."""
    return bool(env_names) and all(name.startswith(BFCL_PREFIX) for name in env_names)


def explore_bfcl(
    env_names: Sequence[str],
    store_path: Path,
    config: ExploreConfig,
    progress: Progress | None = None,
    *,
    hints: str | None = None,
) -> list[str]:
    """`config.trajectories` per class, over the base entries `servers.bfcl.bfcl_runs` samples with the
    seed; each entry's sandbox holds the classes it involves in its initial config, and its values (files,
    accounts, ids) are pools besides the shipped ones.  Returns the run ids; resumes like `explore`."""
    runs = bfcl_runs(env_names, config.trajectories, config.seed)
    total = sum(count for *_, count in runs)
    report = progress or (lambda done, wanted: None)
    run_ids, finished = [], 0
    for number, (envs, scenario, count) in enumerate(runs):
        values = {key: list(found) for key, found in bfcl_scenario_pools(envs, scenario).items()}
        for key, given in config.values.items():
            values.setdefault(key, []).extend(given)
        target = ServerTarget(envs=envs, scenario=scenario, hints=hints)
        # a seed of its own: entries whose classes and pools are alike must not repeat one another's walks
        run_config = replace(config, trajectories=count, values=values, seed=config.seed * _SEEDS + number)
        step = functools.partial(_report_within, report, finished, total)
        run_ids.append(explore(target, store_path, run_config, step))
        finished += count
    return run_ids


def _report_within(report: Progress, before: int, total: int, done: int, wanted: int) -> None:
    report(before + done, total)
