"""The run report: the numbers a user checks, as report.json, report.md and a self-contained report.html."""

import base64
import html
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from simulator import Store, export_graph, graph_from_json
from simulator.focus import Focus
from synthesizer.browser import browser_section, reason_kind, store_views
from synthesizer.focus import focus_figures
from synthesizer.quality import figure_value, measure_quality
from synthesizer.recorded import session_accounts
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
            # several runs of one target (BFCL: a run per entry, the same classes) add up to one row
            earlier = per_env.get(target, {})
            steps = row[1] + earlier.get("steps", 0)
            errors = row[2] + earlier.get("error_steps", 0)
            tools_seen, edges_seen = tools | earlier.get("_tools", set()), edges | earlier.get("_edges", set())
            graph_edges = {(edge["source"], edge["target"]) for edge in graph["edges"]} | earlier.get("_graph", set())
            per_env[target] = {
                "run_id": earlier.get("run_id", run_id),
                "trajectories": row[0] + earlier.get("trajectories", 0),
                "reached": int(reached[0] or 0) + earlier.get("reached", 0),
                "steps": steps,
                "error_steps": errors,
                "error_rate": round(errors / steps, 4) if steps else 0.0,
                "tools_covered": len(tools_seen),
                "tools_total": max(len(graph["nodes"]), earlier.get("tools_total", 0)),
                "edges_covered": len(edges_seen),
                "edges_total": len(graph_edges),
                "_tools": tools_seen,
                "_edges": edges_seen,
                "_graph": graph_edges,
            }
        turns, calls, envs, variants = Counter(), Counter(), Counter(), Counter()
        for sample in samples.iter_samples():
            turns[len(sample.dialogue.turns)] += 1
            calls[sample.n_calls] += 1
            envs[sample.env] += 1
            variants.update(str(turn.variant) for turn in sample.dialogue.turns)
        reasons = Counter(reason_kind(reject.reason) for reject in samples.iter_rejects())
        rejected_by_env = Counter(
            env
            for (env,) in store.db.execute("SELECT t.env FROM rejects r JOIN trajectories t ON t.id = r.trajectory_id")
        )
        for env, figures in per_env.items():
            del figures["_tools"], figures["_edges"], figures["_graph"]
            figures["samples"] = envs.get(env, 0)
            figures["rejected"] = rejected_by_env.get(env, 0)
        return {
            "totals": store.stats() | samples.counts(),
            "environments": per_env,
            "turns_per_sample": dict(sorted(turns.items())),
            "calls_per_sample": dict(sorted(calls.items())),
            "variants": dict(sorted(variants.items())),
            "reject_reasons": dict(reasons.most_common()),
            "recorded_sessions": session_accounts(store),
            "quality": measure_quality(_quality_record(sample) for sample in samples.iter_samples()),
        }


def write_report(
    store_path: Path, out: Path, focus: Focus | None = None, *, decontamination: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write report.json, report.md, report.html and the figures under `out`; returns the figures.

    With a `focus`, the figures also say what the focused data is made of (`focus_figures`);
    `decontamination`: the counts of `synthesizer.decontaminate`, reported when the run made any."""
    figures = collect_figures(store_path)
    if focus is not None:
        figures["focus"] = _focus_figures(store_path, focus)
    if decontamination is not None:
        figures["decontamination"] = decontamination
    pictures = out / "figures"
    pictures.mkdir(parents=True, exist_ok=True)
    images = _draw(store_path, figures, pictures)
    (out / "report.json").write_text(json.dumps(figures, indent=2))
    (out / "report.md").write_text(_markdown(figures, {name: path.relative_to(out) for name, path in images.items()}))
    browser = browser_section(store_views(store_path), "Samples", "verified samples and rejects of this run")
    with (out / "report.html").open("w") as page:
        page.writelines(_html(figures, images, browser))
    return figures


def _quality_record(sample: Sample) -> dict[str, Any]:
    """A stored sample as `funreason quality` reads an export, with what only the store knows: the reasoning
    (kept on the messages) and each turn's query, variant and target."""
    return {
        "messages": sample.messages,
        "tools": sample.tools,
        "extra_tools": sample.extra_tools,
        "metadata": {**sample.provenance(), "turns": sample.dialogue.records()},
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
    if "focus" in figures:
        images["Targets' shares: uniform vs focused"] = _draw_focus(figures["focus"], folder)
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


def _focus_figures(store_path: Path, focus: Focus) -> dict[str, Any]:
    """`focus_figures` over the store's samples and every tool its explorations' graphs hold."""
    with Store(store_path) as store:
        tools = set()
        for (run_id,) in store.db.execute("SELECT id FROM runs WHERE kind = 'explore' ORDER BY id").fetchall():
            graph = store.load_graph(run_id, "frozen")
            tools |= set(graph_from_json(graph).nodes) if graph else set()
        return focus_figures(SampleStore(store).iter_samples(), focus, tools)


def _draw_focus(focus: dict[str, Any], folder: Path) -> Path:
    """Turn-target shares, uniform (one of all tools) against the focused data: the failed tools, the 20 other
    tools with the most turns, and every other tool as one bar."""
    import matplotlib.pyplot as plt

    per_tool = focus["per_tool"]
    order = {name: (-data["failure_rate"], -data["focused_share"], name) for name, data in per_tool.items()}
    ranked = sorted(per_tool, key=order.__getitem__)
    shown = ranked[: len(focus["focused_tools"]) + 20]
    rest = [name for name in ranked if name not in shown]
    uniform = [per_tool[name]["uniform_share"] for name in shown] + [sum(per_tool[n]["uniform_share"] for n in rest)]
    focused = [per_tool[name]["focused_share"] for name in shown] + [sum(per_tool[n]["focused_share"] for n in rest)]
    labels = [*shown, f"{len(rest)} other tools"]
    figure, axes = plt.subplots(figsize=(10, 4.5))
    positions = range(len(labels))
    axes.bar([p - 0.2 for p in positions], uniform, width=0.4, label="uniform (one of all tools)")
    axes.bar([p + 0.2 for p in positions], focused, width=0.4, label="focused run")
    axes.set_xticks(list(positions), labels, rotation=70, ha="right", fontsize=7)
    axes.set_ylabel("share of turn targets")
    shares = f"{focus['focused_tools_share']:.0%} of turns (uniform {focus['focused_tools_uniform_share']:.0%})"
    axes.set_title(f"The {len(focus['focused_tools'])} failed tools (left): {shares}")
    axes.legend()
    return _save(figure, folder / "focus.png")


def _focus_rows(focus: dict[str, Any]) -> list[list[Any]]:
    """Per tool: the eval's failure rate, then its share of turn targets, uniform and focused; failing tools first."""
    per_tool = focus["per_tool"]
    names = sorted(per_tool, key=lambda name: (-per_tool[name]["failure_rate"], name))
    return [
        [
            name,
            f"{per_tool[name]['failure_rate']:.1%}",
            f"{per_tool[name]['uniform_share']:.1%}",
            f"{per_tool[name]['focused_share']:.1%}",
            per_tool[name]["turns"],
        ]
        for name in names
    ]


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
    focused = []
    if "focus" in figures:
        focus = figures["focus"]
        summary = [
            ["eval file (sha256)", focus["file_sha256"][:16]],
            ["focus share", focus["share"]],
            ["turns", focus["turns"]],
            ["focused tools", ", ".join(focus["focused_tools"])],
            ["their share of turns", f"{focus['focused_tools_share']:.1%}"],
            ["their share without a focus (uniform)", f"{focus['focused_tools_uniform_share']:.1%}"],
            ["fewest turns targeting another tool, per 1,000", focus["fewest_turns_per_1000_of_other_tools"]],
            ["fewest turns calling another tool, per 1,000", focus["fewest_turns_calling_per_1000_of_other_tools"]],
            ["other tools called in under 1 turn per 1,000", focus["other_tools_under_1_per_1000"]],
            ["held-out samples left out", focus["held_out_samples_left_out"]],
        ]
        focused = [
            ("Focus", ["figure", "value"], summary),
            ("Focus: targets' shares, uniform vs focused", ["tool", "eval failure rate", "uniform", "focused", "turns"],
             _focus_rows(focus)),
        ]  # fmt: skip
    tables = [
        ("Totals", ["figure", "value"], [[key, value] for key, value in totals.items()]),
        *focused,
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
            "Recorded sessions",
            ["session", "goals recorded", "goals in samples", "left out (why)"],
            [
                [
                    d["trajectory"],
                    d["recorded"] if d["recorded"] is not None else "-",
                    d["in_samples"],
                    "; ".join(f"{x['tool']}: {x['reason']}" for x in d["dropped"]) or d.get("reason", ""),
                ]
                for d in figures["recorded_sessions"]
            ],
        )
        if figures["recorded_sessions"]
        else None,
        (
            "Data quality (funreason quality)",
            ["figure", "value", "goal", "met"],
            [
                [f["what"], figure_value(f), f["goal"], "yes" if f["ok"] else "no"]
                for f in figures["quality"]["figures"].values()
            ],
        ),
        *(
            [
                (
                    "Decontamination against BFCL (word n-grams, lowercased, punctuation dropped)",
                    ["figure", "value"],
                    [[key, value] for key, value in figures["decontamination"].items() if key != "rule"],
                )
            ]
            if "decontamination" in figures
            else []
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
    return [table for table in tables if table is not None]


def _markdown(figures: dict[str, Any], images: dict[str, Path]) -> str:
    lines = ["# FunReason-MT run report", ""]
    for title, header, rows in _tables(figures):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
        lines.append("")
    lines += ["## Figures", ""]
    lines += [f"![{title}]({path})" for title, path in images.items()]
    return "\n".join(lines) + "\n"


def _html(figures: dict[str, Any], images: dict[str, Path], browser: str) -> Iterator[str]:
    """One file, images and samples inlined, so it can be mailed or archived alone and opens from disk; in
    parts, so the page is never held twice."""
    yield (
        "<!doctype html><html><head><meta charset='utf-8'><title>FunReason-MT run report</title><style>"
        "body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px}"
        "th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee;margin:.5em 0}"
        "</style></head><body><h1>FunReason-MT run report</h1>"
    )
    for title, header, rows in _tables(figures):
        yield f"<h2>{html.escape(title)}</h2><table><tr>"
        yield from (f"<th>{html.escape(str(cell))}</th>" for cell in header)
        yield "</tr>"
        for row in rows:
            yield "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        yield "</table>"
    yield "<h2>Figures</h2>"
    for title, path in images.items():
        data = base64.b64encode(path.read_bytes()).decode()
        yield f"<h3>{html.escape(title)}</h3><img alt='{html.escape(title)}' src='data:image/png;base64,{data}'>"
    yield browser
    yield "</body></html>"
