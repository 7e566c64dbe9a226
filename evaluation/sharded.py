"""`eval --ray`: tasks in shards evaluated on Ray workers, each into a store of its own, merged by attempt id.

An attempt's id is (model, task, number) and its play is seeded by the task alone, so a
shard evaluated anywhere stores the attempts the plain run stores; the plain `eval` that
runs after the merge finds every attempt done and reports.
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluation.evaluate import evaluate_tasks
from evaluation.tasks import Task
from simulator.cluster import run_shards
from simulator.explorer import Progress
from simulator.shards import Shard

__all__ = ["EvalWork", "evaluate_on_ray"]

TASKS_PER_SHARD = 50


@dataclass(frozen=True)
class EvalWork:
    """A shard's evaluation on a worker: the same call the plain `eval` makes, into the shard's store."""

    llm: str
    model: str
    base_url: str | None
    api_key: str | None
    concurrency: int
    k: int
    temperature: float
    endpoint: dict[str, Any] = field(default_factory=dict)
    """The rest of the endpoint's settings (timeout, max_tokens, extra_body)."""

    def __call__(self, shard: Shard, path: Path) -> None:
        evaluate_tasks(
            path,
            list(shard.payload),
            self.llm,
            self.model,
            self.base_url,
            self.api_key,
            self.concurrency,
            self.k,
            self.temperature,
            self.endpoint,
        )


def evaluate_on_ray(
    db: Path,
    tasks: list[Task],
    work: EvalWork,
    address: str,
    progress: Progress | None = None,
    *,
    size: int = TASKS_PER_SHARD,
) -> int:
    """Evaluate `tasks` in shards of `size` on Ray and merge the attempts into `db`; returns the shards run."""
    settings = json.dumps([work.model, work.k, work.temperature])
    shards = []
    for start in range(0, len(tasks), size):
        chunk = tasks[start : start + size]
        key = hashlib.sha256((settings + "".join(task.id for task in chunk)).encode()).hexdigest()[:12]
        shards.append(Shard(f"eval-{key}", "eval", len(chunk) * work.k, payload=tuple(chunk)))
    return run_shards(address, shards, work, db, progress)
