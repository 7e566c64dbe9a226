"""Shards: a run's index range cut into pieces that explore into stores of their own and merge back.

A shard is (run, index range).  Its trajectories depend only on the seed, their index
and the run's frozen graph (see `simulator.explorer`), so the driver runs the discovery
prefix once, freezes the graph and ships it with every shard; a shard explored anywhere
gives exactly the trajectories a plain run gives for those indices.  Merging is by
primary key (`Store.merge_from`) and finished shards are recorded in the store, so a
shard run twice adds nothing and a killed driver resumes with the shards it lacks.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio

from simulator.connection import ServerTarget
from simulator.explorer import ExploreConfig, _explore_indices, explore, run_id_for
from simulator.records import Trajectory
from simulator.store import Store

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "Shard",
    "explore_shard",
    "finished_shards",
    "merge_shard",
    "plan_exploration",
    "plan_stored",
    "prepare_exploration",
]

logger = logging.getLogger(__name__)

DEFAULT_SHARD_SIZE = 100
"""Trajectories per shard: Ray's own cost per shard is then well under 1% of the shard's work."""


@dataclass(frozen=True)
class Shard:
    """One piece of work: explore `indices` of a run and/or carry `given` trajectories into a shard store."""

    id: str
    run_id: str
    size: int
    """Trajectories the shard stands for (for progress)."""
    target: ServerTarget | None = None
    config: ExploreConfig | None = None
    graphs: tuple[tuple[str, dict[str, Any]], ...] = ()
    """(stage, graph JSON) of the run: `initial` fixes the targets, `frozen` the walks."""
    indices: tuple[int, ...] = ()
    """Indices to explore on the worker."""
    given: tuple[Trajectory, ...] = ()
    """Trajectories the main store holds already, shipped for the stages after exploration."""
    payload: tuple[Any, ...] = ()
    """Anything else a stage's work reads (evaluation tasks, say)."""


def prepare_exploration(target: ServerTarget, store_path: Path, config: ExploreConfig) -> str:
    """Run the discovery prefix here (once, in order) so the frozen graph is in the store; returns the run id.

    The run is recorded with the full config first: the prefix is a run of `discovery`
    trajectories whose targets are the first ones of the full plan (the plan is prefix-stable).
    """
    run_id = run_id_for(target, config)
    with Store(store_path) as store:
        store.ensure_run(run_id, kind="explore", target=target.label, config=_config_row(config), seed=config.seed)
    prefix = replace(config, trajectories=min(config.discovery, config.trajectories), workers=1)
    explore(target, store_path, prefix)
    return run_id


def plan_exploration(
    target: ServerTarget,
    store_path: Path,
    config: ExploreConfig,
    tag: str,
    *,
    size: int = DEFAULT_SHARD_SIZE,
    ship_stored: bool = False,
) -> list[Shard]:
    """Shards of `size` indices over the run's whole range; `tag` names the work they do.

    Only indices the store lacks are explored; with `ship_stored`, trajectories the store
    holds in a shard's range travel with it (for synthesis on the worker).
    """
    run_id = run_id_for(target, config)
    with Store(store_path) as store:
        graphs = tuple((stage, store.load_graph(run_id, stage) or {}) for stage in ("initial", "frozen"))
        done = store.trajectory_indices(run_id)
        stored = _by_range(store, run_id, size) if ship_stored else {}
    shards = []
    for start in range(0, config.trajectories, size):
        stop = min(start + size, config.trajectories)
        missing = tuple(index for index in range(start, stop) if index not in done)
        given = tuple(stored.get(start, ()))
        if missing or given:
            shard_id = f"{run_id}:{start:06d}-{stop:06d}:{tag}"
            shards.append(Shard(shard_id, run_id, stop - start, target, config, graphs, missing, given))
    return shards


def plan_stored(
    store_path: Path, tag: str, keep: Callable[[Trajectory], bool], *, size: int = DEFAULT_SHARD_SIZE
) -> list[Shard]:
    """Shards over the trajectories a store holds, run by run, `size` at a time; only those `keep(t)` accepts."""
    shards: list[Shard] = []
    batch: list[Trajectory] = []

    def close() -> None:
        if batch:
            first, last = batch[0], batch[-1]
            shard_id = f"{first.run_id}:{first.index:06d}-{last.index + 1:06d}:{tag}"
            shards.append(Shard(shard_id, first.run_id, len(batch), given=tuple(batch)))
            batch.clear()

    with Store(store_path) as store:
        for trajectory in store.iter_trajectories():
            if batch and (batch[0].run_id != trajectory.run_id or len(batch) == size):
                close()
            if keep(trajectory):
                batch.append(trajectory)
        close()
    return shards


def explore_shard(shard: Shard, path: Path) -> None:
    """Fill a fresh shard store at `path`: the run, its graphs, the given trajectories, then the explored ones."""
    with Store(path) as store:
        if shard.config is not None and shard.target is not None:
            store.ensure_run(
                shard.run_id,
                kind="explore",
                target=shard.target.label,
                config=_config_row(shard.config),
                seed=shard.config.seed,
            )
        elif shard.given:  # synthesis reads trajectories run by run: the run must be there (the main store has it)
            first = shard.given[0]
            store.ensure_run(shard.run_id, kind="shard", target=first.env, config={}, seed=first.seed)
        for stage, graph in shard.graphs:
            store.save_graph(shard.run_id, stage, graph)
        for trajectory in shard.given:
            store.save_trajectory(trajectory)
    if shard.indices and shard.target is not None and shard.config is not None:
        frozen = dict(shard.graphs)["frozen"]
        anyio.run(
            _explore_indices,
            shard.target,
            path,
            shard.config,
            shard.run_id,
            frozen,
            list(shard.indices),
            lambda done, wanted: None,
        )


def finished_shards(store: Store) -> set[str]:
    """Ids of the shards merged into this store already."""
    if "shards" not in store.db.table_names():
        return set()
    return {shard_id for (shard_id,) in store.db.execute("SELECT id FROM shards")}


def merge_shard(store: Store, shard: Shard, path: Path) -> int:
    """Merge a finished shard's store and record the shard as done; returns the rows added."""
    added = store.merge_from(path)
    with store.db.conn:
        store.db["shards"].insert({"id": shard.id, "run_id": shard.run_id, "rows": added}, pk="id", replace=True)
    logger.info("merged shard %s: %d rows", shard.id, added)
    return added


def _by_range(store: Store, run_id: str, size: int) -> dict[int, list[Trajectory]]:
    buckets: dict[int, list[Trajectory]] = {}
    for trajectory in store.iter_trajectories(run_id):
        buckets.setdefault(trajectory.index - trajectory.index % size, []).append(trajectory)
    return buckets


def _config_row(config: ExploreConfig) -> dict[str, Any]:
    return config.settings()
