"""The run report: the numbers a user checks, as report.json, report.md and a self-contained report.html."""

import base64
import html
import json
from collections import Counter
from pathlib import Path
from typing import Any

from simulator import Store, export_graph, graph_from_json
from synthesizer.browser import browser_section, reason_kind, store_views
from synthesizer.quality import figure_value, measure_quality
from synthesizer.samples import Sample, SampleStore

__all__ = ["collect_figures", "write_report"]


def collect_figures(store_path: Path) -> dict[str, Any]:
    """Every figure in the report, straight from the store."""
    with Store(store_path) as store:
        samples = SampleStore(store)
        per_env: dict[str, dict[str, Any]] = {}
        for run_id, target in store.db.execute("SELECT id, target FROM runs WHERE kind = 'explore' ORDER BY id"):
            graph = store.load_graph(run_id, "frozen") or {"nodes": [], "edges": []}
            row = store.db.execute(
                """SELECT count(DISTINCT t.id), count(s.idx), coalesce(sum(s.is_error), 0)
                   FROM trajectories t LEFT JOIN steps s ON s.trajectory_id = t.id WHERE t.run_id = ?""",
                [run_id],
            ).fetchone()
            reached = store.db.execute("SELECT sum(reached) FROM trajectories WHERE run_id = ?", [run_id]).fetchone()
            tools = {
                tool
                for (tool,) in store.db.execute(
                    "SELECT DISTINCT s.tool FROM steps s JOIN trajectories t ON t.id = s.trajectory_id "
                    "WHERE t.run_id = ? AND NOT s.is_error",
                    [run_id],
                )
            }
            edges = store.covered_edges(run_id)
            per_env[target] = {
                "run_id": run_id,
                "trajectories": row[0],
                "reached": int(reached[0] or 0),
                "steps": row[1],
                "error_steps": row[2],
                "error_rate": round(row[2] / row[1], 4) if row[1] else 0.0,
                "tools_covered": len(tools),
                "tools_total": len(graph["nodes"]),
                "edges_covered": len(edges),
                "edges_total": len(graph["edges"]),
            }
        turns, calls, envs, variants = Counter(), Counter(), Counter(), Counter()
        for sample in samples.iter_samples():
            turns[len(sample.turns)] += 1
            calls[sample.n_calls] += 1
            envs[sample.env] += 1
            variants.update(turn["variant"] for turn in sample.turns)
        reasons = Counter(reason_kind(reject.reason) for reject in samples.iter_rejects())
        rejected_by_env = Counter(
            env
            for (env,) in store.db.execute("SELECT t.env FROM rejects r JOIN trajectories t ON t.id = r.trajectory_id")
        )
        for env, figures in per_env.items():
            figures["samples"] = envs.get(env, 0)
            figures["rejected"] = rejected_by_env.get(env, 0)
        return {
            "totals": store.stats() | samples.counts(),
            "environments": per_env,
            "turns_per_sample": dict(sorted(turns.items())),
            "calls_per_sample": dict(sorted(calls.items())),
            "variants": dict(sorted(variants.items())),
            "reject_reasons": dict(reasons.most_common()),
            "quality": measure_quality(_quality_record(sample) for sample in samples.iter_samples()),
        }


def write_report(store_path: Path, out: Path) -> dict[str, Any]:
    """Write report.json, report.md, report.html and the figures under `out`; returns the figures."""
    figures = collect_figures(store_path)
    pictures = out / "figures"
    pictures.mkdir(parents=True, exist_ok=True)
    images = _draw(store_path, figures, pictures)
    (out / "report.json").write_text(json.dumps(figures, indent=2))
    (out / "report.md").write_text(_markdown(figures, {name: path.relative_to(out) for name, path in images.items()}))
    browser = browser_section(store_views(store_path), "Samples", "verified samples and rejects of this run")
    (out / "report.html").write_text(_html(figures, images, browser))
    return figures


def _quality_record(sample: Sample) -> dict[str, Any]:
    """A stored sample as `funreason quality` reads an export, with what only the store knows: the reasoning
    (kept on the messages) and each turn's query, variant and target."""
    return {
        "messages": sample.messages,
        "tools": sample.tools,
        "extra_tools": sample.extra_tools,
        "metadata": {**sample.provenance(), "turns": sample.turns},
    }


def _draw(store_path: Path, figures: dict[str, Any], folder: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images: dict[str, Path] = {}
    with Store(store_path) as store:
        for env, data in figures["environments"].items():
            graph = store.load_graph(data["run_id"], "frozen")
            if graph:
                path = folder / f"graph-{env.replace('+', '_').replace(':', '_').replace('/', '_')}.png"
                export_graph(graph_from_json(graph), path)
                images[f"Environment-API graph: {env}"] = path
        lengths = [n for (n,) in store.db.execute("SELECT n_steps FROM trajectories")]
    envs = list(figures["environments"])
    if envs:
        figure, axes = plt.subplots(figsize=(9, 4))
        tools = [d["tools_covered"] / max(d["tools_total"], 1) for d in figures["environments"].values()]
        edges = [d["edges_covered"] / max(d["edges_total"], 1) for d in figures["environments"].values()]
        positions = range(len(envs))
        axes.bar([p - 0.2 for p in positions], tools, width=0.4, label="tools covered")
        axes.bar([p + 0.2 for p in positions], edges, width=0.4, label="edges covered")
        axes.set_xticks(list(positions), envs, rotation=30, ha="right")
        axes.set_ylim(0, 1.05)
        axes.set_ylabel("share of the graph")
        axes.legend()
        axes.set_title("Coverage per environment")
        images["Coverage per environment"] = _save(figure, folder / "coverage.png")
    histograms = {
        "Steps per trajectory": lengths,
        "Turns per sample": _expand(figures["turns_per_sample"]),
        "Calls per sample": _expand(figures["calls_per_sample"]),
    }
    for title, values in histograms.items():
        if values:
            figure, axes = plt.subplots(figsize=(6, 3.5))
            axes.hist(values, bins=range(min(values), max(values) + 2), align="left", rwidth=0.85)
            axes.set_title(title)
            axes.set_ylabel("count")
            images[title] = _save(figure, folder / f"{title.lower().replace(' ', '-')}.png")
    return images


def _save(figure: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _expand(histogram: dict[Any, int]) -> list[int]:
    return [int(value) for value, count in histogram.items() for _ in range(count)]


def _tables(figures: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    totals = figures["totals"]
    env_rows = [
        [
            env,
            d["trajectories"],
            d["reached"],
            d["steps"],
            f"{d['error_rate']:.1%}",
            f"{d['tools_covered']}/{d['tools_total']}",
            f"{d['edges_covered']}/{d['edges_total']}",
            d["samples"],
            d["rejected"],
        ]
        for env, d in figures["environments"].items()
    ]
    return [
        ("Totals", ["figure", "value"], [[key, value] for key, value in totals.items()]),
        (
            "Per environment",
            [
                "environment",
                "trajectories",
                "reached target",
                "steps",
                "error rate",
                "tools",
                "edges",
                "samples",
                "rejected",
            ],
            env_rows,
        ),
        ("Turns per sample", ["turns", "samples"], [[k, v] for k, v in figures["turns_per_sample"].items()]),
        ("Calls per sample", ["calls", "samples"], [[k, v] for k, v in figures["calls_per_sample"].items()]),
        ("Turn variants", ["variant", "turns"], [[k, v] for k, v in figures["variants"].items()]),
        ("Reject reasons", ["reason", "rejects"], [[k, v] for k, v in figures["reject_reasons"].items()]),
        (
            "Data quality (funreason quality)",
            ["figure", "value", "goal", "met"],
            [
                [f["what"], figure_value(f), f["goal"], "yes" if f["ok"] else "no"]
                for f in figures["quality"]["figures"].values()
            ],
        ),
        (
            "Data quality: examples of missed goals",
            ["figure", "example"],
            [
                [key, example]
                for key, f in figures["quality"]["figures"].items()
                if not f["ok"]
                for example in f["examples"][:3]
            ],
        ),
    ]


def _markdown(figures: dict[str, Any], images: dict[str, Path]) -> str:
    lines = ["# FunReason-MT run report", ""]
    for title, header, rows in _tables(figures):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
        lines.append("")
    lines += ["## Figures", ""]
    lines += [f"![{title}]({path})" for title, path in images.items()]
    return "\n".join(lines) + "\n"


def _html(figures: dict[str, Any], images: dict[str, Path], browser: str) -> str:
    """One file, images and samples inlined, so it can be mailed or archived alone and opens from disk."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>FunReason-MT run report</title><style>"
        "body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px}"
        "th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee;margin:.5em 0}"
        "</style></head><body><h1>FunReason-MT run report</h1>"
    ]
    for title, header, rows in _tables(figures):
        parts.append(f"<h2>{html.escape(title)}</h2><table><tr>")
        parts += [f"<th>{html.escape(str(cell))}</th>" for cell in header]
        parts.append("</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>")
        parts.append("</table>")
    parts.append("<h2>Figures</h2>")
    for title, path in images.items():
        data = base64.b64encode(path.read_bytes()).decode()
        parts.append(
            f"<h3>{html.escape(title)}</h3><img alt='{html.escape(title)}' src='data:image/png;base64,{data}'>"
        )
    parts.append(browser)
    parts.append("</body></html>")
    return "".join(parts)
