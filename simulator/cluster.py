"""Shards as Ray tasks: each fills a store of its own on a worker; the driver merges them as they finish.

Ray is an optional extra, imported only here and only when `--ray` is given.  A worker
killed mid-shard is Ray's to retry (`max_retries`): the retry starts from scratch in a
fresh shard file, and merging by primary key makes a shard merged twice harmless.  A shard
that fails for good is reported with its reason while the others complete.
"""

import logging
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulator.connection import ServerTarget
from simulator.errors import SimulatorError
from simulator.explorer import ExploreConfig, Progress
from simulator.shards import (
    DEFAULT_SHARD_SIZE,
    Shard,
    explore_shard,
    finished_shards,
    merge_shard,
    plan_exploration,
    prepare_exploration,
)
from simulator.store import Store

__all__ = ["ShardWork", "connect_ray", "explore_on_ray", "run_shards"]

logger = logging.getLogger(__name__)

ShardWork = Callable[[Shard, Path], None]
"""Fills a fresh shard store at the path; must pickle (a module-level function or a partial of one)."""

MAX_RETRIES = 3
"""Ray retries of a shard whose worker died (a system failure); an exception in our code is not retried."""


def connect_ray(address: str) -> Any:
    """Start or join Ray: `local` starts one on this machine, `auto` joins a running cluster, else an address."""
    try:
        import ray
    except ImportError as error:
        raise SimulatorError("--ray needs Ray: pip install 'funreason-mt[ray]'") from error
    if not ray.is_initialized():
        try:
            ray.init(
                address=None if address == "local" else address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        except (ConnectionError, ValueError, RuntimeError) as error:
            raise SimulatorError(f"--ray {address}: cannot reach a Ray cluster ({error})") from error
    return ray


def run_shards(
    address: str, shards: list[Shard], work: ShardWork, store_path: Path, progress: Progress | None = None
) -> int:
    """Run the shards the store has not finished as Ray tasks and merge each as it comes back.

    Returns how many shards ran.  Raises after the others have merged when some failed for good.
    """
    report = progress or (lambda done, total: None)
    with Store(store_path) as store:
        finished = finished_shards(store)
    todo = [shard for shard in shards if shard.id not in finished]
    total = sum(shard.size for shard in shards)
    done = total - sum(shard.size for shard in todo)
    report(done, total)
    if not todo:
        return 0
    ray = connect_ray(address)
    remote = ray.remote(max_retries=MAX_RETRIES, num_cpus=1)(_run_shard)
    pending = {remote.remote(shard, work): shard for shard in todo}
    failures: list[str] = []
    inbox = Path(f"{store_path}.shards")
    inbox.mkdir(exist_ok=True)
    with Store(store_path) as store:
        while pending:
            [ready], _ = ray.wait(list(pending), num_returns=1)
            shard = pending.pop(ready)
            try:
                data = ray.get(ready)
            except Exception as error:  # Ray wraps whatever killed the shard; report it and go on
                failures.append(f"{shard.id}: {_reason(error)}")
                logger.warning("shard %s failed: %s", shard.id, _reason(error))
                continue
            path = inbox / f"{shard.id.replace(':', '_')}.db"
            path.write_bytes(data)
            merge_shard(store, shard, path)
            path.unlink()
            done += shard.size
            report(done, total)
    if failures:
        raise SimulatorError(f"{len(failures)} of {len(todo)} shards failed (re-run to retry): " + "; ".join(failures))
    inbox.rmdir()
    return len(todo)


def explore_on_ray(
    target: ServerTarget,
    store_path: Path,
    config: ExploreConfig,
    address: str,
    progress: Progress | None = None,
    *,
    shard_size: int = DEFAULT_SHARD_SIZE,
) -> str:
    """`explore` with the indices after discovery spread over a Ray cluster; the same trajectories."""
    run_id = prepare_exploration(target, store_path, config)
    shards = plan_exploration(target, store_path, config, "explore", size=shard_size)
    run_shards(address, shards, explore_shard, store_path, progress)
    return run_id


def _run_shard(shard: Shard, work: ShardWork) -> bytes:
    """On a worker: fill a fresh shard store and hand it back as one file's bytes."""
    with tempfile.TemporaryDirectory(prefix="funreason-shard-") as folder:
        path = Path(folder) / "shard.db"
        work(shard, path)
        packed = Path(folder) / "packed.db"
        connection = sqlite3.connect(path)
        try:
            connection.execute("VACUUM INTO ?", [str(packed)])  # one file: the WAL folded in
        finally:
            connection.close()
        return packed.read_bytes()


def _reason(error: BaseException) -> str:
    """The first line of the cause Ray wrapped, not its whole traceback."""
    cause = getattr(error, "cause", None) or error
    while isinstance(cause, BaseExceptionGroup) and cause.exceptions:  # a task group's: name what failed in it
        cause = cause.exceptions[0]
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}"
