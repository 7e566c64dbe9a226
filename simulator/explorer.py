"""The explorer: runs directed trajectories against real servers and stores them.

Determinism: trajectory `i` depends only on the seed, `i` and the graph it is
sampled from.  The first `discovery` trajectories run one after another and may
teach the graph edges observed in execution; after them the graph is frozen and
stored, and the rest may run in several worker processes in any order.
"""

import contextlib
import functools
import hashlib
import json
import logging
import multiprocessing
import multiprocessing.connection
import random
import signal
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import networkx as nx

from servers import hash_state, load_pools
from servers.worlds import world_pools
from simulator.connection import Connection, ServerTarget
from simulator.detours import (
    changed_nothing,
    detour_for,
    gives_back_its_input,
    refused_for_the_state,
    refused_since_success,
    takes_numbers,
    undone_since,
    worth_trying,
)
from simulator.errors import ConnectionFailed, ServerDied, SimulatorError
from simulator.focus import Focus
from simulator.graph import add_reason, build_graph, graph_from_json, graph_to_json, is_removal
from simulator.records import Step, ToolInfo, Trajectory
from simulator.sampler import (
    ArgumentFiller,
    GraphIndex,
    ValueMemory,
    choose_next,
    free_parameters,
    plan_targets,
    story_goals,
)
from simulator.store import Store
from simulator.undo import logs_out, undoes
from simulator.values import describe_kind, result_tokens

__all__ = ["ExploreConfig", "Progress", "explore", "learn_from", "run_id_for"]

logger = logging.getLogger(__name__)

_HOPELESS_FAILURES = 4

Progress = Callable[[int, int], None]
"""Called with (trajectories done, trajectories wanted)."""


@dataclass(frozen=True)
class ExploreConfig:
    """How to explore; everything but `trajectories` and `workers` identifies the run."""

    trajectories: int = 100
    seed: int = 0
    max_steps: int = 8
    after_target_steps: int = 0
    max_failures_per_tool: int = 2
    discovery: int = 16
    workers: int = 1
    values: dict[str, list[Any]] = field(default_factory=dict)
    """Value pools the user gives (`--values FILE.json`): parameter or entity name -> values."""
    worlds: tuple[str, ...] = ()
    """Scenarios the trajectories are spread over instead of the target's one (shipped names or
    `generated:<seed>`); each trajectory records its own.  Empty: the target's scenario."""
    focus: Focus | None = None
    """Where a model failed (`--focus EVAL.json`): targets and next goals weighted by it."""
    targets: tuple[str, ...] = ()
    """The trajectories' targets, in order and in place of the sampler's plan: a coverage round's walks, aimed
    at the tools a focused run left under its floor (`run --focus`).  Empty: the sampler plans them."""
    coverage_round: int = 0
    """Which coverage round `targets` are (0: none), so that a re-run finds the round's walks again."""

    @property
    def draws(self) -> str:
        """What a walk's choices and the worlds' spread are drawn from: the seed, and a later coverage round (its
        walks aimed at the same targets as the round before, in the same worlds, would be the same walks)."""
        return str(self.seed) if self.coverage_round <= 1 else f"{self.seed}:round {self.coverage_round}"

    def identity(self) -> dict[str, Any]:
        data = self.settings()
        del data["trajectories"], data["workers"]
        return data

    def settings(self) -> dict[str, Any]:
        """Every field as JSON data; the focus as its identity, and the focus and a coverage round's targets only
        when there are some (so that runs without them keep their ids)."""
        data = asdict(self)
        del data["focus"], data["targets"], data["coverage_round"]
        coverage = {"targets": list(self.targets), "coverage_round": self.coverage_round} if self.targets else {}
        return data | ({"focus": self.focus.identity()} if self.focus is not None else {}) | coverage


def run_id_for(target: ServerTarget, config: ExploreConfig) -> str:
    """The same command gives the same run id, which is how a re-run resumes.

    For a server we did not write, the options that change what is recorded (which results count as
    errors, what the server is started with, how it is reset) are part of the identity too: a re-run
    with another `--error-text` is new work, never the old run resumed under the new option.
    """
    identity = {"target": target.label, "scenario": target.scenario_label, **config.identity()}
    if target.command is not None or target.url is not None:
        identity["server"] = target.options()
    key = json.dumps(identity, sort_keys=True)
    return "run-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def explore(target: ServerTarget, store_path: Path, config: ExploreConfig, progress: Progress | None = None) -> str:
    """Fill the store with `config.trajectories` trajectories for `target`; resume if some exist.

    Returns the run id.  A run in which every trajectory failed (a server that died at every start, an
    MCP session that was gone at every call) is a `SimulatorError`, not a complete run.
    """
    run_id = run_id_for(target, config)
    # Held open for the whole run: the last connection to close checkpoints the WAL into the
    # file, which cost milliseconds each time a stage opened and closed its own.
    with Store(store_path) as store:
        settings = {**config.settings(), "server": target.options()}  # how synthesis reconnects
        store.ensure_run(run_id, kind="explore", target=target.label, config=settings, seed=config.seed)
        done = store.trajectory_indices(run_id)
        report = progress or (lambda done_count, wanted: None)
        report(len(done & set(range(config.trajectories))), config.trajectories)
        if done >= set(range(config.trajectories)):  # nothing left: no connection, no worker processes
            return run_id
        if config.workers <= 1:
            anyio.run(_explore_here, target, store_path, config, run_id, report)
        else:
            _explore_in_processes(target, store_path, config, run_id, report)
        query = "SELECT count(*), min(error) FROM trajectories WHERE run_id = ? AND status = 'failed'"
        failed, first = store.db.execute(query, [run_id]).fetchone()
    if config.trajectories and failed >= config.trajectories:
        raise SimulatorError(f"every trajectory of {target.label} failed, e.g.: {first}")
    return run_id


def learn_from(graph: nx.DiGraph, trajectory: Trajectory) -> int:
    """Add the edges a trajectory observed; returns how many reasons were new.

    A value edge when a call succeeded with an argument copied from an earlier
    result; a state edge when a call failed, one other tool then succeeded, and
    the same call then succeeded.
    """
    added = 0
    for step in trajectory.steps:
        if step.is_error or step.tool not in graph:
            continue
        for param, path, origin in _result_origins(step.provenance):
            if origin["tool"] in graph and origin["tool"] != step.tool:
                evidence = {"trajectory": trajectory.id, "step": step.index, "from_step": origin["step"]}
                details = {"path": path} if path != param else {}
                added += add_reason(
                    graph,
                    origin["tool"],
                    step.tool,
                    "value",
                    "observed",
                    evidence=evidence,
                    param=param,
                    field=origin["field"],
                    entity=param,
                    **details,
                )
    for position, failed in enumerate(trajectory.steps):
        if not failed.is_error:
            continue
        later = trajectory.steps[position + 1 :]
        retry = next((s for s in later if s.tool == failed.tool and s.arguments == failed.arguments), None)
        if retry is None or retry.is_error:
            continue
        between = [s for s in later[: later.index(retry)] if not s.is_error and s.tool != failed.tool]
        if len(between) == 1 and between[0].tool in graph:
            evidence = {"trajectory": trajectory.id, "failed": failed.index, "ran": between[0].index}
            evidence["succeeded"] = retry.index
            added += add_reason(
                graph,
                between[0].tool,
                failed.tool,
                "state",
                "observed",
                evidence=evidence,
                condition=f"after:{between[0].tool}",
            )
    return added


def _mark_never_succeeding(graph: nx.DiGraph, trajectories: list[Trajectory]) -> None:
    """Tools that failed at least `_HOPELESS_FAILURES` times in discovery and never succeeded (one
    that needs the network, or a client capability we lack) are called later only as targets."""
    failed: dict[str, int] = {}
    succeeded = set()
    for step in (step for trajectory in trajectories for step in trajectory.steps):
        if step.is_error:
            failed[step.tool] = failed.get(step.tool, 0) + 1
        else:
            succeeded.add(step.tool)
    for tool, count in failed.items():
        if count >= _HOPELESS_FAILURES and tool not in succeeded and tool in graph:
            graph.nodes[tool]["never_succeeded"] = True


def _result_origins(provenance: dict[str, dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(parameter, path inside it, origin) for every argument part taken from an earlier result."""
    found = []
    for param, origin in provenance.items():
        if origin.get("source") in ("result", "probe"):
            found.append((param, param, origin))
        elif origin.get("source") == "composed":
            found.extend((param, path, part) for path, part in origin.get("parts", {}).items())
    return found


async def _explore_here(
    target: ServerTarget, store_path: Path, config: ExploreConfig, run_id: str, report: Progress
) -> None:
    """Discovery, then the rest, in this process over one connection.

    One connection, not one per stage: a client checks each tool's output schema once per
    connection, which cost as much as a few hundred calls.
    """
    async with target.connect() as connection:
        graph = await _discover(target, store_path, config, run_id, report, connection)
        remaining = sorted(set(range(config.trajectories)) - _indices(store_path, run_id))
        await _explore_indices(target, store_path, config, run_id, graph_to_json(graph), remaining, report, connection)


async def _discover(
    target: ServerTarget,
    store_path: Path,
    config: ExploreConfig,
    run_id: str,
    report: Progress,
    connection: Connection | None = None,
) -> nx.DiGraph:
    """Build the graph, run (or replay from the store) the discovery trajectories, freeze the graph."""
    with Store(store_path) as store:
        frozen = store.load_graph(run_id, "frozen")
        if frozen is not None:
            return graph_from_json(frozen)
        async with _connected(target, connection) as connection:
            graph = build_graph(connection.tools, third_party=target.command is not None or target.url is not None)
            store.save_graph(run_id, "initial", graph_to_json(graph))
            plan = _plan(graph, config, connection.tools, _pools(target, config))
            stored = {t.index: t for t in store.iter_trajectories(run_id) if t.index < config.discovery}
            explorer = _Explorer(connection, target, config, run_id, _pools(target, config), plan)
            seen, fresh = [], []
            try:
                for index in range(min(config.discovery, config.trajectories)):
                    trajectory = stored.get(index)
                    if trajectory is None:
                        trajectory = await explorer.run(index, plan[index], graph, probe=True)
                        fresh.append(trajectory)
                    if learn_from(graph, trajectory):
                        explorer.forget_index()  # what it read from the graph is out of date
                    seen.append(trajectory)
            finally:
                store.save_trajectories(fresh)  # one commit for them all (a re-run redoes only what is missing)
                _keep_leak(store, run_id, connection)
            report(len(store.trajectory_indices(run_id)), config.trajectories)
            _mark_never_succeeding(graph, seen)
        store.save_graph(run_id, "frozen", graph_to_json(graph))
        return graph


async def _explore_indices(
    target: ServerTarget,
    store_path: Path,
    config: ExploreConfig,
    run_id: str,
    graph_json: dict[str, Any],
    indices: Iterable[int],
    report: Progress,
    connection: Connection | None = None,
) -> None:
    graph = graph_from_json(graph_json)
    with Store(store_path) as store:
        initial = store.load_graph(run_id, "initial")
        planned = graph_from_json(initial) if initial else graph
        done = store.trajectory_indices(run_id)  # counted here, not re-read per trajectory: that grew as O(n^2)

        def written(indices: list[int]) -> None:
            for index in indices:
                done.add(index)
                report(len(done), config.trajectories)

        async with _connected(target, connection) as connection:
            plan = _plan(planned, config, connection.tools, _pools(target, config))
            explorer = _Explorer(connection, target, config, run_id, _pools(target, config), plan)
            try:
                with store.writer(written) as writer:
                    for index in indices:
                        writer.add(await explorer.run(index, plan[index], graph, probe=False))
            finally:
                _keep_leak(store, run_id, connection)


def _explore_in_processes(
    target: ServerTarget, store_path: Path, config: ExploreConfig, run_id: str, report: Progress
) -> None:
    """Discovery here, then this process and `workers - 1` worker processes share the remaining indices.

    Each process takes the next index as soon as it is free (trajectory `i` depends only on the
    seed, `i` and the frozen graph, so who runs it changes nothing) and writes to the store itself.
    The workers start first: each is a fresh Python (spawn) that spends seconds importing and
    connecting, during which this process runs discovery and the first indices.
    """
    context = multiprocessing.get_context("spawn")
    taken, finished = context.Value("q", 0), context.Value("q", 0)
    orders = context.Queue()  # put() never blocks (a feeder thread), so a worker still starting holds nothing up
    orders.cancel_join_thread()  # nor does a worker that died before reading hold up this process's exit
    workers = [
        context.Process(
            target=_worker_main, args=(target, str(store_path), config, run_id, orders, taken, finished), daemon=True
        )
        for _ in range(config.workers - 1)
    ]
    for worker in workers:
        worker.start()
    try:
        anyio.run(
            _explore_shared_here, target, store_path, config, run_id, report, orders, len(workers), taken, finished
        )
    except BaseException:
        for worker in workers:
            worker.terminate()
        raise
    wanted = set(range(config.trajectories))
    while any(worker.is_alive() for worker in workers):
        done = _indices(store_path, run_id)
        report(len(done), config.trajectories)
        if wanted <= done:  # every trajectory is committed: the workers are only starting or shutting down,
            for worker in workers:  # and one still starting would find the shared counters gone
                worker.terminate()
            break
        multiprocessing.connection.wait([worker.sentinel for worker in workers], timeout=0.02)
    done = _indices(store_path, run_id)
    report(len(done), config.trajectories)
    failed = [worker.exitcode for worker in workers if worker.exitcode not in (0, None, -signal.SIGTERM)]
    if failed and not wanted <= done:
        raise SimulatorError(f"{len(failed)} explorer worker(s) failed (exit codes {failed}); re-run to resume")
    if failed:
        logger.warning("%d explorer worker(s) failed (exit codes %s); the others did their share", len(failed), failed)


async def _explore_shared_here(
    target: ServerTarget,
    store_path: Path,
    config: ExploreConfig,
    run_id: str,
    report: Progress,
    orders: Any,
    workers: int,
    taken: Any,
    finished: Any,
) -> None:
    """Discovery, the frozen graph and the remaining indices to every worker, then this process's share."""
    async with target.connect() as connection:
        graph = graph_to_json(await _discover(target, store_path, config, run_id, report, connection))
        done = _indices(store_path, run_id)
        before, remaining = len(done), sorted(set(range(config.trajectories)) - done)
        for _ in range(workers):
            orders.put((graph, remaining))

        def shared_report(done: int, wanted: int) -> None:
            _count(finished, done, wanted)
            report(before + finished.value, wanted)

        indices = _next_free(remaining, taken)
        await _explore_indices(target, store_path, config, run_id, graph, indices, shared_report, connection)


def _worker_main(
    target: ServerTarget, store_path: str, config: ExploreConfig, run_id: str, orders: Any, taken: Any, finished: Any
) -> None:
    anyio.run(_worker, target, Path(store_path), config, run_id, orders, taken, finished)


async def _worker(
    target: ServerTarget, store_path: Path, config: ExploreConfig, run_id: str, orders: Any, taken: Any, finished: Any
) -> None:
    """Connect, wait for the frozen graph and the remaining indices, explore whichever are free."""
    async with target.connect() as connection:
        graph, remaining = await anyio.to_thread.run_sync(orders.get)  # the parent stops us if discovery fails
        counted = functools.partial(_count, finished)
        await _explore_indices(
            target, store_path, config, run_id, graph, _next_free(remaining, taken), counted, connection
        )


def _next_free(remaining: list[int], taken: Any) -> Iterator[int]:
    """The indices of `remaining` that no process has taken yet (`taken`: a counter all processes share)."""
    while True:
        with taken.get_lock():
            position = taken.value
            taken.value += 1
        if position >= len(remaining):
            return
        yield remaining[position]


def _count(finished: Any, done: int, wanted: int) -> None:
    """Progress from any process: one more trajectory stored (`finished`: a counter all processes share)."""
    with finished.get_lock():
        finished.value += 1


class _Explorer:
    """Runs single trajectories over one open connection."""

    def __init__(
        self,
        connection: Connection,
        target: ServerTarget,
        config: ExploreConfig,
        run_id: str,
        pools: dict,
        plan: list[str],
    ) -> None:
        self.connection = connection
        self.target = target
        self.config = config
        self.run_id = run_id
        self.pools = {key: list(values) for key, values in pools.items()}
        self.tools = {tool.name: tool for tool in connection.tools}
        self._labels = target.label, target.scenario_label  # worked out once, recorded with every trajectory
        self.third_party = target.command is not None or target.url is not None
        self.free = free_parameters(connection.tools, pools)
        self._index: GraphIndex | None = None
        self._server_paths: dict[str, list[str]] | None = None
        self._worlds = _spread_worlds(plan, config.worlds, config.draws)
        self._world_pools: dict[str, dict[str, list[Any]]] = {}
        self._asked_with_values = {tool.name for tool in connection.tools if tool.parameters}
        """The tools whose request can be made again with new values: a focus calls a failed one again."""
        self._rationed = {
            tool.name: _request_room(tool, pools, len(config.worlds))
            for tool in connection.tools
            if tool.read_only is True and not tool.parameters and (tool.hints or {}).get("asks")
        }

    def forget_index(self) -> None:
        """The graph has changed in place (discovery learnt from a trajectory): index it again."""
        self._index = None

    async def run(self, index: int, target_tool: str, graph: nx.DiGraph, *, probe: bool) -> Trajectory:
        seed = self.config.seed * 1_000_003 + index
        world = self._worlds[index] if index < len(self._worlds) else None
        trajectory = Trajectory(
            id=f"{self.run_id}-{index:06d}",
            run_id=self.run_id,
            index=index,
            env=self._labels[0],
            scenario=world or self._labels[1],
            seed=seed,
            target=target_tool,
        )
        rng = random.Random(f"{self.config.draws}:{index}")
        try:
            if world is not None:
                self.connection.use_scenario(world)
            await self.connection.reset(seed)
            if self._server_paths is None:
                self._server_paths = await _server_paths(self.connection)
                for key, values in self._server_paths.items():
                    self.pools.setdefault(key, []).extend(values)
                if self._server_paths:
                    self.free, self._index = free_parameters(self.connection.tools, self.pools), None
                    await self.connection.reset(seed)  # the asking must not show in the trajectory's state
            await self._walk(
                trajectory, graph, rng, probe, self._pools_in(world), self._rationed_out(index, target_tool)
            )
            state = await self.connection.state() if self.connection.fresh_state else None
            trajectory.final_state_hash = hash_state(state) if state is not None else None
        except ConnectionFailed as error:  # died, or would not start again: this trajectory only
            trajectory.status, trajectory.error = "failed", str(error)
            logger.warning("trajectory %s failed: %s", trajectory.id, error)
        trajectory.covered_edges = _covered_edges(graph, trajectory.steps)
        return trajectory

    def _rationed_out(self, index: int, target_tool: str) -> set[str]:
        """The look-ups without arguments this trajectory leaves out of its walk: such a request can differ only
        in its phrasings, so once the run has had as many trajectories as a tool has phrasings, a later one calls
        it only with a chance that falls as the run goes on (room / index: about room * log(run / room) in all),
        and the near-duplicate filter no longer throws away what the walks made.  The walk's own target is
        always called.  Depends only on the seed and the index, so any number of workers walks the same."""
        return {
            tool
            for tool, room in self._rationed.items()
            if tool != target_tool
            and index >= room
            and random.Random(f"{self.config.seed}:{index}:{tool}").random() >= room / (index + 1)
        }

    def _pools_in(self, world: str | None) -> dict[str, list[Any]]:
        """The run's pools, with what a generated world names (its users, ids, paths) in place of the
        shipped scenarios' values under the same keys."""
        if world is None:
            return self.pools
        if world not in self._world_pools:
            own = {key: values for env in self.target.envs for key, values in world_pools(env, world).items()}
            self._world_pools[world] = self.pools | own
        return self._world_pools[world]

    async def _walk(
        self,
        trajectory: Trajectory,
        graph: nx.DiGraph,
        rng: random.Random,
        probe: bool,
        pools: dict[str, list[Any]],
        rationed_out: set[str] = frozenset(),
    ) -> None:
        if self._index is None or self._index.graph is not graph:
            self._index = GraphIndex(graph, self.free)
        index = self._index
        filler = ArgumentFiller(pools, rng, probe=probe, third_party=self.third_party)
        memory = ValueMemory()
        called: set[str] = set()
        failures: dict[str, int] = {}
        excluded = {tool for tool in index.tools if tool not in self.tools}
        excluded |= index.never_succeeded - {trajectory.target}
        excluded |= rationed_out
        extra_steps = 0
        goal = trajectory.target or ""
        if (
            goal in index.graph
            and index.creators
            and goal not in index.creators
            and not set(index.creators) & index.ancestors(goal)
        ):
            goal = rng.choice(index.creators)  # make something first: a walk on an empty board teaches nothing
        # Discovery on a server that declares nothing walks on past the target: edges are learnt
        # only from calls that follow one another, and there are none to follow yet.
        target_tool = self.tools.get(trajectory.target or "")
        learning = probe and target_tool is not None and (target_tool.hints is None or self.third_party)
        again = False  # the goal is a failed tool called before: called again, with new values
        made: dict[str, list[dict[str, Any]]] = {}  # tool -> the arguments of its successful calls
        spent: set[str] = set()  # tools the walk had no new values for
        aimed = bool(self.config.targets)  # a coverage round's walk: it is made for its target's turn
        waiting: list[str] = []  # an aimed walk's goals that a detour went to clear the way for, the target first

        def toward_target(refused: Step) -> tuple[str, bool]:
            """An aimed walk's next goal after `refused` (its target, or a detour on the way to it, was refused or
            changed nothing): a detour that may clear the way, else the goal the refused detour was for; and
            whether it is `again` (called before)."""
            detour = detour_for(refused, self.tools, trajectory.steps, called, excluded, trajectory.target or "")
            if detour is None:
                return resumed()
            waiting.append(refused.tool)
            return detour, detour in called

        def resumed() -> tuple[str, bool]:
            """What a detour (or the creation tool) cleared the way for, and whether it is `again`.  Not a logout
            right after its login ("log me in; log me out", a turn no story takes): a call that uses the session
            comes between (one not refused since)."""
            goal = waiting.pop() if waiting else trajectory.target or ""
            last = next((step.tool for step in reversed(trajectory.steps) if not step.is_error), "")
            if not (undoes(goal, last) and logs_out(goal)):
                return goal, False
            refused = {step.tool for step in trajectory.steps if refused_since_success(trajectory.steps, step.tool)}
            between = _next_goal(index, called, excluded | refused | {goal}, rng)
            if between is None:
                return goal, False
            waiting.append(goal)
            return between, between in called

        def moved_on(goal: str) -> tuple[bool, str]:
            """The next goal after `goal`, and whether it is a tool called before (only a focus picks one)."""
            undone = {tool for tool in called if undone_since(trajectory.steps, tool)}
            repeatable = (self._asked_with_values - spent) | undone
            chosen = _next_goal(index, called, excluded, rng, self.config.focus, goal, repeatable)
            return chosen in called, chosen or goal

        while len(trajectory.steps) < self.config.max_steps:
            if aimed and worth_trying(trajectory, goal, excluded):
                tool_name = goal  # straight at it, or at a detour: the walk's model of the state may be wrong
            else:
                tool_name = choose_next(
                    graph, goal, called - {goal} if again else called, excluded, rng, self.free, index
                )
            if tool_name is None:
                break
            tool = self.tools[tool_name]
            repeat = again and tool_name == goal
            # a failed tool called again takes the user's own values where pools have them all: a request of its
            # own ("what is 17 + 4?"), not the next link of a chain of machine floats, nor the same look-up again;
            # so do an aimed walk's detours (a login: a user's name and their password, not a name a search found)
            # and its target where it takes numbers
            detour = aimed and not trajectory.reached and tool_name == goal != trajectory.target
            computed = aimed and tool_name == trajectory.target and takes_numbers(tool)
            own = (repeat or detour or computed) and set(tool.required) <= self.free.get(tool_name, set())
            refused = refused_for_the_state(trajectory.steps, tool_name) if aimed and not trajectory.reached else None
            if refused is not None:  # the state was to blame, and a detour has changed it since: the same request
                arguments, provenance = dict(refused.arguments), dict(refused.provenance)
            else:
                arguments, provenance = filler.fill(
                    tool, ValueMemory() if own else memory, {} if own else index.links(tool_name)
                )
            if detour and tool.read_only is True:  # a look-up on the way shows all ("list my orders"), not what a
                arguments = {name: value for name, value in arguments.items() if name in tool.required}  # filter
                provenance = {name: origin for name, origin in provenance.items() if name in arguments}  # narrows
            if repeat and arguments in made.get(tool_name, []) and not undone_since(trajectory.steps, tool_name):
                spent.add(goal)
                again, goal = moved_on(goal)
                continue
            try:
                step = await self.connection.call(tool_name, arguments)
            except ServerDied as error:  # keep the fatal call in the record, then fail the trajectory
                trajectory.steps.append(Step(len(trajectory.steps), tool_name, arguments, None, str(error), True))
                raise
            step.index, step.provenance = len(trajectory.steps), provenance
            trajectory.steps.append(step)
            memory.note_arguments(arguments)
            if step.is_error:
                failures[tool_name] = failures.get(tool_name, 0) + 1
                if failures[tool_name] >= self.config.max_failures_per_tool:
                    excluded.add(tool_name)
                if aimed and not trajectory.reached and tool_name in (goal, trajectory.target):
                    goal, again = toward_target(step)
                continue
            if tool_name not in called and not learning:  # new values may rescue tools that failed for want of them
                excluded = {
                    tool
                    for tool in excluded
                    if tool not in self.tools
                    or failures.get(tool, 0) > 2 * self.config.max_failures_per_tool
                    or tool in index.never_succeeded
                    or tool in rationed_out
                }
            called.add(tool_name)
            made.setdefault(tool_name, []).append(arguments)
            produces = (tool.hints or {}).get("produces")
            memory.remember(step.index, tool_name, step.result, produces, text=step.text, arguments=arguments)
            if aimed and tool_name == trajectory.target and not trajectory.reached and changed_nothing(tool, step):
                goal, again = toward_target(step)  # the door was locked already: unlock it, then lock it
                continue
            if computed and gives_back_its_input(arguments, step.result, (tool.hints or {}).get("names") or {}):
                goal, again = tool_name, True  # 3.5 mod 9.8 leaves 3.5, which nobody asks: other numbers of the user's
                continue
            if tool_name == trajectory.target:
                trajectory.reached = True
            elif trajectory.reached:
                extra_steps += 1
            if tool_name == goal and not trajectory.reached and trajectory.target in self.tools:
                # the creation tool came first, or a detour: now what it cleared the way for
                goal, again = resumed() if aimed else (trajectory.target, False)
            elif tool_name == goal:  # on to another goal in the same sandbox: later requests build on this state
                again, goal = moved_on(goal)
            if trajectory.reached and extra_steps >= self.config.after_target_steps and not learning:
                break


@contextlib.asynccontextmanager
async def _connected(target: ServerTarget, connection: Connection | None) -> AsyncIterator[Connection]:
    """`connection` when one is open already, else a new one to `target` for the block."""
    if connection is not None:
        yield connection
        return
    async with target.connect() as opened:
        yield opened


def _keep_leak(store: Store, run_id: str, connection: Connection) -> None:
    """Record in the store a leak this connection found, for synthesis to read (`Store.leak_of`)."""
    if not connection.fresh_state and connection.unfresh_reason:
        store.record_leak(run_id, connection.unfresh_reason)


def _next_goal(
    index: GraphIndex,
    called: set[str],
    excluded: set[str],
    rng: random.Random,
    focus: Focus | None = None,
    just_called: str = "",
    repeatable: set[str] = frozenset(),
) -> str | None:
    """A tool that acts on what the walk made, revealed or changed (the story goes on); else one not called yet
    with the most prerequisites not called yet either (a new chain).

    With a focus, its share of the time one of those drawn by its weights instead (the story still goes on
    where it can: the weights choose among the story's next goals when one of them weighs, else among all the
    tools that weigh, those called before included when `repeatable` (they take values): a failed tool is called
    again, with new values, so that a walk holds several calls of the failed tools for turns of their own, not one
    each and then the rest; never the tool `just_called`, twice in a row)."""
    story = story_goals(index, called, excluded)
    if focus is not None:
        again = [
            tool
            for tool in index.tools
            if tool not in excluded and tool != just_called and (tool not in called or tool in repeatable)
        ]
        weighed = [tool for tool in story if focus.tools.get(tool, 0.0) > 0]
        focused = focus.pick(weighed or again, rng)  # a story goal that weighs, else any tool that weighs
        if focused is not None:
            return str(focused)
    goals = story or index.next_goals(called, excluded)
    if goals and all(is_removal(goal) for goal in goals):  # what a removal would end is acted on first
        lasting = [tool for tool in index.tools if tool not in called | excluded and not is_removal(tool)]
        goals = tuple(lasting[:3]) or goals
    return rng.choice(goals) if goals else None


def _plan(graph: nx.DiGraph, config: ExploreConfig, tools: list[ToolInfo], pools: dict[str, list[Any]]) -> list[str]:
    """The sampler's targets, steered away from requests the run has made already.

    A tool's requests can differ only as much as its phrasings and the values a user gives it
    (a status check has a handful; a currency conversion thousands), so once a target has had as
    many trajectories as it has distinct requests, its next turns are the request again and the
    near-duplicate filter throws them away.  Such a slot goes to the least used target that has
    requests unmade (the fewest so far, not the most room: one target with thousands of values must
    not take every freed slot, or its few phrasings repeat instead).  Depends only on the plan's
    prefix, so a run that grows keeps its trajectories.
    """
    if config.targets:  # a coverage round's: aimed where the run fell short, never steered elsewhere
        return [config.targets[index % len(config.targets)] for index in range(config.trajectories)]
    plan = plan_targets(graph, config.trajectories, config.seed, config.focus)
    room = {tool.name: _request_room(tool, pools, len(config.worlds)) for tool in tools if tool.name in graph}
    if not room:
        return plan
    made: dict[str, int] = {}
    steered = []
    for target in plan:
        if made.get(target, 0) >= room.get(target, made.get(target, 0) + 1):
            open_ = [tool for tool in sorted(room) if made.get(tool, 0) < room[tool]] or sorted(room)
            target = min(open_, key=lambda tool: made.get(tool, 0))
        made[target] = made.get(target, 0) + 1
        steered.append(target)
    return steered


def _request_room(tool: ToolInfo, pools: dict[str, list[Any]], worlds: int) -> int:
    """About how many different requests a tool can be asked in: its phrasings times the values of
    what a user states (a pool's size; an id or name an earlier call gives: one per world).  Tools
    without declared phrasing are never steered (their room is taken as unbounded)."""
    asks = (tool.hints or {}).get("asks") or []
    if not asks:
        return 1 << 30
    consumes = (tool.hints or {}).get("consumes", {})
    room = len(asks)
    for name in tool.required:
        values = pools.get(name) or pools.get(consumes.get(name, "")) or []
        room *= len(values) or max(1, worlds) * 4
    return min(room, 1 << 30)


def _spread_worlds(plan: list[str], worlds: tuple[str, ...], seed: str) -> list[str]:
    """The world of each trajectory: each target meets every world once before any twice, so the request
    a target was made for in one world is next made in another (with that world's people, ids and
    values), and targets start apart, so each round of targets covers the worlds evenly.  Depends only
    on the plan and the seed."""
    if not worlds:
        return []
    order = list(worlds)
    random.Random(f"{seed}:worlds").shuffle(order)
    starts: dict[str, int] = {}
    met: dict[str, int] = {}
    for target in plan:
        starts.setdefault(target, len(starts))
    spread = []
    for target in plan:
        start = starts[target] * len(order) // max(len(starts), len(order))
        spread.append(order[(start + met.get(target, 0)) % len(order)])
        met[target] = met.get(target, 0) + 1
    return spread


def _covered_edges(graph: nx.DiGraph, steps: list[Step]) -> list[list[str]]:
    """Graph edges a trajectory realised: A succeeded, then B succeeded later."""
    succeeded: list[str] = []
    covered: set[tuple[str, str]] = set()
    for step in steps:
        if step.is_error:
            continue
        covered.update((earlier, step.tool) for earlier in succeeded if graph.has_edge(earlier, step.tool))
        succeeded.append(step.tool)
    return sorted([list(edge) for edge in covered])


def _pools(target: ServerTarget, config: ExploreConfig) -> dict[str, list[Any]]:
    """The scenario's value pools and the user's `--values` file, merged."""
    pools: dict[str, list[Any]] = {}
    for env in target.envs:
        for key, values in load_pools(env).items():
            pools.setdefault(key, []).extend(values)
    for key, values in config.values.items():
        pools.setdefault(key, []).extend(values)
    return pools


async def _server_paths(connection: Connection) -> dict[str, list[str]]:
    """What a server shows at its start, as pools: the folders it says it allows (the result
    of a read-only tool without arguments that speaks of them), then the files and folders
    its read-only one-path tools list in each.  Asked once, after the first fresh start."""
    found: dict[str, list[str]] = {"directory": [], "path": []}
    third_party = connection.target.command is not None or connection.target.url is not None
    tools = [tool for tool in connection.tools if tool.read_only is True and (tool.hints is None or third_party)]
    for tool in tools:
        if not tool.required and "allow" in f"{tool.name} {tool.description}".lower():
            step = await connection.call(tool.name, {})
            if not step.is_error:
                found["directory"] += [v for k, v in result_tokens(step.result, step.text, {}) if k in found]
    for folder in list(found["directory"]):
        for tool in tools:
            if len(tool.required) == 1 and describe_kind(tool.required[0], {}, tool.name) == "dir":
                step = await connection.call(tool.name, {tool.required[0]: folder})
                if not step.is_error:
                    for key, value in result_tokens(step.result, step.text, {tool.required[0]: folder}):
                        if key in found:
                            found[key].append(value)
    return {key: list(dict.fromkeys(values)) for key, values in found.items() if values}


def _indices(store_path: Path, run_id: str) -> set[int]:
    with Store(store_path) as store:
        return store.trajectory_indices(run_id)
