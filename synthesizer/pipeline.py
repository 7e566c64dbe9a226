"""`funreason run`: explore the built-in environments in-process, synthesize, export every format, report.

Every stage resumes, so running the same command again finishes what a killed
run left and then rewrites the exports and the report from the store.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servers import environment_names
from simulator import ExploreConfig, ServerTarget, Store, explore
from simulator.bfcl import explore_bfcl, is_bfcl
from synthesizer.decontaminate import decontaminate_store, record_in_dataset_info
from synthesizer.export import FORMATS, export_samples
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
    turns: tuple[int, int] = (3, 6)
    max_attempts: int = 3
    variants: Variants = field(default_factory=Variants)
    concurrency: int = 1

    @property
    def store_path(self) -> Path:
        return self.out / "store.db"

    @property
    def explore_config(self) -> ExploreConfig:
        """What each environment's exploration runs with."""
        return ExploreConfig(
            trajectories=self.trajectories,
            seed=self.seed,
            max_steps=self.max_steps,
            after_target_steps=self.after_target_steps,
        )

    @property
    def synthesis_config(self) -> SynthesisConfig:
        return SynthesisConfig(
            samples=self.samples,
            turns=self.turns,
            max_attempts=self.max_attempts,
            seed=self.seed,
            variants=self.variants,
            concurrency=self.concurrency,
        )


def run_pipeline(config: RunConfig, backend: Backend, stage: Stage) -> dict[str, Any]:
    """Explore -> synthesize -> export (all formats) -> report; the report's figures and `pending`."""
    config.out.mkdir(parents=True, exist_ok=True)
    bfcl = tuple(env for env in config.envs if is_bfcl([env]))
    for env in config.envs:
        if env not in bfcl:
            explore(ServerTarget(envs=(env,)), config.store_path, config.explore_config, stage(f"explore {env}"))
    if bfcl:  # BFCL's classes start in the initial configs of BFCL's entries, combined as BFCL combines them
        explore_bfcl(bfcl, config.store_path, config.explore_config, stage("explore BFCL entries"))
    counts = synthesize(config.store_path, config.synthesis_config, backend, stage("synthesize"))
    decontamination = None
    with Store(config.store_path) as store:
        samples = SampleStore(store)
        if bfcl:  # data made in BFCL's classes must not hold BFCL's questions
            decontamination = decontaminate_store(samples)
        report = stage("export")
        for number, fmt in enumerate(FORMATS, 1):
            export_samples(samples.iter_samples(), fmt, config.out / f"{fmt}.jsonl")
            report(number, len(FORMATS))
    if decontamination is not None:
        record_in_dataset_info(config.out / "dataset_info.json", decontamination)
    done = stage("report")
    figures = write_report(config.store_path, config.out, decontamination=decontamination)
    done(1, 1)
    return figures | {"pending": counts["pending"]}
