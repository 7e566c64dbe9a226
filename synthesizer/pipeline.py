"""`funreason run`: explore the built-in environments in-process, synthesize, export every format, report.

Every stage resumes, so running the same command again finishes what a killed
run left and then rewrites the exports and the report from the store.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from servers import environment_names, get_environment
from simulator import ExploreConfig, ServerTarget, Store, explore
from simulator.focus import Focus
from synthesizer.export import FORMATS, export_samples
from synthesizer.focus import is_held_out
from synthesizer.plan import Variants
from synthesizer.report import write_report
from synthesizer.roles import Backend
from synthesizer.samples import SampleStore
from synthesizer.synthesize import SynthesisConfig, synthesize

__all__ = ["RunConfig", "run_pipeline"]

Stage = Callable[[str], Callable[..., None]]
"""Opens a progress line for a stage and returns its `(done, total[, note])` callback."""


@dataclass(frozen=True)
class RunConfig:
    out: Path = Path("funreason-out")
    envs: tuple[str, ...] = field(default_factory=lambda: tuple(environment_names()))
    trajectories: int = 48
    """Per environment."""
    samples: int | None = None
    seed: int = 0
    max_steps: int = 32
    after_target_steps: int = 26
    turns: tuple[int, int] = (2, 5)
    max_attempts: int = 3
    variants: Variants = field(default_factory=Variants)
    concurrency: int = 1
    focus: Focus | None = None
    """`--focus EVAL.json`: trajectories shared out over the environments, targets, patterns and variants
    weighted by where the model failed (`simulator.focus`), the eval's tasks left out of every file."""

    @property
    def store_path(self) -> Path:
        return self.out / "store.db"

    @property
    def explore_config(self) -> ExploreConfig:
        """What each environment's exploration runs with (`trajectories_per_env` says how many, with a focus)."""
        return ExploreConfig(
            trajectories=self.trajectories,
            seed=self.seed,
            max_steps=self.max_steps,
            after_target_steps=self.after_target_steps,
            focus=self.focus,
        )

    def explore_configs(self) -> dict[str, ExploreConfig]:
        """Each environment's exploration: `explore_config`, or with a focus the same total of trajectories
        shared out by `Focus.trajectories_per_env`, each with its environment's `Focus.for_env`."""
        if self.focus is None:
            return dict.fromkeys(self.envs, self.explore_config)
        tools = {env: list(get_environment(env).tool_specs()) for env in self.envs}
        counts = self.focus.trajectories_per_env(self.trajectories, tools)
        return {
            env: replace(self.explore_config, trajectories=count, focus=self.focus.for_env(tools, env))
            for env, count in counts.items()
        }

    @property
    def synthesis_config(self) -> SynthesisConfig:
        return SynthesisConfig(
            samples=self.samples,
            turns=self.turns,
            max_attempts=self.max_attempts,
            seed=self.seed,
            variants=self.variants,
            concurrency=self.concurrency,
            focus=self.focus,
        )


def run_pipeline(config: RunConfig, backend: Backend, stage: Stage) -> dict[str, Any]:
    """Explore -> synthesize -> export (all formats) -> report; the report's figures and `pending`."""
    config.out.mkdir(parents=True, exist_ok=True)
    for env, explore_config in config.explore_configs().items():
        explore(ServerTarget(envs=(env,)), config.store_path, explore_config, stage(f"explore {env}"))
    counts = synthesize(config.store_path, config.synthesis_config, backend, stage("synthesize"))
    report = stage("export")
    with Store(config.store_path) as store:
        samples = SampleStore(store)
        for number, fmt in enumerate(FORMATS, 1):
            kept = (sample for sample in samples.iter_samples() if not is_held_out(config.focus, sample))
            export_samples(kept, fmt, config.out / f"{fmt}.jsonl")
            report(number, len(FORMATS))
    done = stage("report")
    figures = write_report(config.store_path, config.out, config.focus)
    done(1, 1)
    return figures | {"pending": counts["pending"]}
