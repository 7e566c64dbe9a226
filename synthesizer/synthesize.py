"""Synthesis over a store: every trajectory -> a planned dialogue -> a verified sample or a reject with its reason.

Re-running resumes: sample ids are derived from the trajectory and the settings,
and trajectories that already gave a sample or a reject are skipped.
"""

import hashlib
import json
import random
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import anyio

from simulator import Connection, ServerTarget, Store, Trajectory
from synthesizer.chain import DialogueRunner
from synthesizer.filters import NearDuplicates
from synthesizer.plan import Variants, plan_dialogue
from synthesizer.roles import Backend
from synthesizer.samples import Reject, Sample, SampleStore
from synthesizer.wording import askable

__all__ = ["SynthesisConfig", "drop_near_duplicates", "synthesize"]


@dataclass(frozen=True)
class SynthesisConfig:
    samples: int | None = None
    """Stop after this many new samples; None: one attempt per trajectory."""
    turns: tuple[int, int] = (2, 5)
    max_attempts: int = 3
    seed: int = 0
    variants: Variants = field(default_factory=Variants)
    concurrency: int = 1

    def key(self, model: str) -> str:
        settings = {**asdict(self), "model": model}
        del settings["samples"], settings["concurrency"]
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]


def synthesize(
    store_path: Path,
    config: SynthesisConfig,
    backend: Backend,
    progress: Callable[[int, int], None] | None = None,
    *,
    near_duplicates: bool = True,
) -> dict[str, int]:
    """Turn the store's trajectories into samples; returns the store's sample counts.

    `near_duplicates=False` leaves the near-duplicate pass to whoever holds all the samples
    (a shard holds only some: the pass is run once over the merged store).
    """
    return anyio.run(_synthesize, store_path, config, backend, progress or (lambda done, total: None), near_duplicates)


async def _synthesize(
    store_path: Path,
    config: SynthesisConfig,
    backend: Backend,
    report: Callable[[int, int], None],
    near_duplicates: bool,
) -> dict[str, int]:
    try:
        return await _synthesize_all(store_path, config, backend, report, near_duplicates)
    finally:
        await backend.aclose()


async def _synthesize_all(
    store_path: Path,
    config: SynthesisConfig,
    backend: Backend,
    report: Callable[[int, int], None],
    near_duplicates: bool,
) -> dict[str, int]:
    key = config.key(backend.model)
    with Store(store_path) as store:
        samples = SampleStore(store)
        done = samples.done_ids()
        total = store.stats()["trajectories"]
        made = 0
        goal = config.samples if config.samples is not None else total
        report(0, goal)
        pending = (t for t in store.iter_trajectories() if _sample_id(t, key) not in done)
        lock = anyio.Lock()

        async def worker() -> None:
            nonlocal made
            async with _Connections() as connections:
                while True:
                    async with lock:
                        if config.samples is not None and made >= config.samples:
                            return
                        trajectory = next(pending, None)
                    if trajectory is None:
                        return
                    outcome = await _one(trajectory, config, key, backend, connections)
                    async with lock:
                        if isinstance(outcome, Reject):
                            samples.save_reject(outcome)
                        elif config.samples is None or made < config.samples:
                            samples.save_sample(outcome)
                            made += 1
                        report(made if config.samples is not None else len(samples.done_ids()), goal)

        async with anyio.create_task_group() as group:
            for _ in range(max(1, config.concurrency)):
                group.start_soon(worker)
        if near_duplicates:
            drop_near_duplicates(samples, config.turns[0])
        return samples.counts()


async def _one(
    trajectory: Trajectory, config: SynthesisConfig, key: str, backend: Backend, connections: "_Connections"
) -> Sample | Reject:
    sample_id = _sample_id(trajectory, key)
    rng = random.Random(f"{config.seed}:{trajectory.id}")
    candidate, reference = await connections.pair(ServerTarget.from_record(trajectory.env, trajectory.scenario))
    tools = {tool.name: tool for tool in candidate.tools}
    roles = backend.roles_for(tools, rng)
    plan = plan_dialogue(trajectory, tools, config.turns, config.variants, rng, askable)
    if plan is None:
        reason = f"fewer than {config.turns[0]} requests a user could make in this walk"
        return Reject(id=sample_id, trajectory_id=trajectory.id, model=roles.model, reason=reason, attempts=0)
    runner = DialogueRunner(
        roles, candidate, reference, tools, max_attempts=config.max_attempts, rng=rng, min_turns=config.turns[0]
    )
    return await runner.run(plan, sample_id)


class _Connections:
    """A candidate and a reference connection per server, opened on first use, closed together."""

    def __init__(self) -> None:
        self._stack = AsyncExitStack()
        self._pairs: dict[str, tuple[Connection, Connection]] = {}

    async def __aenter__(self) -> "_Connections":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

    async def pair(self, target: ServerTarget) -> tuple[Connection, Connection]:
        key = f"{target.label}|{target.scenario_label}"
        if key not in self._pairs:
            candidate = await self._stack.enter_async_context(target.connect())
            reference = await self._stack.enter_async_context(target.connect())
            self._pairs[key] = (candidate, reference)
        return self._pairs[key]


def drop_near_duplicates(samples: SampleStore, min_turns: int) -> int:
    """Cut each sample before its first request that nearly duplicates an earlier sample's (by id).

    A sample left with fewer than `min_turns` turns becomes a reject.  In id order, so the same
    samples survive whatever order workers finished in.  Returns how many samples changed.
    """
    seen = NearDuplicates()
    cuts: dict[str, tuple[int, str]] = {}
    for sample in samples.iter_samples():  # streamed; the changes are written after the read has ended
        queries = [turn["query"] for turn in sample.turns]
        for index, query in enumerate(queries):
            twin = seen.match(query)
            if twin is not None:
                cuts[sample.id] = (index, twin)
                queries = queries[:index] if index >= min_turns else []
                break
        for query in queries:
            seen.add(query)
    for sample_id, (index, twin) in cuts.items():
        if index < min_turns:
            samples.reject_sample(sample_id, f"near-duplicate request: {twin!r}")
        else:
            sample = samples.get_sample(sample_id)
            samples.replace_sample(sample.truncated(index))
    return len(cuts)


def _sample_id(trajectory: Trajectory, key: str) -> str:
    return f"{trajectory.id}:{key}"
