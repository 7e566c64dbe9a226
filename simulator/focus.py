"""Focus: sampling weights from where a model failed (`--focus EVAL.json`), with a share of uniform coverage.

`funreason eval --json EVAL.json` writes a failure profile (evaluation/profile.py); this module reads
that file as plain JSON (the simulator knows nothing of the evaluation package) and turns it into
weights.  The rule:

* a tool's, variant's or dependency pattern's **weight** is its failure rate in the profile (failed
  turn attempts / turn attempts); one the model never failed, or that the profile never saw, weighs 0;
* `share` (`--focus-share`, default 0.7) is the share of sampling decisions the weights make: each
  decision (a trajectory's target tool, the walk's next goal, a dialogue's turn target, a turn's
  variant) is drawn by weight with probability `share`, and made exactly as without a focus otherwise.
  So `share=0.7` keeps 30% uniform coverage, `share=0` is today's data, `share=1` only the failures.
  In expectation a tool's share of targets is `share * weight / total weight + (1 - share) * its
  share without a focus`.  A run over several environments first shares its trajectories out by the
  same rule (`trajectories_per_env`), its uniform part by the environments' tool counts, so that every
  tool keeps the same uniform share wherever it lives; inside an environment the weights then decide
  the part of its decisions that keeps the whole run at `share` (`for_env`).
* below `share` 1 a **coverage floor** holds whatever the weights say: an environment keeps one
  trajectory per tool for every 1,000 of the run's (at most what it has without a focus;
  `trajectories_per_env` takes them from the environments above their floor), so that each of its tools
  keeps 1 turn per 1,000 of the run's on average, whatever the share; and its plan targets every tool once
  before any twice, within the uniform part of the plan (`simulator.sampler.plan_targets`).  The floor
  is in turns, not a walk per tool: a walk per tool would hold about 40% of a 48-per-environment run's
  turns in the environments the model passed, and leave the failed tools no more than 60% of them.
* `run` then runs **coverage rounds** (`synthesizer.pipeline._cover`): walks aimed at the tools the model
  passed that its data calls in fewer than 1 turn per 1,000 (`ExploreConfig.targets`), since a sampled plan
  spreads turns unevenly and the floor holds only on average.
* a focused walk calls a failed tool **again** (`simulator.explorer._next_goal`), with the user's own
  values where the pools hold them all and never the same arguments twice, unless a later call undid what the
  last one changed (`simulator.detours.undone_since`: the doors are locked again once they were unlocked), so
  that its dialogue has several turns of the failed tools, not one each among tools that never failed.

The eval's own tasks are held out: `is_held_out` matches a sample by its id, its trajectory ids and its
requests (case and spacing ignored), and training files leave every match out.
"""

import functools
import hashlib
import json
import math
import random
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from simulator.errors import FocusError

__all__ = ["DEFAULT_FOCUS_SHARE", "Focus", "read_focus"]

DEFAULT_FOCUS_SHARE = 0.7


@dataclass(frozen=True)
class Focus:
    """Weights (failure rates) by tool, variant and pattern; the share they decide; what is held out."""

    source: str
    """sha256 of the eval file the weights come from."""
    share: float = DEFAULT_FOCUS_SHARE
    tools: dict[str, float] = field(default_factory=dict)
    variants: dict[str, float] = field(default_factory=dict)
    patterns: dict[str, float] = field(default_factory=dict)
    held_out_ids: tuple[str, ...] = ()
    """The eval's task ids and their trajectory ids (a task id is `trajectory id:synthesis key`)."""
    held_out_queries: tuple[str, ...] = ()
    """Requests of the eval's tasks, normalized (`_normal`)."""
    in_env: float | None = None
    """Set by `for_env`: the share of one environment's tool decisions the weights make."""

    @property
    def tool_share(self) -> float:
        """The share of tool decisions (targets, goals, turn targets) the weights make here."""
        return self.share if self.in_env is None else self.in_env

    def identity(self) -> dict[str, Any]:
        """What a run's identity and a sample's provenance record of the focus (file hash, share, weights)."""
        return {
            "file_sha256": self.source,
            "share": self.share,
            "tools": self.tools,
            "variants": self.variants,
            "patterns": self.patterns,
        } | ({"share_in_env": self.in_env} if self.in_env is not None else {})

    def for_env(self, tools_by_env: Mapping[str, Sequence[str]], env: str) -> "Focus":
        """The focus for one environment of a run over `tools_by_env`, whose trajectories `trajectories_per_env`
        shares out: there the weights decide `in_env` of the tool decisions, so that over the whole run they
        decide `share` of them (an environment's trajectories are `share * its weight / all weight + (1 - share)
        * its tools / all tools` of the run's, and the first term is the weights' part).  Unchanged when nothing
        weighs."""
        weights = {name: sum(self.tools.get(tool, 0.0) for tool in tools) for name, tools in tools_by_env.items()}
        total = sum(weights.values())
        if total <= 0:
            return self
        sizes = {name: max(1, len(tools)) for name, tools in tools_by_env.items()}
        focused = self.share * weights[env] / total
        uniform = (1 - self.share) * sizes[env] / sum(sizes.values())
        return replace(self, in_env=round(focused / (focused + uniform), 6))

    def pick(
        self, candidates: Sequence[Hashable], rng: random.Random, weights: Mapping[Any, float] | None = None
    ) -> Any:
        """With probability `share`, one of `candidates` drawn by weight (tools' by default); else None (the
        caller decides as without a focus).  None too when no candidate weighs anything: no draw is wasted."""
        weights = self.tools if weights is None else weights
        weighted = [(candidate, weights.get(candidate, 0.0)) for candidate in candidates]
        weighted = [(candidate, weight) for candidate, weight in weighted if weight > 0]
        if not weighted or rng.random() >= self.tool_share:
            return None
        return rng.choices([c for c, _ in weighted], weights=[w for _, w in weighted])[0]

    def mixed(self, base: Mapping[str, float], weights: Mapping[str, float] | None = None) -> dict[str, float]:
        """`base` (shares without a focus, any scale) mixed with the weights: `share` of the mass by weight
        (`tool_share` for the tools' weights, the default), the rest as `base`; `base` unchanged when no key of
        it weighs anything."""
        share = self.tool_share if weights is None else self.share
        weights = self.tools if weights is None else weights
        focused = {key: weights.get(key, 0.0) for key in base}
        total_focus, total_base = sum(focused.values()), sum(base.values())
        if total_focus <= 0 or total_base <= 0:
            return dict(base)
        return {
            key: (1 - share) * value / total_base + share * focused[key] / total_focus for key, value in base.items()
        }

    def is_held_out(self, sample_id: str, trajectory_ids: Sequence[str], queries: Sequence[str]) -> bool:
        """Whether a sample is one of the eval's tasks: the same id, trajectory or any same request."""
        ids, texts = self._held_out
        if sample_id in ids or any(trajectory_id in ids for trajectory_id in trajectory_ids):
            return True
        return any(_normal(query) in texts for query in queries)

    def trajectories_per_env(self, per_env: int, tools_by_env: Mapping[str, Sequence[str]]) -> dict[str, int]:
        """`per_env` trajectories for each environment, shared out again: `share` of them by the weight of each
        environment's tools, the rest by its number of tools, as a uniform draw over all tools would (largest
        remainders, ties in name order); the total stays.  Below `share` 1 an environment keeps its coverage
        floor, one trajectory per tool for every 1,000 of the run's (at most `per_env`, what it has without a
        focus): its tools' turns are then 1 per 1,000 of the run's each, on average; what that takes comes from
        the environments above their floor, in proportion to what they have above it.  At share 0.7 the
        floor binds only over 300 tools (the uniform part gives each tool 0.3 / tools of the walks)."""
        envs = sorted(tools_by_env)
        base = {env: float(max(1, len(tools_by_env[env]))) for env in envs}
        weights = {env: sum(self.tools.get(tool, 0.0) for tool in tools_by_env[env]) for env in envs}
        shares = self.mixed(base, weights)
        total = per_env * len(envs)
        exact = {env: total * shares[env] / sum(shares.values()) for env in envs}
        floor = {
            env: min(per_env, math.ceil(len(tools_by_env[env]) * total / 1000)) if self.share < 1 else 0 for env in envs
        }
        short = sum(max(0.0, floor[env] - exact[env]) for env in envs)
        above = {env: max(0.0, exact[env] - floor[env]) for env in envs}
        if short > 0:
            exact = {env: max(floor[env], exact[env] - short * above[env] / sum(above.values())) for env in envs}
        counts = {env: int(exact[env]) for env in envs}
        by_remainder = sorted(envs, key=lambda env: (counts[env] - exact[env], env))
        for env in by_remainder[: total - sum(counts.values())]:
            counts[env] += 1
        return counts

    @functools.cached_property
    def _held_out(self) -> tuple[frozenset[str], frozenset[str]]:
        return frozenset(self.held_out_ids), frozenset(self.held_out_queries)


def read_focus(path: Path, share: float = DEFAULT_FOCUS_SHARE) -> Focus:
    """The focus of an eval file (`funreason eval --json`); a file that is not one is one line naming it."""
    if not 0 <= share <= 1:
        raise FocusError(f"--focus-share must be between 0 and 1, got {share}")
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise FocusError(f"{path}: cannot read: {error.strerror}") from error
    try:
        profile = json.loads(raw)["profile"]
        held_out = profile["held_out"]
        weights = {section: _rates(profile[f"per_{section}"]) for section in ("tool", "variant", "pattern")}
        ids = {task_id for task_id in held_out} | {task_id.split(":")[0] for task_id in held_out}
        queries = {_normal(query) for task in held_out.values() for query in task["queries"]}
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        problem = f"not an eval file with a failure profile (funreason eval --json): {error!r}"
        raise FocusError(f"{path}: {problem}") from error
    return Focus(
        source=hashlib.sha256(raw).hexdigest(),
        share=share,
        tools=weights["tool"],
        variants=weights["variant"],
        patterns=weights["pattern"],
        held_out_ids=tuple(sorted(ids)),
        held_out_queries=tuple(sorted(queries)),
    )


def _rates(groups: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
    """name -> failure rate, for the names with any failure, in name order."""
    return {name: float(group["rate"]) for name, group in sorted(groups.items()) if group["failures"]}


def _normal(text: str) -> str:
    return " ".join(str(text).lower().split())
