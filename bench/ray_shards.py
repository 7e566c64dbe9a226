"""6. Ray: explore+synthesize shards on a local Ray of 2 worker processes against 1, and Ray's cost per shard.

Both sides run the same shards (trading, after the discovery prefix, which the driver runs
once beforehand into a seed store that each side copies), through `run_shards` with the
offline backend; only the Ray cluster's CPU count differs.  Per shard: a shard of one
trajectory through Ray (submit, run, ship the store back, merge) against the same shard's
work and merge done in this process; the difference is Ray's own cost, set against a
200-trajectory shard's time through Ray.  Needs the `ray` extra.
"""

import shutil
import statistics
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from simulator import ExploreConfig, ServerTarget, Store
from simulator.cluster import run_shards
from simulator.shards import Shard, merge_shard, plan_exploration, prepare_exploration
from synthesizer.cli import make_backend
from synthesizer.sharded import synthesis_work
from synthesizer.synthesize import SynthesisConfig

__all__ = ["run"]

_TARGET = ServerTarget(envs=("trading",))
_CONFIG = ExploreConfig(trajectories=16 + 200 + 20, max_steps=10, after_target_steps=3)
_OFFLINE = partial(make_backend, llm="offline")


def run(quick: bool, workdir: Path) -> dict[str, Any]:
    import ray

    seed = workdir / "ray-seed.db"
    prepare_exploration(_TARGET, seed, _CONFIG)
    work = synthesis_work(SynthesisConfig(), _OFFLINE, seed, "local")
    shards = plan_exploration(_TARGET, seed, _CONFIG, "bench", size=10, ship_stored=True)
    speedup_shards = [shard for shard in shards if shard.indices and shard.indices[0] >= 20][: 6 if quick else 12]
    times = {}
    for cpus in (1, 2):
        ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        _warm(work, workdir, cpus)
        store = _copy(seed, workdir / f"ray-{cpus}.db")
        started = time.perf_counter()
        run_shards("auto", speedup_shards, work, store)
        times[cpus] = time.perf_counter() - started
        if cpus == 1:
            per_shard = _per_shard(work, shards[0], workdir, rounds=3 if quick else 7)
        ray.shutdown()
    return {
        "shards": len(speedup_shards),
        "trajectories": sum(len(shard.indices) for shard in speedup_shards),
        "seconds_1_worker": times[1],
        "seconds_2_workers": times[2],
        "workers2_speedup": times[1] / times[2],
        **per_shard,
    }


def _per_shard(work: Any, template: Shard, workdir: Path, rounds: int) -> dict[str, Any]:
    """Median seconds of a 1-trajectory shard through Ray and here, and of a 200-trajectory shard through Ray."""
    through_ray, here = [], []
    for number in range(rounds):
        index = 16 + 200 + number
        shard = replace(template, id=f"one-{index}", size=1, indices=(index,), given=())
        store = _copy(workdir / "ray-seed.db", workdir / f"one-ray-{number}.db")
        started = time.perf_counter()
        run_shards("auto", [shard], work, store)
        through_ray.append(time.perf_counter() - started)
        store = _copy(workdir / "ray-seed.db", workdir / f"one-here-{number}.db")
        started = time.perf_counter()
        path = workdir / f"one-here-{number}.shard.db"
        work(shard, path)
        with Store(store) as opened:
            merge_shard(opened, shard, path)
        here.append(time.perf_counter() - started)
    big = replace(template, id="two-hundred", size=200, indices=tuple(range(16, 216)), given=())
    store = _copy(workdir / "ray-seed.db", workdir / "big.db")
    started = time.perf_counter()
    run_shards("auto", [big], work, store)
    big_s = time.perf_counter() - started
    one_ray, one_here = statistics.median(through_ray), statistics.median(here)
    return {
        "one_trajectory_shard_ray_s": one_ray,
        "one_trajectory_shard_here_s": one_here,
        "two_hundred_trajectory_shard_ray_s": big_s,
        "ray_overhead_per_shard_share": max(0.0, one_ray - one_here) / big_s,
        "one_trajectory_shard_share": one_ray / big_s,
    }


def _warm(work: Any, workdir: Path, cpus: int) -> None:
    """Start the workers and import our packages in them, so neither side pays that inside its timing."""
    seed = workdir / "ray-seed.db"
    shards = plan_exploration(_TARGET, seed, _CONFIG, f"warm-{cpus}", size=1)[-cpus:]
    run_shards("auto", shards, work, _copy(seed, workdir / f"warm-{cpus}.db"))


def _copy(source: Path, destination: Path) -> Path:
    with Store(source) as store:
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(source, destination)
    return destination
