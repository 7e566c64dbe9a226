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
from dataclasses import asdict, dataclass, field, replace
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
from synthesizer.recorded import account_for, plan_session
from synthesizer.roles import AssistantMessage, Backend, Roles
from synthesizer.samples import Reject, Sample, SampleStore
from synthesizer.template_requests import keep_phrased
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
    turns: tuple[int, int] = (3, 6)
    max_attempts: int = 3
    seed: int = 0
    variants: Variants = field(default_factory=Variants)
    concurrency: int = 1
    hints: str | None = None
    """A hints file used instead of the one each run explored with (`simulator.hints`)."""
    allow_template_requests: bool = False
    """Keep samples whose requests paste a tool's description (marked); see `synthesizer.template_requests`."""
    part: tuple[int, int] = (0, 1)
    """(k, n): this process synthesizes the trajectories whose index is k modulo n (`run --workers n`)."""
    focus: Focus | None = None
    """Where a model failed (`--focus EVAL.json`): turn targets, patterns and variants weighted by it, and the
    eval's tasks rejected (`synthesizer.focus`)."""

    @property
    def shortest_cut(self) -> int:
        """The fewest turns a dialogue cut short keeps (`_SHORTEST_CUT`, or fewer when `turns` asks for fewer);
        every pass that cuts, the near-duplicate one after `run --workers n` included, uses this one figure."""
        return min(self.turns[0], _SHORTEST_CUT)

    def key(self, backend_key: str) -> str:
        settings = {**asdict(self), "model": backend_key}
        del settings["samples"], settings["concurrency"], settings["part"], settings["focus"]
        if settings["hints"] is None:  # keys made before hints files existed stay the same
            del settings["hints"]
        if not settings["allow_template_requests"]:  # likewise before template requests were held back
            del settings["allow_template_requests"]
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
        if self.finished:  # the yield so far: what a long run is worth, while it runs
            figures.append(f"{self.verified / self.finished:.0%} yield")
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
        pending = _pending(store, {*samples.done_ids()}, key, config.part)
        goal = config.samples if config.samples is not None else _count_pending(store, samples, key, config.part)
        lock = anyio.Lock()
        failures: list[BaseException] = []

        def refresh() -> None:
            report(tally.made if config.samples is not None else tally.finished, goal, tally.note(backend))

        async def worker() -> None:
            async with _Connections(store, config.hints) as connections:
                while not failures:
                    async with lock:
                        if config.samples is not None and tally.made >= config.samples:
                            return
                        trajectory = next(pending, None)
                    if trajectory is None:
                        return
                    try:
                        outcomes = await _one(trajectory, config, key, backend, connections, tally, refresh)
                    except EndpointUnavailable as error:
                        logger.warning("%s: %s", trajectory.id, error)
                        tally.pending += 1
                        refresh()
                        continue
                    except Exception as error:  # raised once the other workers have stopped
                        failures.append(error)
                        return
                    async with lock:
                        for outcome in outcomes:
                            _save(outcome, samples, config, tally)
                        refresh()

        refresh()
        async with anyio.create_task_group() as group:
            for _ in range(max(1, config.concurrency)):
                group.start_soon(worker)
        if failures:
            raise failures[0]
        tally.verified -= samples.unverify_runs(store.leaking_runs())
        if near_duplicates:  # the progress line ends on what was kept
            before = samples.counts()
            drop_near_duplicates(samples, config.shortest_cut)
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


def _pending(store: Store, done: set[str], key: str, part: tuple[int, int]) -> Iterator[Trajectory]:
    """Trajectories without a sample or reject, read a page of `_PAGE` indices of one run at a time, each
    page read to the end.

    No read snapshot stays open while synthesis writes samples and cache entries: a
    connection that holds one cannot write after another connection has committed.  A page, not a
    run: a run of a large `samples` run holds thousands of trajectories.
    """
    query = "SELECT run_id, max(idx) FROM trajectories GROUP BY run_id ORDER BY run_id"
    for run_id, last in store.db.execute(query).fetchall():
        for start in range(0, last + 1, _PAGE):
            batch = [
                trajectory
                for trajectory in store.iter_trajectories(run_id, range(start, start + _PAGE))
                if trajectory.index % part[1] == part[0] and _sample_id(trajectory, key) not in done
            ]
            yield from batch


_PAGE = 256
"""Trajectory indices `_pending` reads at a time."""


def _count_pending(store: Store, samples: SampleStore, key: str, part: tuple[int, int]) -> int:
    done = samples.done_ids()
    rows = store.db.execute("SELECT id, idx FROM trajectories").fetchall()
    return sum(
        1 for (trajectory_id, index) in rows if index % part[1] == part[0] and f"{trajectory_id}:{key}" not in done
    )


async def _one(
    trajectory: Trajectory,
    config: SynthesisConfig,
    key: str,
    backend: Backend,
    connections: "_Connections",
    tally: _Tally,
    refresh: Callable[[], None],
) -> list[Sample | Reject]:
    """The trajectory's sample or reject; a recorded session's every part (see `synthesizer.recorded`)."""
    sample_id = _sample_id(trajectory, key)
    rng = random.Random(f"{config.seed}:{trajectory.id}")
    candidate, reference = await connections.pair(trajectory)
    tools = {tool.name: tool for tool in candidate.tools}
    roles = _Observed(backend.roles_for(tools, rng), tally, refresh)
    explored = connections.focus_of(trajectory)
    focus = focus_for(config.focus, explored)
    variants = focused_variants(config.variants, focus)
    runner = DialogueRunner(
        roles,
        candidate,
        reference,
        tools,
        max_attempts=config.max_attempts,
        rng=rng,
        min_turns=config.shortest_cut,
    )

    def rejected(reason: str) -> Reject:
        return Reject(id=sample_id, trajectory_id=trajectory.id, model=roles.model, reason=reason, attempts=0)

    if trajectory.source == "record":
        parts = plan_session(trajectory, tools, config.turns, variants, rng, askable)
        if not parts:
            return [rejected("no goal a user could ask for in this recorded session: every call was refused")]
        planned = [(part.plan, _part_id(sample_id, part.part), part.goals) for part in parts]
    else:
        prefer = functools.partial(focused_target, focus, rng) if focus is not None else None
        aimed = connections.is_aimed(trajectory)
        # a coverage walk where the model failed on nothing is there for its target's turn: as short a dialogue
        # as any, for more turns of tools the model passed would thin the focus
        turns = (
            (config.turns[0], config.turns[0]) if aimed and focus is not None and not focus.tool_share else config.turns
        )
        plan = plan_dialogue(trajectory, tools, turns, variants, rng, askable, prefer, target_turn=aimed)
        if plan is None:
            return [rejected(f"fewer than {config.turns[0]} requests a user could make in this walk")]
        planned = [(plan, sample_id, None)]
    outcomes: list[Sample | Reject] = []
    for plan, part_id, goals in planned:
        targets = {turn.target.step: turn.target.tool for turn in plan.turns}
        try:
            outcome = keep_phrased(await runner.run(plan, part_id), tools, config.allow_template_requests)
        except ConnectionFailed as error:  # the server died or would not restart: this trajectory only
            outcome = rejected(f"server: {error}")
        if isinstance(outcome, Sample) and goals is not None:
            kept = plan.turns[: len(outcome.dialogue.turns)]  # a dialogue may end before its plan does
            outcome.goals = account_for(goals, targets, {turn.target.step for turn in kept})
        outcomes.append(_with_focus(outcome, focus, explored))
    return outcomes


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

    def __init__(self, store: Store, hints: str | None = None) -> None:
        self._store = store
        self._hints = hints
        self._stack = AsyncExitStack()
        self._pairs: dict[str, tuple[Connection, Connection]] = {}
        self._configs: dict[str, dict[str, Any]] = {}

    async def __aenter__(self) -> "_Connections":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for key, pair in self._pairs.items():  # what these connections found, for every later reader
            leak = next((c.unfresh_reason for c in pair if not c.fresh_state and c.unfresh_reason), None)
            if leak is not None:
                self._store.record_leak(key.split("|", 1)[0], leak)
        await self._stack.aclose()

    def _config(self, trajectory: Trajectory) -> dict[str, Any]:
        """The config the trajectory's run recorded, read once per run."""
        if trajectory.run_id not in self._configs:
            self._configs[trajectory.run_id] = self._store.run_config(trajectory.run_id)
        return self._configs[trajectory.run_id]

    def is_aimed(self, trajectory: Trajectory) -> bool:
        """Whether the trajectory is a coverage round's walk (`run --focus`), made to give its target a turn."""
        return bool(self._config(trajectory).get("coverage_round"))

    def focus_of(self, trajectory: Trajectory) -> dict[str, Any] | None:
        """The focus the trajectory's exploration ran with (`explore --focus`), as its run recorded it."""
        return self._config(trajectory).get("focus")

    async def pair(self, trajectory: Trajectory) -> tuple[Connection, Connection]:
        """The run's pair, set to start from the trajectory's scenario: one pair per run, not per world,
        so a run spread over hundreds of worlds holds two connections, not hundreds."""
        key = f"{trajectory.run_id}|{trajectory.env}"
        options = self._config(trajectory).get("server")
        target = ServerTarget.from_record(trajectory.env, trajectory.scenario, options=options)
        if self._hints is not None:
            target = replace(target, hints=self._hints)
        if key not in self._pairs:
            candidate = await self._stack.enter_async_context(target.connect())
            reference = await self._stack.enter_async_context(target.connect())
            leak = self._store.leak_of(trajectory.run_id)
            if leak is not None:
                candidate.known_to_leak(leak)
                reference.known_to_leak(leak)
            if not candidate.fresh_state:
                logger.warning("samples of %s are not verified: %s", target.label, candidate.unfresh_reason)
            self._pairs[key] = (candidate, reference)
        for connection in self._pairs[key]:
            connection.use_scenario(target.scenario)
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

    async def reword(self, turn: TurnPlan, tools: list[dict[str, Any]]) -> tuple[str, ...]:
        return await self.roles.reword(turn, tools)

    async def act(
        self, conversation: list[dict[str, Any]], tools: list[dict[str, Any]], turn: TurnPlan, hint: str | None
    ) -> AssistantMessage:
        return self._seen(await self.roles.act(conversation, tools, turn, hint))

    async def critique(self, turn: TurnPlan, attempt: list[dict[str, Any]], failure: str) -> str:
        return self._seen(await self.roles.critique(turn, attempt, failure))

    def _seen(self, answer: _T) -> _T:
        self.refresh()
        return answer


_SHORTEST_CUT = 2
"""A dialogue cut short (before a request that repeats another sample's, a turn that no longer replays or
that no user could phrase) keeps at least this many turns: still a dialogue, its turns verified."""


def drop_near_duplicates(samples: SampleStore, min_turns: int) -> int:
    """Ask each request that nearly duplicates an earlier sample's (by id) in the first of its other wordings
    that does not; cut the sample before the first one that has none.

    A sample left with fewer than `min_turns` turns becomes a reject.  In id order, so the same
    samples survive whatever order workers finished in.  Returns how many samples changed.
    """
    seen = NearDuplicates()
    changed: dict[str, tuple[list[tuple[int, str]], int | None, str]] = {}  # id -> rewordings, cut, twin
    for sample in samples.iter_samples():  # streamed; the changes are written after the read has ended
        queries = [turn.request for turn in sample.dialogue.turns]
        if sample.goals is not None:  # a recorded session is what a person did: every goal stays
            for query in queries:
                seen.add(query)
            continue
        reworded: list[tuple[int, str]] = []
        for index, turn in enumerate(sample.dialogue.turns):
            twin = seen.match(queries[index])
            if twin is None:
                continue
            other = next((text for text in turn.rewordings if seen.match(text) is None), None)
            if other is not None:
                reworded.append((index, other))
                queries[index] = other
                continue
            changed[sample.id] = (reworded, index, twin)
            queries = queries[:index] if index >= min_turns else []
            break
        else:
            if reworded:
                changed[sample.id] = (reworded, None, "")
        for query in queries:
            seen.add(query)
    for sample_id, (reworded, cut, twin) in changed.items():
        if cut is not None and cut < min_turns:
            samples.reject_sample(sample_id, f"near-duplicate request: {twin!r}")
            continue
        sample = samples.get_sample(sample_id)
        for index, request in reworded:
            sample = sample.reworded(index, request)
        samples.replace_sample(sample if cut is None else sample.truncated(cut))
    return len(changed)


def _sample_id(trajectory: Trajectory, key: str) -> str:
    return f"{trajectory.id}:{key}"


def _part_id(sample_id: str, part: int) -> str:
    """A recorded session's first part has the trajectory's sample id; later parts add their number."""
    return sample_id if part == 0 else f"{sample_id}:part{part + 1}"
