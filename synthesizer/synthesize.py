"""Synthesis over a store: every trajectory -> a planned dialogue -> a verified sample or a reject with its reason.

Re-running resumes: sample ids are derived from the trajectory, the settings and the
backend's key (for a model: endpoint and model), and trajectories that already gave a
sample or a reject are skipped.  A trajectory whose endpoint stayed busy through every
retry gives neither and stays pending.  A worker that fails stops the others from
taking new work; they finish what they hold and the error is raised after them, so no
worker is ever cancelled in the middle of closing its connections.
"""

import dataclasses
import functools
import hashlib
import json
import logging
import random
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio

from simulator import Connection, ConnectionFailed, ServerTarget, Store, Trajectory
from simulator.focus import Focus
from synthesizer.chain import DialogueRunner
from synthesizer.errors import EndpointUnavailable
from synthesizer.filters import NearDuplicates
from synthesizer.focus import focus_for, focused_target, focused_variants, is_held_out
from synthesizer.plan import AdvancedTool, TurnPlan, Variants, plan_dialogue
from synthesizer.roles import AssistantMessage, Backend, Roles
from synthesizer.samples import Reject, Sample, SampleStore
from synthesizer.wording import askable

__all__ = ["SynthesisConfig", "drop_near_duplicates", "synthesize"]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

Progress = Callable[..., None]
"""`report(done, total, note)`: trajectories finished of those planned, and a line of running counts."""


@dataclass(frozen=True)
class SynthesisConfig:
    samples: int | None = None
    """Stop after this many new samples; None: one attempt per trajectory."""
    turns: tuple[int, int] = (2, 5)
    max_attempts: int = 3
    seed: int = 0
    variants: Variants = field(default_factory=Variants)
    concurrency: int = 1
    focus: Focus | None = None
    """Where a model failed (`--focus EVAL.json`): turn targets, patterns and variants weighted by it, and the
    eval's tasks rejected (`synthesizer.focus`)."""

    def key(self, backend_key: str) -> str:
        settings = {**asdict(self), "model": backend_key}
        del settings["samples"], settings["concurrency"], settings["focus"]
        if self.focus is not None:  # only then: samples made without one keep their ids
            settings["focus"] = self.focus.identity()
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]


def synthesize(
    store_path: Path,
    config: SynthesisConfig,
    backend: Backend,
    progress: Progress | None = None,
    *,
    near_duplicates: bool = True,
) -> dict[str, int]:
    """Turn the store's trajectories into samples; returns the store's sample counts (and `pending`).

    `near_duplicates=False` leaves the near-duplicate pass to whoever holds all the samples
    (a shard holds only some: the pass is run once over the merged store).
    """
    report = progress or (lambda done, total, note="": None)
    return anyio.run(_synthesize, store_path, config, backend, report, near_duplicates)


async def _synthesize(
    store_path: Path, config: SynthesisConfig, backend: Backend, report: Progress, near_duplicates: bool
) -> dict[str, int]:
    try:
        return await _synthesize_all(store_path, config, backend, report, near_duplicates)
    finally:
        await backend.aclose()


@dataclass
class _Tally:
    """Running counts for the progress line."""

    made: int = 0
    finished: int = 0
    verified: int = 0
    rejected: int = 0
    pending: int = 0
    turns: int = 0

    def note(self, backend: Backend) -> str:
        figures = [f"{self.turns} turns", f"{self.verified} verified", f"{self.rejected} rejected"]
        if backend.requests_sent:
            figures.insert(0, f"{backend.requests_sent} requests")
        if self.pending:
            figures.append(f"{self.pending} left pending")
        return ", ".join(figures)


async def _synthesize_all(
    store_path: Path, config: SynthesisConfig, backend: Backend, report: Progress, near_duplicates: bool
) -> dict[str, int]:
    key = config.key(backend.key)
    with Store(store_path) as store:
        samples = SampleStore(store)
        tally = _Tally()
        pending = _pending(store, {*samples.done_ids()}, key)
        goal = config.samples if config.samples is not None else _count_pending(store, samples, key)
        lock = anyio.Lock()
        failures: list[BaseException] = []

        def refresh() -> None:
            report(tally.made if config.samples is not None else tally.finished, goal, tally.note(backend))

        async def worker() -> None:
            async with _Connections(store) as connections:
                while not failures:
                    async with lock:
                        if config.samples is not None and tally.made >= config.samples:
                            return
                        trajectory = next(pending, None)
                    if trajectory is None:
                        return
                    try:
                        outcome = await _one(trajectory, config, key, backend, connections, tally, refresh)
                    except EndpointUnavailable as error:
                        logger.warning("%s: %s", trajectory.id, error)
                        tally.pending += 1
                        refresh()
                        continue
                    except Exception as error:  # raised once the other workers have stopped
                        failures.append(error)
                        return
                    async with lock:
                        _save(outcome, samples, config, tally)
                        refresh()

        refresh()
        async with anyio.create_task_group() as group:
            for _ in range(max(1, config.concurrency)):
                group.start_soon(worker)
        if failures:
            raise failures[0]
        if near_duplicates:  # the progress line ends on what was kept
            before = samples.counts()
            drop_near_duplicates(samples, config.turns[0])
            after = samples.counts()
            tally.verified += after["verified"] - before["verified"]
            tally.rejected += after["rejected"] - before["rejected"]
            refresh()
        return samples.counts() | {"pending": tally.pending}


def _save(outcome: Sample | Reject, samples: SampleStore, config: SynthesisConfig, tally: _Tally) -> None:
    tally.finished += 1
    if isinstance(outcome, Reject):
        samples.save_reject(outcome)
        tally.rejected += 1
    elif config.samples is None or tally.made < config.samples:
        samples.save_sample(outcome)
        tally.made += 1
        tally.verified += int(outcome.verified)


def _pending(store: Store, done: set[str], key: str) -> Iterator[Trajectory]:
    """Trajectories without a sample or reject, read one run at a time and each run read to the end.

    No read snapshot stays open while synthesis writes samples and cache entries: a
    connection that holds one cannot write after another connection has committed.
    """
    run_ids = [run_id for (run_id,) in store.db.execute("SELECT id FROM runs ORDER BY id").fetchall()]
    for run_id in run_ids:
        batch = [
            trajectory for trajectory in store.iter_trajectories(run_id) if _sample_id(trajectory, key) not in done
        ]
        yield from batch


def _count_pending(store: Store, samples: SampleStore, key: str) -> int:
    done = samples.done_ids()
    rows = store.db.execute("SELECT id FROM trajectories").fetchall()
    return sum(1 for (trajectory_id,) in rows if f"{trajectory_id}:{key}" not in done)


async def _one(
    trajectory: Trajectory,
    config: SynthesisConfig,
    key: str,
    backend: Backend,
    connections: "_Connections",
    tally: _Tally,
    refresh: Callable[[], None],
) -> Sample | Reject:
    sample_id = _sample_id(trajectory, key)
    rng = random.Random(f"{config.seed}:{trajectory.id}")
    candidate, reference = await connections.pair(trajectory)
    tools = {tool.name: tool for tool in candidate.tools}
    roles = _Observed(backend.roles_for(tools, rng), tally, refresh)
    explored = connections.focus_of(trajectory)
    focus = focus_for(config.focus, explored)
    variants = focused_variants(config.variants, focus)
    prefer = functools.partial(focused_target, focus, rng) if focus is not None else None
    plan = plan_dialogue(trajectory, tools, config.turns, variants, rng, askable, prefer)
    if plan is None:
        reason = f"fewer than {config.turns[0]} requests a user could make in this walk"
        return Reject(id=sample_id, trajectory_id=trajectory.id, model=roles.model, reason=reason, attempts=0)
    runner = DialogueRunner(
        roles, candidate, reference, tools, max_attempts=config.max_attempts, rng=rng, min_turns=config.turns[0]
    )
    try:
        outcome = await runner.run(plan, sample_id)
    except ConnectionFailed as error:  # the server died or would not restart: this trajectory only
        reason = f"server: {error}"
        return Reject(id=sample_id, trajectory_id=trajectory.id, model=roles.model, reason=reason, attempts=0)
    return _with_focus(outcome, focus, explored)


def _with_focus(outcome: Sample | Reject, focus: Focus | None, explored: dict[str, Any] | None) -> Sample | Reject:
    """A sample records the focus it was made with (synthesis's, else its exploration's); one of the focus
    eval's own tasks becomes a reject, so no training file can hold it."""
    if not isinstance(outcome, Sample) or (focus is None and explored is None):
        return outcome
    if is_held_out(focus, outcome):
        reason = "one of the focus eval's tasks (held out)"
        trajectory_id = outcome.trajectory_ids[0]
        return Reject(outcome.id, trajectory_id, outcome.model, reason, outcome.attempts)
    return dataclasses.replace(outcome, focus=focus.identity() if focus is not None else explored)


class _Connections:
    """A candidate and a reference connection per server, opened on first use, closed together.

    Each connection runs its MCP client in a task of its own (see `Connection`), so resetting
    one (a new stdio process) while the other stays open is safe.  A server is reconnected with
    the options its run recorded (environment, reset command, error-text rule).
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._stack = AsyncExitStack()
        self._pairs: dict[str, tuple[Connection, Connection]] = {}

    async def __aenter__(self) -> "_Connections":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

    def focus_of(self, trajectory: Trajectory) -> dict[str, Any] | None:
        """The focus the trajectory's exploration ran with (`explore --focus`), as its run recorded it."""
        return self._store.run_config(trajectory.run_id).get("focus")

    async def pair(self, trajectory: Trajectory) -> tuple[Connection, Connection]:
        key = f"{trajectory.run_id}|{trajectory.env}|{trajectory.scenario}"
        if key not in self._pairs:
            options = self._store.run_config(trajectory.run_id).get("server")
            target = ServerTarget.from_record(trajectory.env, trajectory.scenario, options=options)
            candidate = await self._stack.enter_async_context(target.connect())
            reference = await self._stack.enter_async_context(target.connect())
            if not candidate.fresh_state:
                logger.warning("samples of %s are not verified: %s", target.label, candidate.unfresh_reason)
            self._pairs[key] = (candidate, reference)
        return self._pairs[key]


class _Observed(Roles):
    """The backend's roles, reporting progress after every answer (one or more requests) and every new turn."""

    def __init__(self, roles: Roles, tally: _Tally, refresh: Callable[[], None]) -> None:
        self.roles = roles
        self.model = roles.model
        self.tally = tally
        self.refresh = refresh

    async def name_tool(self, turn: TurnPlan) -> AdvancedTool:
        return self._seen(await self.roles.name_tool(turn))

    async def write_query(self, turn: TurnPlan, tools: list[dict[str, Any]]) -> str:
        query = await self.roles.write_query(turn, tools)
        self.tally.turns += 1
        return self._seen(query)

    async def act(
        self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]], turn: TurnPlan, hint: str | None
    ) -> AssistantMessage:
        return self._seen(await self.roles.act(conversation, tools, turn, hint))

    async def critique(self, turn: TurnPlan, attempt: list[dict[str, Any]], failure: str) -> str:
        return self._seen(await self.roles.critique(turn, attempt, failure))

    def _seen(self, answer: _T) -> _T:
        self.refresh()
        return answer


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
