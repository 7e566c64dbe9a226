"""`funreason run`: explore the built-in environments in-process, synthesize, export every format, report.

Every stage resumes, so running the same command again finishes what a killed
run left and then rewrites the exports and the report from the store.  With
`samples`, exploration grows in rounds until that many samples are verified (or
the bound is met): the same trajectories come out whatever the number of rounds,
since trajectory `i` depends only on the seed, `i` and the frozen graph.
"""

import math
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from servers import environment_names, get_environment, scenario_names
from servers.worlds import generated_names, world_environments
from simulator import ExploreConfig, ServerTarget, Store, explore
from simulator.bfcl import explore_bfcl, is_bfcl
from simulator.focus import Focus
from synthesizer.decontaminate import decontaminate_store, record_in_dataset_info
from synthesizer.errors import SynthesizerError
from synthesizer.export import FORMATS, export_samples
from synthesizer.focus import coverage_shortfall, is_held_out
from synthesizer.offline import OfflineBackend
from synthesizer.plan import Variants
from synthesizer.report import write_report
from synthesizer.roles import Backend
from synthesizer.samples import SampleStore, run_of
from synthesizer.synthesize import SynthesisConfig, drop_near_duplicates, synthesize

__all__ = ["SCENARIO_SOURCES", "RunConfig", "run_pipeline"]

Stage = Callable[[str], Callable[..., None]]
"""Opens a progress line for a stage and returns its `(done, total[, note])` callback."""

SCENARIO_SOURCES = ("shipped", "generated", "both")
"""Where `run` takes its worlds from: the scenarios under fixtures/, the generators, or both."""

YIELD_GUESS = 0.9
"""Verified samples per trajectory assumed when sizing the first round of a `samples` run."""

TRAJECTORY_BOUND = 3
"""A `samples` run explores at most this many trajectories per wanted sample, then stops short and says so."""

TRAJECTORIES_PER_WORLD = 8
"""One generated world per this many trajectories of an environment, between `WORLDS` bounds."""

WORLDS = (24, 256)

COVERAGE_ROUNDS = 3
"""At most this many coverage rounds after a focused run (`_cover`)."""


@dataclass(frozen=True)
class RunConfig:
    out: Path = Path("funreason-out")
    envs: tuple[str, ...] = field(default_factory=lambda: tuple(environment_names()))
    trajectories: int = 48
    """Per environment; with `samples`, the least each explores."""
    samples: int | None = None
    """Verified samples to reach, exploring as much as that takes (within `TRAJECTORY_BOUND`)."""
    seed: int = 0
    max_steps: int = 32
    after_target_steps: int = 26
    turns: tuple[int, int] = (3, 6)
    max_attempts: int = 3
    variants: Variants = field(default_factory=Variants)
    concurrency: int = 1
    scenarios: str = "both"
    """One of `SCENARIO_SOURCES`."""
    workers: int = 1
    """Processes that explore each environment, and that synthesize offline (the same data with any number)."""
    focus: Focus | None = None
    """`--focus EVAL.json`: trajectories shared out over the environments, targets, patterns and variants
    weighted by where the model failed (`simulator.focus`), the eval's tasks left out of every file."""

    @property
    def store_path(self) -> Path:
        return self.out / "store.db"

    @property
    def first_round(self) -> int:
        """Trajectories per environment in the first round."""
        if self.samples is None:
            return self.trajectories
        return max(self.trajectories, math.ceil(self.samples / len(self.envs) / YIELD_GUESS))

    def worlds(self, env: str) -> tuple[str, ...]:
        """The scenarios `env`'s trajectories are spread over; fixed for a run (its id depends on them)."""
        if is_bfcl([env]):  # BFCL's entries bring their own initial configs (simulator.bfcl)
            return ()
        shipped = tuple(scenario_names(env)) if self.scenarios != "generated" else ()
        count = min(max(self.first_round // TRAJECTORIES_PER_WORLD, WORLDS[0]), WORLDS[1])
        generated = tuple(generated_names(count, self.seed)) if self.scenarios != "shipped" else ()
        return shipped + (generated if env in world_environments() else ())

    def explore_config(self, env: str, trajectories: int | None = None) -> ExploreConfig:
        """What `env`'s exploration runs with (`trajectories` in place of the first round's count)."""
        return ExploreConfig(
            trajectories=trajectories or self.first_round,
            seed=self.seed,
            max_steps=self.max_steps,
            after_target_steps=self.after_target_steps,
            workers=self.workers,
            worlds=self.worlds(env),
            focus=self.focus,
        )

    def explore_configs(self, trajectories: int | None = None) -> dict[str, ExploreConfig]:
        """Each environment's exploration: `explore_config`, or with a focus the same total of trajectories
        shared out by `Focus.trajectories_per_env`, each with its environment's `Focus.for_env`."""
        per_env = trajectories or self.first_round
        if self.focus is None:
            return {env: self.explore_config(env, per_env) for env in self.envs}
        tools = {env: list(get_environment(env).tool_specs()) for env in self.envs}
        counts = self.focus.trajectories_per_env(per_env, tools)
        return {
            env: replace(self.explore_config(env, count), focus=self.focus.for_env(tools, env))
            for env, count in counts.items()
        }

    @property
    def synthesis_config(self) -> SynthesisConfig:
        return SynthesisConfig(
            turns=self.turns,
            max_attempts=self.max_attempts,
            seed=self.seed,
            variants=self.variants,
            concurrency=self.concurrency,
            focus=self.focus,
        )


def _synthesize(config: RunConfig, backend: Backend, progress: Callable[..., None]) -> dict[str, int]:
    """Every explored trajectory that has no sample or reject yet, in `workers` processes when the rules
    write the samples (a model's requests run concurrently in one): process k takes the trajectories whose
    index is k modulo `workers`, and each sample depends only on its trajectory, so any number of processes
    gives the same samples.  The near-duplicate pass looks across them all, once, at the end."""
    if config.workers <= 1 or not isinstance(backend, OfflineBackend):
        return synthesize(config.store_path, config.synthesis_config, backend, progress)
    context = multiprocessing.get_context("spawn")
    parts = [replace(config.synthesis_config, part=(k, config.workers)) for k in range(config.workers)]
    workers = [context.Process(target=_synthesize_part, args=(config.store_path, part)) for part in parts[1:]]
    for worker in workers:
        worker.start()

    def shown(done: int, total: int, note: str = "") -> None:  # this process's share, its yield a sample of all
        progress(done, total, f"{note}; process 1 of {config.workers}" if note else note)

    try:
        counts = synthesize(config.store_path, parts[0], backend, shown, near_duplicates=False)
    finally:
        for worker in workers:
            worker.join()
    failed = [worker.exitcode for worker in workers if worker.exitcode != 0]
    if failed:
        raise SynthesizerError(f"{len(failed)} synthesis worker(s) failed (exit codes {failed}); re-run to resume")
    with Store(config.store_path) as store:
        samples = SampleStore(store)
        drop_near_duplicates(samples, config.synthesis_config.shortest_cut)
        return samples.counts() | {"pending": counts["pending"]}


def _synthesize_part(store_path: Path, config: SynthesisConfig) -> None:
    synthesize(store_path, config, OfflineBackend(), near_duplicates=False)


def _cover(
    config: RunConfig,
    backend: Backend,
    stage: Stage,
    explore_configs: dict[str, ExploreConfig],
    runs: set[str],
) -> dict[str, int] | None:
    """Coverage rounds of a focused run: walks aimed at the tools the model passed that the run's data calls in
    fewer than 1 turn per 1,000 (`coverage_shortfall`), up to `COVERAGE_ROUNDS` times; a later round leaves out
    the tools still without a turn that no walk of an earlier round got to call.  A walk's target gets a turn of
    its dialogue (`plan_dialogue`'s `target_turn`); the rest of it is weighted as its environment's other walks
    are, so that where the model failed, its other turns are of the failed tools.  Each round's targets come from
    the samples of the runs before it and are recorded with its runs, where a re-run finds them again.  Returns
    the last synthesis's counts (None: no round was needed)."""
    tools = {env: list(get_environment(env).tool_specs()) for env in explore_configs}
    counts = None
    for number in range(1, COVERAGE_ROUNDS + 1):
        with Store(config.store_path) as store:
            explored = store.runs("explore")
            recorded = {
                target: tuple(settings["targets"])
                for target, settings in explored.values()
                if settings.get("coverage_round") == number
            }
            stored = SampleStore(store).iter_samples()
            samples = (sample for sample in stored if run_of(sample.trajectory_ids[0]) in runs)
            earlier = [run for run, (_, settings) in explored.items() if 0 < settings.get("coverage_round", 0) < number]
            shortfall = coverage_shortfall(samples, config.focus, tools, _unreached(store, earlier), number)
        planned = recorded or {env: tuple(targets) for env, targets in shortfall.items()}
        if not planned:
            break
        for env, targets in sorted(planned.items()):
            explore_config = replace(
                explore_configs[env], trajectories=len(targets), targets=targets, coverage_round=number
            )
            runs.add(explore(ServerTarget(envs=(env,)), config.store_path, explore_config, stage(f"cover {env}")))
        counts = _synthesize(config, backend, stage("synthesize"))
    return counts


def _unreached(store: Store, runs: list[str]) -> set[str]:
    """The targets of these coverage runs that none of their walks got to call."""
    aimed: dict[str, bool] = {}
    for run in runs:
        for walk in store.iter_trajectories(run):
            aimed[walk.target or ""] = aimed.get(walk.target or "", False) or walk.reached
    return {target for target, reached in aimed.items() if not reached}


def run_pipeline(config: RunConfig, backend: Backend, stage: Stage) -> dict[str, Any]:
    """Explore -> synthesize (in rounds, for `samples`) -> export (all formats) -> report.

    Returns the report's figures, `pending`, and `short` (verified samples a `samples` run
    still lacked when it met its bound; 0 when it got there).
    """
    config.out.mkdir(parents=True, exist_ok=True)
    bfcl = tuple(env for env in config.envs if is_bfcl([env]))
    per_env = config.first_round
    bound = math.ceil((config.samples or 0) * TRAJECTORY_BOUND / len(config.envs))
    while True:
        explored = {
            env: explore(ServerTarget(envs=(env,)), config.store_path, explore_config, stage(f"explore {env}"))
            for env, explore_config in config.explore_configs(per_env).items()
            if env not in bfcl
        }
        if bfcl:  # BFCL's classes start in the initial configs of BFCL's entries, combined as BFCL combines them
            explore_bfcl(
                bfcl, config.store_path, config.explore_config(bfcl[0], per_env), stage("explore BFCL entries")
            )
        counts = _synthesize(config, backend, stage("synthesize"))
        if config.samples is None or counts["verified"] >= config.samples or counts["pending"] or per_env >= bound:
            break
        verified = max(counts["verified"], 1)
        per_env = min(bound, math.ceil(per_env * config.samples / verified * 1.05) + 1)
    if config.focus is not None and config.focus.tools and config.focus.share < 1:
        counts = _cover(config, backend, stage, config.explore_configs(per_env), set(explored.values())) or counts
    decontamination = None
    with Store(config.store_path) as store:
        samples = SampleStore(store)
        if bfcl:  # data made in BFCL's classes must not hold BFCL's questions
            decontamination = decontaminate_store(samples)
        report = stage("export")
        for number, fmt in enumerate(FORMATS, 1):
            kept = (sample for sample in samples.iter_samples() if not is_held_out(config.focus, sample))
            export_samples(kept, fmt, config.out / f"{fmt}.jsonl")
            report(number, len(FORMATS))
    if decontamination is not None:
        record_in_dataset_info(config.out / "dataset_info.json", decontamination)
    done = stage("report")
    figures = write_report(config.store_path, config.out, config.focus, decontamination=decontamination)
    done(1, 1)
    short = max(0, (config.samples or 0) - counts["verified"])
    return figures | {"pending": counts["pending"], "short": short}
