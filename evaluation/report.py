"""The eval report: the same tables as JSON, Markdown and one self-contained HTML page."""

import html
import json
from pathlib import Path
from typing import Any

__all__ = ["write_eval_report"]

Table = tuple[str, list[str], list[list[str]]]


def write_eval_report(figures: dict[str, Any], json_out: Path | None, out_dir: Path | None) -> None:
    """`figures` as JSON at `json_out`, and as eval.md and eval.html in `out_dir` (either may be None)."""
    if json_out is not None:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        tables = _tables(figures)
        title = f"Evaluation of {', '.join(figures['models'])} (checker {', '.join(figures['checker'])})"
        (Path(out_dir) / "eval.md").write_text(_markdown(title, tables), encoding="utf-8")
        (Path(out_dir) / "eval.html").write_text(_html(title, tables), encoding="utf-8")


def _tables(figures: dict[str, Any]) -> list[Table]:
    ks = list(figures["pass^k"])
    headers = ["scope", "tasks", "attempts", "turn accuracy", "dialogue accuracy", *(f"pass^{k}" for k in ks)]
    headers += ["calls/turn", "ground truth calls/turn", "invalid calls"]
    scopes = [("all", figures), *figures["per_env"].items()]
    overall = [
        [
            scope,
            str(group["tasks"]),
            str(group["attempts"]),
            _pct(group["turn_accuracy"]),
            _pct(group["dialogue_accuracy"]),
            *(_pct(group["pass^k"][k]) for k in ks),
            _num(group["calls_per_turn"]),
            _num(group["ground_truth_calls_per_turn"]),
            _pct(group["invalid_call_share"]),
        ]
        for scope, group in scopes
    ]
    variants = [[v, str(g["turns"]), _pct(g["turn_accuracy"])] for v, g in figures["per_variant"].items()]
    failures = [[kind, str(count)] for kind, count in figures["failures"].items()]
    return [
        ("Scores", headers, overall),
        ("By variant", ["variant", "turns", "turn accuracy"], variants),
        ("Failed turns by kind", ["failure", "turns"], failures),
    ]


def _markdown(title: str, tables: list[Table]) -> str:
    lines = [f"# {title}", ""]
    for caption, headers, rows in tables:
        lines += [f"## {caption}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def _html(title: str, tables: list[Table]) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}</style>",
        f"</head><body><h1>{html.escape(title)}</h1>",
    ]
    for caption, headers, rows in tables:
        parts.append(f"<h2>{html.escape(caption)}</h2><table><tr>")
        parts += [f"<th>{html.escape(header)}</th>" for header in headers]
        parts.append("</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
