"""Explore and synthesize in shards on Ray, with one LLM concurrency limit per endpoint for the whole cluster.

A shard explores its indices and synthesizes its trajectories into its own store on a
worker; the driver merges the shards.  Synthesis is per-trajectory deterministic (its
rng is seeded by the trajectory), so the samples are those of the plain run; the one
step that looks across samples, dropping near-duplicate requests, is left to the plain
`synthesize` that runs after the merge over the whole store.
"""

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from servers import environment_names
from simulator import ServerTarget, Store
from simulator.cluster import connect_ray, run_shards
from simulator.shards import (
    DEFAULT_SHARD_SIZE,
    Shard,
    explore_shard,
    plan_exploration,
    plan_stored,
    prepare_exploration,
)
from synthesizer.errors import ConfigError
from synthesizer.pipeline import RunConfig, Stage
from synthesizer.roles import Backend, ModelBackend
from synthesizer.samples import SampleStore
from synthesizer.synthesize import SynthesisConfig, _sample_id, synthesize

__all__ = [
    "BackendFactory",
    "ClusterLimit",
    "SynthesisWork",
    "run_on_ray",
    "shared_permits",
    "synthesis_work",
    "synthesize_on_ray",
]

BackendFactory = Callable[[Store], Backend]
"""Makes the backend on a worker, its response cache in the given store; must pickle."""


@dataclass(frozen=True)
class SynthesisWork:
    """A shard's work on a worker: explore it, then synthesize all its trajectories (no near-duplicate pass)."""

    config: SynthesisConfig
    backend: BackendFactory
    model: str
    """The backend's key: what sample ids are derived from."""
    limit: Any = None
    """A `_Permits` actor handle: the endpoint's limit, shared by every worker."""

    def __call__(self, shard: Shard, path: Path) -> None:
        explore_shard(shard, path)
        with Store(path) as cache_store:
            backend = self.backend(cache_store)
            if self.limit is not None and isinstance(backend, ModelBackend):
                backend.chat.limit = ClusterLimit(self.limit)
            synthesize(path, self.config, backend, near_duplicates=False)


def synthesize_on_ray(
    store_path: Path,
    config: SynthesisConfig,
    backend: BackendFactory,
    address: str,
    progress: Callable[[int, int], None] | None = None,
    *,
    shard_size: int = DEFAULT_SHARD_SIZE,
) -> int:
    """Synthesize the store's pending trajectories in shards on Ray; returns the shards run.

    Run the plain `synthesize` afterwards: it finds every sample made and drops near-duplicates.
    """
    work = synthesis_work(config, backend, store_path, address)
    key = config.key(work.model)
    with Store(store_path) as store:
        done = SampleStore(store).done_ids()
    shards = plan_stored(
        store_path, f"synthesize-{key}", lambda trajectory: _sample_id(trajectory, key) not in done, size=shard_size
    )
    return run_shards(address, shards, work, store_path, progress)


def run_on_ray(
    config: RunConfig, backend: BackendFactory, address: str, stage: Stage, *, shard_size: int = DEFAULT_SHARD_SIZE
) -> int:
    """Explore and synthesize every environment of `funreason run` in shards on Ray; returns the shards run.

    Discovery runs here, once per environment; then the rest of each run is explored and
    synthesized on the workers.  Run `run_pipeline` afterwards: it finds every stage done,
    drops near-duplicates over the whole store, then exports and reports.
    """
    config.out.mkdir(parents=True, exist_ok=True)
    work = synthesis_work(config.synthesis_config, backend, config.store_path, address)
    key = config.synthesis_config.key(work.model)
    shards: list[Shard] = []
    every_env = replace(config, envs=config.envs or tuple(environment_names()))
    for env, explore_config in every_env.explore_configs().items():
        target = ServerTarget(envs=(env,))
        prepare_exploration(target, config.store_path, explore_config)
        shards += plan_exploration(
            target, config.store_path, explore_config, f"run-{key}", size=shard_size, ship_stored=True
        )
    return run_shards(address, shards, work, config.store_path, stage("explore+synthesize on Ray"))


class ClusterLimit:
    """An async context manager over a cluster-wide permit actor; stands in for `ChatModel.limit` on a worker."""

    def __init__(self, permits: Any) -> None:
        self.permits = permits

    async def __aenter__(self) -> None:
        await self.permits.acquire.remote()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.permits.release.remote()


class _Permits:
    """A semaphore living in one Ray actor: every worker's requests to an endpoint draw from it."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.semaphore: asyncio.Semaphore | None = None
        self.in_use = 0
        self.peak = 0

    async def acquire(self) -> None:
        if self.semaphore is None:  # made in the actor's own event loop
            self.semaphore = asyncio.Semaphore(self.count)
        await self.semaphore.acquire()
        self.in_use += 1
        self.peak = max(self.peak, self.in_use)

    async def release(self) -> None:
        self.in_use -= 1
        if self.semaphore is not None:
            self.semaphore.release()

    async def peak_in_use(self) -> int:
        return self.peak


def shared_permits(ray: Any, endpoint: str, count: int) -> Any:
    """The permit actor of `endpoint` (created by the first caller, found by the others)."""
    name = "funreason-llm-" + hashlib.sha256(endpoint.encode()).hexdigest()[:12]
    return ray.remote(_Permits).options(name=name, get_if_exists=True, num_cpus=0).remote(count)


def synthesis_work(config: SynthesisConfig, backend: BackendFactory, store_path: Path, address: str) -> SynthesisWork:
    """The work of every shard of a run; with a model backend, its endpoint's limit becomes cluster-wide."""
    if config.samples is not None:
        raise ConfigError("--samples does not go with --ray: shards synthesize every trajectory; leave it out")
    store_path.parent.mkdir(parents=True, exist_ok=True)
    with Store(store_path) as store:
        made = backend(store)
    limit = None
    if isinstance(made, ModelBackend):  # the driver owns the actor, so it lives as long as the run
        limit = shared_permits(connect_ray(address), made.chat.base_url, made.chat.limit.value)
    return SynthesisWork(config, backend, made.key, limit)
