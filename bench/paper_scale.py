"""Paper scale: `funreason run --samples N --workers W` on the built-in environments, measured.

CPU seconds (this process and its worker processes) say what the run costs on a shared machine,
where wall time says mostly how busy the machine was.

    python bench/paper_scale.py --samples 1500 --workers 2 --out /tmp/scale [--json figures.json]

Reports the machine's load average at the start and the end, wall time per stage, peak RSS (the driver
during the run and by stage, this process at the end, its worker processes), verified samples,
trajectories, the verified yield, rejection reasons (grouped), distinct initial worlds per environment,
and `funreason quality`'s near-duplicate and distinct-frame figures on the export.
"""

import argparse
import collections
import json
import os
import re
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator import Store  # noqa: E402
from synthesizer.offline import OfflineBackend  # noqa: E402
from synthesizer.pipeline import RunConfig, run_pipeline  # noqa: E402
from synthesizer.quality import measure_quality, read_records  # noqa: E402
from synthesizer.samples import SampleStore  # noqa: E402

__all__ = ["measure"]


def measure(out: Path, samples: int, workers: int, seed: int = 0, scenarios: str = "both") -> dict[str, Any]:
    stages: dict[str, float] = collections.defaultdict(float)
    notes: dict[str, str] = {}
    peaks = _StagePeaks()

    def stage(name: str):
        started = time.perf_counter()
        peaks.current = name.split()[0]

        def report(done: int, total: int, note: str = "") -> None:
            stages[name.split()[0]] += time.perf_counter() - report.last
            report.last = time.perf_counter()
            if note:
                notes[name] = note

        report.last = started
        return report

    config = RunConfig(out=out, samples=samples, workers=workers, seed=seed, scenarios=scenarios)
    load_before = os.getloadavg()
    started = time.perf_counter()
    with peaks:
        figures = run_pipeline(config, OfflineBackend(), stage)
    wall = time.perf_counter() - started
    driver_peak = _vm_kb("VmHWM") / 1024  # before the figures below are measured in this process
    quality = measure_quality(read_records(out / "openai.jsonl"))["figures"]
    with Store(config.store_path) as store:
        worlds = collections.defaultdict(set)
        for env, scenario in store.db.execute("SELECT env, scenario FROM trajectories"):
            worlds[env].add(scenario)
        reasons = collections.Counter(_grouped(reject.reason) for reject in SampleStore(store).iter_rejects())
    totals = figures["totals"]
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(u.ru_utime + u.ru_stime for u in usage)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "samples_wanted": samples,
        "workers": workers,
        "wall_s": round(wall, 1),
        "load_average": {"start": [round(x, 2) for x in load_before], "end": [round(x, 2) for x in os.getloadavg()]},
        "stage_s": {name: round(seconds, 1) for name, seconds in stages.items()},
        "cpu_s": round(cpu, 1),
        "cpu_s_per_verified": round(cpu / max(figures["totals"]["verified"], 1), 4),
        "peak_rss_mb": round(own, 1),
        "peak_rss_driver_mb": round(driver_peak, 1),
        "peak_rss_by_stage_mb": {name: round(kb / 1024, 1) for name, kb in peaks.by_stage.items()},
        "peak_rss_worker_mb": round(children, 1),
        "verified": totals["verified"],
        "trajectories": totals["trajectories"],
        "yield": round(totals["verified"] / totals["trajectories"], 3),
        "short": figures["short"],
        "near_duplicate_share": quality["near_duplicate_queries"]["share"],
        "distinct_frame_share": quality["distinct_query_frames"]["share"],
        "worlds_per_env": {env: len(names) for env, names in sorted(worlds.items())},
        "reject_reasons": dict(reasons.most_common(25)),
        "synthesis_note": notes.get("synthesize", ""),
    }


class _StagePeaks:
    """The driver's largest resident set seen during each stage, sampled from /proc/self/status (Linux)."""

    def __init__(self, every: float = 0.2) -> None:
        self.current = "start"
        self.by_stage: dict[str, int] = {}
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "_StagePeaks":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self._every):
            stage = self.current
            self.by_stage[stage] = max(self.by_stage.get(stage, 0), _vm_kb("VmRSS"))


def _vm_kb(field: str) -> int:
    """A field of /proc/self/status in kB (0 where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _grouped(reason: str) -> str:
    """A reason with its values masked, so rejections of one kind count together."""
    reason = re.sub(r"\(Error executing tool [^:]*: ", "(", reason)
    reason = re.sub(r"'[^']*'|\"[^\"]*\"", "…", reason)
    return re.sub(r"\d+(\.\d+)?", "N", reason)[:120]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenarios", default="both")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures = measure(args.out, args.samples, args.workers, args.seed, args.scenarios)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
