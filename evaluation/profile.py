"""The failure profile: where a model fails, per target tool, variant, dependency pattern and failure kind.

`funreason eval --json` writes it under the key `profile`; `funreason run --focus EVAL.json` reads it
back (see `simulator.focus`) to make more training data where the failures are.  Every group counts
*turn attempts*: one graded turn of one attempt.  A group is `{"attempts", "failures", "rate",
"tasks", "failed_tasks"}`: turn attempts in the group, how many failed, failures / attempts, and the
ids of the tasks with a turn in the group and of those with a failed one.

Dependency patterns of a turn (a turn may have several, or none):

* `carried_value`: an argument holds a value an earlier turn looked up (a read-only call returned it first)
  or was told, and the turn's own request does not say it: the model must take it from the history;
* `earlier_object`: an argument names something an earlier turn's state-changing call made (returned it
  first) or, when no call returned it, acted on ("cancel that booking", "move the file you created");
* `implicit_state`: a call of the turn establishes a state (its tool `provides` a condition) that a later
  call of the turn `requires`, and the request leaves it unsaid (log in first);
* `parallel_calls`: two of the turn's ground-truth calls do not depend on each other, so they belong in
  one assistant message.

Read-only flags and `requires`/`provides` come from the environment's declared tools; a task of an
environment this process cannot load is classified by its values alone.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from evaluation.checker import FAILURE_KINDS
from evaluation.runner import Attempt
from evaluation.tasks import Task, TaskTurn
from servers import ToolSpec, get_environment
from servers.errors import SandboxError

__all__ = ["PATTERNS", "PROFILE_VERSION", "failure_profile", "tool_specs_of", "turn_patterns"]

PROFILE_VERSION = "profile-1"

PATTERNS = ("carried_value", "earlier_object", "implicit_state", "parallel_calls")


def failure_profile(attempts: Iterable[Attempt], specs: Mapping[str, ToolSpec] | None = None) -> dict[str, Any]:
    """The profile of these attempts (JSON-ready); `specs`: tool name -> declared spec (default: looked up)."""
    attempts = list(attempts)
    if specs is None:
        specs = tool_specs_of(attempt.task.env for attempt in attempts)
    groups: dict[str, dict[str, _Group]] = {key: defaultdict(_Group) for key in _SECTIONS}
    overall = _Group()
    patterns_of: dict[tuple[str, int], tuple[str, ...]] = {}
    for attempt in attempts:
        task = attempt.task
        for index, (turn, grade) in enumerate(zip(task.turns, attempt.grades, strict=True)):
            if (task.id, index) not in patterns_of:
                patterns_of[task.id, index] = turn_patterns(task, index, specs)
            target = _target(turn)
            keys = {
                "per_tool": [target] if target else [],
                "per_variant": [turn.variant],
                "per_pattern": list(patterns_of[task.id, index]),
                "per_failure": list(FAILURE_KINDS),
            }
            overall.add(task.id, not grade.passed)
            for section, names in keys.items():
                for name in names:
                    failed = grade.failure == name if section == "per_failure" else not grade.passed
                    groups[section][name].add(task.id, failed)
    tasks = {attempt.task.id: attempt.task for attempt in attempts}
    return {
        "version": PROFILE_VERSION,
        "models": sorted({attempt.model for attempt in attempts}),
        **overall.to_json(),
        **{section: _section(groups[section]) for section in _SECTIONS},
        "held_out": {
            task_id: {"env": task.env, "queries": [turn.query for turn in task.turns]}
            for task_id, task in sorted(tasks.items())
        },
    }


def turn_patterns(task: Task, index: int, specs: Mapping[str, ToolSpec]) -> tuple[str, ...]:
    """The dependency patterns of turn `index` of `task` (in `PATTERNS` order)."""
    turn = task.turns[index]
    said = f"{turn.query} {turn.follow_up or ''}".lower()
    earlier = [call for before in task.turns[:index] for call in before.calls]
    found = set()
    for call in turn.calls:
        for value in _telling_values(call["arguments"]):
            if str(value).lower() in said:
                continue  # the user says it: nothing to take from the history
            pattern = _from_history(value, earlier, specs)
            if pattern is not None:
                found.add(pattern)
    provided = [set(specs[call["tool"]].provides) if call["tool"] in specs else set() for call in turn.calls]
    for position, call in enumerate(turn.calls):
        needed = set(specs[call["tool"]].requires) if call["tool"] in specs else set()
        if any(needed & provided[before] for before in range(position)):
            found.add("implicit_state")
    if _has_parallel_calls(turn.calls, specs):
        found.add("parallel_calls")
    return tuple(pattern for pattern in PATTERNS if pattern in found)


def tool_specs_of(envs: Iterable[str]) -> dict[str, ToolSpec]:
    """Tool name -> declared spec for every environment named (a combined `a+b` label names several) we know."""
    specs: dict[str, ToolSpec] = {}
    for label in sorted(set(envs)):
        for name in label.split("+"):
            try:
                specs.update(get_environment(name).tool_specs())
            except (SandboxError, ImportError):  # someone else's server, or BFCL without its extra
                continue
    return specs


class _Group:
    """Turn attempts of one group: counts and the tasks they came from."""

    def __init__(self) -> None:
        self.attempts = 0
        self.failures = 0
        self.tasks: set[str] = set()
        self.failed_tasks: set[str] = set()

    def add(self, task_id: str, failed: bool) -> None:
        self.attempts += 1
        self.tasks.add(task_id)
        if failed:
            self.failures += 1
            self.failed_tasks.add(task_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "failures": self.failures,
            "rate": round(self.failures / self.attempts, 4) if self.attempts else None,
            "tasks": sorted(self.tasks),
            "failed_tasks": sorted(self.failed_tasks),
        }


_SECTIONS = ("per_tool", "per_variant", "per_pattern", "per_failure")


def _section(groups: Mapping[str, _Group]) -> dict[str, Any]:
    return {name: group.to_json() for name, group in sorted(groups.items())}


def _from_history(value: Any, earlier: list[dict[str, Any]], specs: Mapping[str, ToolSpec]) -> str | None:
    """How an earlier turn holds `value`: `earlier_object` when a state-changing call returned it first (made
    it) or, returned by none, took it (the file it created by name); else `carried_value` (looked up or said)."""

    def changes(call: dict[str, Any]) -> bool:
        return call["tool"] in specs and not specs[call["tool"]].read_only

    producer = next((call for call in earlier if value in _telling_values(call["result"])), None)
    if producer is not None:
        return "earlier_object" if changes(producer) else "carried_value"
    takers = [call for call in earlier if value in _telling_values(call["arguments"])]
    if not takers:
        return None
    return "earlier_object" if any(changes(call) for call in takers) else "carried_value"


def _target(turn: TaskTurn) -> str | None:
    return turn.target or (turn.calls[-1]["tool"] if turn.calls else None)


def _telling_values(value: Any) -> list[Any]:
    """The values inside arguments or a result that name something: strings of two or more characters and
    numbers of two or more digits (flags, nulls, `1` and `a` match anything)."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _telling_values(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _telling_values(item)]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, str):
        return [value] if len(value.strip()) >= 2 else []
    return [value] if isinstance(value, (int, float)) and abs(value) >= 10 else []


def _has_parallel_calls(calls: list[dict[str, Any]], specs: Mapping[str, ToolSpec]) -> bool:
    """Whether two calls share a dependency depth: a call runs one step after the latest call it needs (a value
    of its result, or a state it provides); two at one depth need nothing of each other."""
    depths: list[int] = []
    for position, call in enumerate(calls):
        values = _telling_values(call["arguments"])
        needed = set(specs[call["tool"]].requires) if call["tool"] in specs else set()
        needs = [
            before
            for before in range(position)
            if any(value in _telling_values(calls[before]["result"]) for value in values)
            or needed & set(specs[calls[before]["tool"]].provides if calls[before]["tool"] in specs else ())
        ]
        depths.append(1 + max((depths[before] for before in needs), default=-1))
    return len(depths) != len(set(depths))
