"""Run every benchmark and print (and optionally write) the figures: `python bench/run.py [--quick] [--json PATH]`.

Every figure is a ratio of two things measured side by side in the same run, so it
means the same on a noisy machine; BENCHMARKS.md says what each compares.
"""

import argparse
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SECTIONS = ("overhead", "lifecycle", "explorer", "llm", "scale", "evaluation", "ray")
MODULES = {"explorer": "throughput", "ray": "ray_shards"}
"""The module of each section whose name differs; each is imported when its section runs, so the
worker processes a section spawns (which import this script again) import only what they need."""

TARGETS = {
    "overhead_inprocess": ("<=", 1.25),
    "overhead_stdio": ("<=", 1.25),
    "overhead_http": ("<=", 1.25),
    "state_bookkeeping_share": ("<=", 0.10),
    "explore_vs_bare": (">=", 0.8),
    "workers2_speedup": (">=", 1.7),
    "llm_efficiency_c32": (">=", 0.8),
    "export_samples_per_s": (">=", 20_000),
    "export_peak_rss_mb": ("<=", 300),
    "store_bytes_per_sample": ("<=", 8_000),
    "eval_efficiency_c16": (">=", 0.8),
    "fork_vs_create": ("<=", 1.0),
    "ray_workers2_speedup": (">=", 1.7),
    "ray_overhead_per_shard_share": ("<=", 0.05),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Fewer repetitions and 10,000 instead of 100,000 samples.")
    parser.add_argument("--json", type=Path, help="Write every figure to this JSON file.")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="Run only this section (repeatable).")
    args = parser.parse_args()
    started = time.perf_counter()
    report: dict[str, Any] = {"machine": _machine(), "quick": args.quick, "figures": {}, "details": {}}
    with tempfile.TemporaryDirectory(prefix="funreason-bench-") as folder:
        workdir = Path(folder)
        for section in args.only or SECTIONS:
            section_started = time.perf_counter()
            print(f"[{section}] ...", file=sys.stderr, flush=True)
            details = _run_section(section, args.quick, workdir)
            details["seconds"] = time.perf_counter() - section_started
            report["details"][section] = details
            report["figures"].update(_figures(section, details))
            print(f"[{section}] {details['seconds']:.1f} s", file=sys.stderr, flush=True)
    report["seconds"] = time.perf_counter() - started
    report["targets"] = {
        key: {
            "target": f"{op} {bound:g}",
            "value": report["figures"][key],
            "met": _met(report["figures"][key], op, bound),
        }
        for key, (op, bound) in TARGETS.items()
        if key in report["figures"]
    }
    _print(report)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


def _run_section(section: str, quick: bool, workdir: Path) -> dict[str, Any]:
    if section == "ray" and importlib.util.find_spec("ray") is None:
        return {"skipped": "Ray is not installed: pip install -e '.[ray]'"}
    module = importlib.import_module(f"bench.{MODULES.get(section, section)}")
    return module.run(quick) if section in ("overhead", "llm") else module.run(quick, workdir)


def _figures(section: str, details: dict[str, Any]) -> dict[str, Any]:
    """The stable keys, from each section's details."""
    if section == "overhead":
        return {f"overhead_{transport}": details[transport]["ratio"] for transport in ("inprocess", "stdio", "http")}
    if section == "lifecycle":
        return {"state_bookkeeping_share": details["bookkeeping_share_max"]}
    if section == "explorer":
        return {"explore_vs_bare": details["explore_vs_bare"], "workers2_speedup": details["workers2_speedup"]}
    if section == "llm":
        return {"llm_efficiency_c32": details["efficiency_c32"]}
    if section == "evaluation":
        return {"eval_efficiency_c16": details["eval"]["efficiency"], "fork_vs_create": details["fork"]["worst_ratio"]}
    if section == "ray":
        if "skipped" in details:
            return {}
        return {
            "ray_workers2_speedup": details["workers2_speedup"],
            "ray_overhead_per_shard_share": details["ray_overhead_per_shard_share"],
        }
    return {
        "export_samples_per_s": details["export_samples_per_s"],
        "export_peak_rss_mb": details["export_peak_rss_mb"],
        "export_samples": details["samples"],
        "store_bytes_per_sample": details["store_bytes_per_sample"],
        "json_floor_samples_per_s": details["json_floor_samples_per_s"],
    }


def _met(value: float, op: str, bound: float) -> bool:
    return value <= bound if op == "<=" else value >= bound


def _machine() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "mcp": version("mcp"),
        "pydantic": version("pydantic"),
        "openai": version("openai"),
    }


def _print(report: dict[str, Any]) -> None:
    print(f"{'figure':<26} {'value':>12}  target      met")
    for key, row in report["targets"].items():
        value = row["value"]
        shown = f"{value:,.0f}" if value >= 100 else f"{value:.3f}"
        print(f"{key:<26} {shown:>12}  {row['target']:<10}  {'yes' if row['met'] else 'NO'}")
    print(f"total {report['seconds']:.0f} s ({'quick' if report['quick'] else 'full'})")


if __name__ == "__main__":
    main()
