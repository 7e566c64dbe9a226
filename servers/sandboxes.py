"""Sandboxes: live environments built from a scenario and seed, and their lifecycle."""

import functools
import json
import math
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from pydantic import BaseModel

from servers.classes import ClassEnvironment
from servers.environment import Environment, EnvironmentSnapshot, ToolSpec
from servers.errors import CallTimedOut, InvalidArgument, SandboxLimitReached, UnknownSandbox
from servers.registry import get_environment
from servers.scenarios import load_combined_scenario, load_scenario
from servers.state import StateModel, diff_states, hash_state

__all__ = ["Execution", "Sandbox", "SandboxManager", "create_sandbox"]

ScenarioChoice = str | Mapping[str, str] | None
"""One scenario name for every environment, a name per environment, or None for `default`."""


@dataclass(frozen=True)
class Execution:
    """What one successful tool call returned and how it changed the state."""

    result: Any
    diff: list[dict[str, Any]]


class Sandbox:
    """One or more environments that share a life: one id, one scenario, one seed.

    `execute` is transactional: a call that raises leaves every environment exactly
    as it was.  Read-only tools skip the snapshot, which is where most calls go.
    One lock serialises calls, reads of the state and forks, so calls running on
    worker threads (`execute_in_thread`) never see or leave a half-changed state.
    """

    def __init__(self, environments: Sequence[Environment], *, sandbox_id: str, scenario: dict[str, str], seed: int):
        self.id = sandbox_id
        self.environments = {env.name: env for env in environments}
        self.scenario = scenario
        self.seed = seed
        self.last_used = 0.0
        self.lock = threading.RLock()
        self._tools: dict[str, tuple[Environment, ToolSpec]] = {}
        for env in environments:
            for name, spec in env.tool_specs().items():
                if name in self._tools:
                    raise InvalidArgument(
                        f"tool {name!r} is defined by both {self._tools[name][0].name!r} and {env.name!r}"
                    )
                self._tools[name] = (env, spec)

    @property
    def env_names(self) -> list[str]:
        return list(self.environments)

    def tool_spec(self, tool_name: str) -> ToolSpec:
        return self._tools[tool_name][1]

    def execute(self, tool_name: str, arguments: Mapping[str, Any], *, ticket: "_Ticket | None" = None) -> Execution:
        """Run a tool on already-validated arguments, all or nothing.

        With a `ticket`, the call is undone (and raises `CallTimedOut`) when its caller
        gave up on it while it ran, and does not start when the caller gave up first.
        """
        env, spec = self._tools[tool_name]
        method = getattr(env, tool_name)
        with self.lock:
            if ticket is not None and ticket.abandoned:
                raise _late(tool_name)
            before = None if spec.read_only else env.snapshot()
            try:
                result = _finite(method(**arguments))
                diff = [] if before is None else diff_states({env.name: before.state}, {env.name: env.state_data()})
                execution = Execution(result, diff)
                if ticket is not None and not ticket.finish(execution):
                    raise _late(tool_name)
            except BaseException:
                if before is not None:
                    env.undo(before)
                raise
        return execution

    async def execute_in_thread(self, tool_name: str, arguments: Mapping[str, Any], timeout: float) -> Execution:
        """`execute` on a worker thread, so a slow call holds up no other sandbox; at most `timeout` seconds.

        A thread cannot be stopped: a call past its time limit runs on, then is undone
        under the sandbox's lock before anything else sees its changes.
        """
        ticket = _Ticket()
        call = functools.partial(self.execute, tool_name, arguments, ticket=ticket)
        try:
            with anyio.move_on_after(timeout):
                return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
        except BaseException:
            ticket.abandon()  # cancelled from outside (the client went away): undone like a late call
            raise
        if ticket.abandon():
            raise CallTimedOut(
                f"the call to {tool_name!r} took longer than {timeout:g} s and was stopped; nothing was changed"
            )
        assert ticket.value is not None  # finished at the very moment its time ran out
        return ticket.value

    def state(self) -> dict[str, Any]:
        """The whole state as JSON data, keyed by environment name."""
        with self.lock:
            return {name: env.state_data() for name, env in self.environments.items()}

    def state_hash(self) -> str:
        return hash_state(self.state())

    def snapshot(self) -> dict[str, EnvironmentSnapshot]:
        with self.lock:
            return {name: env.snapshot() for name, env in self.environments.items()}

    def restore(self, snapshot: Mapping[str, EnvironmentSnapshot]) -> None:
        with self.lock:
            for name, env_snapshot in snapshot.items():
                self.environments[name].restore(env_snapshot)

    def fork(self, *, sandbox_id: str | None = None) -> "Sandbox":
        """A new sandbox with exactly this state and random stream: both futures start equal, then part ways."""
        twin = object.__new__(Sandbox)  # a shallow copy, as copy.copy makes it at a fifth of the cost
        twin.__dict__.update(self.__dict__)
        twin.id = sandbox_id or _new_id()
        twin.lock = threading.RLock()
        with self.lock:
            twin.environments = {name: env.fork() for name, env in self.environments.items()}
        twin.scenario = dict(self.scenario)
        twin.last_used = 0.0
        # The same tools bound to the twins: no walk over the classes again, no duplicate check (this one passed)
        twin._tools = {name: (twin.environments[env.name], spec) for name, (env, spec) in self._tools.items()}
        return twin

    def describe(self) -> dict[str, Any]:
        """The public facts about this sandbox (what `POST /sandboxes` answers)."""
        return {"id": self.id, "env": self.env_names, "scenario": self.scenario, "seed": self.seed}


def create_sandbox(
    envs: str | Sequence[str],
    scenario: ScenarioChoice = None,
    seed: int = 0,
    *,
    sandbox_id: str | None = None,
    scenario_dir: Path | None = None,
) -> Sandbox:
    """Build a fresh sandbox from shipped scenarios; the same inputs give the same state.

    `scenario` may name a combined scenario, which picks the environments itself.
    A name found as `scenario_dir/<env>/<name>.json` is read from there first.
    """
    names = [envs] if isinstance(envs, str) else list(envs)
    combined = load_combined_scenario(scenario) if isinstance(scenario, str) else None
    if combined is not None:
        if names and sorted(names) != sorted(combined):
            raise InvalidArgument(f"scenario {scenario!r} is for {', '.join(combined)}, not {', '.join(names)}")
        names, scenario = list(combined), combined
    if not names:
        raise InvalidArgument("a sandbox needs at least one environment")
    chosen: dict[str, str] = {}
    environments = []
    for name in names:
        env_class = get_environment(name)
        wanted = scenario.get(name) if isinstance(scenario, Mapping) else scenario
        chosen[name], state = _initial_state(env_class, wanted, scenario_dir)
        environments.append(env_class(state, seed))
    return Sandbox(environments, sandbox_id=sandbox_id or _new_id(), scenario=chosen, seed=seed)


def _initial_state(
    env_class: type[Environment], wanted: str | None, scenario_dir: Path | None = None
) -> tuple[str, StateModel | dict[str, Any]]:
    """The scenario's name and a fresh state: shipped scenarios are read and checked once per process.

    Reading, parsing and validating the file on every sandbox cost more than the
    calls of a short trajectory.  A user's own `.json` file is read every time, so
    edits to it count.  The cache holds JSON text, never objects, so no two
    sandboxes can share a mutable value; the state model is validated from that text
    directly (a third faster than parsing it first), a user's class gets it as data.
    """
    own = scenario_dir / env_class.name / f"{wanted}.json" if scenario_dir and wanted else None
    if own is not None and own.is_file():
        loaded = load_scenario(env_class, path=own)
        return loaded.name, loaded.state
    if wanted is not None and wanted.endswith(".json"):
        loaded = load_scenario(env_class, wanted)
        return loaded.name, loaded.state
    name, text = _shipped_scenario(env_class, wanted)
    if issubclass(env_class, ClassEnvironment):
        return name, json.loads(text)
    return name, env_class.state_model.model_validate_json(text)


@functools.cache
def _shipped_scenario(env_class: type[Environment], wanted: str | None) -> tuple[str, str]:
    loaded = load_scenario(env_class, wanted)
    return loaded.name, json.dumps(loaded.state)


class SandboxManager:
    """Live sandboxes by id, with a cap and idle expiry.

    Ids are random (`secrets`), so one client cannot guess another's sandbox.
    """

    def __init__(
        self,
        *,
        max_sandboxes: int = 256,
        idle_timeout: float | None = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        scenario_dir: Path | None = None,
    ) -> None:
        self.max_sandboxes = max_sandboxes
        self.idle_timeout = idle_timeout
        self.scenario_dir = scenario_dir
        self._clock = clock
        self._sandboxes: dict[str, Sandbox] = {}

    def __len__(self) -> int:
        return len(self._sandboxes)

    def create(self, envs: str | Sequence[str], scenario: ScenarioChoice = None, seed: int = 0) -> Sandbox:
        self.check_room()
        return self.add(create_sandbox(envs, scenario, seed, scenario_dir=self.scenario_dir))

    def fork(self, sandbox_id: str) -> Sandbox:
        """A new live sandbox that starts where `sandbox_id` stands now (counts against the cap)."""
        source = self.get(sandbox_id)
        self.check_room()
        return self.add(source.fork())

    def check_room(self) -> None:
        """Refuse when the cap is reached (before building a sandbox that could not be kept)."""
        self.expire()
        if len(self._sandboxes) >= self.max_sandboxes:
            raise SandboxLimitReached(f"too many live sandboxes (limit {self.max_sandboxes}); delete one first")

    def add(self, sandbox: Sandbox) -> Sandbox:
        """Make a sandbox built elsewhere (on a worker thread, say) live, within the cap."""
        self.check_room()
        sandbox.last_used = self._clock()
        self._sandboxes[sandbox.id] = sandbox
        return sandbox

    def get(self, sandbox_id: str) -> Sandbox:
        self.expire()
        try:
            sandbox = self._sandboxes[sandbox_id]
        except KeyError:
            raise UnknownSandbox(f"no sandbox {sandbox_id!r} (never created, deleted or expired)") from None
        sandbox.last_used = self._clock()
        return sandbox

    def delete(self, sandbox_id: str) -> None:
        self.get(sandbox_id)
        del self._sandboxes[sandbox_id]

    def list(self) -> list[Sandbox]:
        self.expire()
        return list(self._sandboxes.values())

    def expire(self) -> None:
        """Drop sandboxes idle for longer than `idle_timeout`."""
        if self.idle_timeout is None:
            return
        cutoff = self._clock() - self.idle_timeout
        for sandbox_id in [sid for sid, box in self._sandboxes.items() if box.last_used < cutoff]:
            del self._sandboxes[sandbox_id]


class _Ticket:
    """One call's fate, settled once: it finished in time (with its value), or its caller gave up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settled = False
        self.abandoned = False
        self.value: Execution | None = None

    def finish(self, value: Execution) -> bool:
        """Deliver the call's value; False when the caller gave up first (then undo the call)."""
        with self._lock:
            if not self._settled:
                self._settled, self.value = True, value
            return not self.abandoned

    def abandon(self) -> bool:
        """Give up on the call; False when it has already finished (then take its value)."""
        with self._lock:
            if not self._settled:
                self._settled = self.abandoned = True
            return self.abandoned


def _late(tool_name: str) -> CallTimedOut:
    return CallTimedOut(f"the call to {tool_name!r} ran past its time limit and was undone")


def _finite(result: Any) -> Any:
    """Refuse a result JSON cannot carry (NaN, infinity): it would reach the client as null."""
    data = result.model_dump() if isinstance(result, BaseModel) else result
    if _has_non_finite(data):
        raise InvalidArgument("the result is not a finite number; use smaller or different inputs")
    return result


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_has_non_finite(item) for item in value)
    return False


def _new_id() -> str:
    return secrets.token_urlsafe(12)
