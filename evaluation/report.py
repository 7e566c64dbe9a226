"""The eval report: the same tables as JSON, Markdown and one self-contained HTML page, which also shows every
attempt's transcript in the sample browser, with the turn where it failed and why."""

import html
import json
import logging
from pathlib import Path
from typing import Any

import anyio

from evaluation.checker import result_given
from evaluation.pool import ConnectionPool
from evaluation.runner import Attempt
from servers import diff_states
from simulator import SimulatorError
from simulator.replay import replay
from synthesizer.browser import browser_section, dialogue_turns

__all__ = ["attempt_views", "write_eval_report"]

logger = logging.getLogger(__name__)

MAX_REPLAYED = 500
"""Failed turns whose end state is rebuilt (two replays each) to name the state keys that differ; later ones
say only that the state differs."""

Table = tuple[str, list[str], list[list[str]]]


def write_eval_report(
    figures: dict[str, Any], json_out: Path | None, out_dir: Path | None, attempts: list[Attempt] | None = None
) -> None:
    """`figures` as JSON at `json_out`, and as eval.md and eval.html in `out_dir` (either may be None); with
    `attempts`, eval.html shows their transcripts."""
    if json_out is not None:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        tables = _tables(figures)
        title = f"Evaluation of {', '.join(figures['models'])} (checker {', '.join(figures['checker'])})"
        (Path(out_dir) / "eval.md").write_text(_markdown(title, tables), encoding="utf-8")
        browser = browser_section(attempt_views(attempts), "Attempts", "attempts") if attempts else ""
        (Path(out_dir) / "eval.html").write_text(_html(title, tables, browser), encoding="utf-8")


def attempt_views(attempts: list[Attempt]) -> list[dict[str, Any]]:
    """Attempts as browser views: the transcript in turns, each labelled with its variant and target, and each
    failed one with its failure kind, the state keys that differ from the ground truth, or the missing results."""
    keys = anyio.run(_differing_keys, attempts)
    views = []
    for attempt in attempts:
        task = attempt.task
        turns, calls = dialogue_turns(attempt.messages, [turn.query for turn in task.turns])
        for number, (turn, planned) in enumerate(zip(turns, task.turns, strict=False)):
            grade = attempt.grades[number] if number < len(attempt.grades) else None
            failed_here = grade is not None and not grade.passed
            turn.update(variant=planned.variant, target=planned.target, withheld=planned.withheld)
            turn["failure"] = _failure(attempt, number, keys.get((attempt.id, number))) if failed_here else None
        failed = [index for index, grade in enumerate(attempt.grades) if not grade.passed]
        kind = "model_error" if attempt.error else (attempt.grades[failed[0]].failure or "") if failed else ""
        views.append(
            {
                "id": attempt.id,
                "kind": "attempt",
                "env": task.env,
                "scenario": task.scenario,
                "status": "passed" if attempt.passed else "failed",
                "model": attempt.model,
                "attempts": None,
                "reason": attempt.error or kind or None,
                "reason_kind": kind,
                "failed_turn": failed[0] + 1 if failed else None,
                "task": task.id,
                "variants": sorted({turn.variant for turn in task.turns}),
                "targets": [turn.target for turn in task.turns if turn.target],
                "turns": turns,
                "calls": calls,
                "walk": [],
            }
        )
    return views


def _failure(attempt: Attempt, number: int, state_keys: list[dict[str, Any]] | None) -> dict[str, Any]:
    grade = attempt.grades[number]
    turn = attempt.task.turns[number]
    evidence = attempt.evidence[number] if number < len(attempt.evidence) else None
    failure: dict[str, Any] = {"kind": grade.failure or "model_error", "why": _WHY.get(grade.failure or "", "")}
    if evidence is None:
        failure["why"] = attempt.error or "the attempt stopped before this turn"
        return failure
    if not grade.state_ok:
        failure["state_keys"] = state_keys or []
        if state_keys is None:
            failure["why"] += " (the differing keys were not rebuilt for this one)"
    if not grade.results_ok:
        failure["missing"] = [result for result in turn.expected_results if not result_given(result, evidence)]
    return failure


_WHY = {
    "wrong_state": "the sandbox did not end in the ground truth's state",
    "missing_result": "the state is right, but the result the user asked for was never given",
    "invalid_call": "a refused call on the way to a wrong state",
    "no_call": "the model called nothing",
    "asked_instead_of_acting": "the model asked instead of acting",
    "model_error": "the endpoint failed",
}


async def _differing_keys(attempts: list[Attempt]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    """For failed turns with a wrong state: replay the ground truth and the model's calls up to that turn in
    fresh sandboxes and compare the two end states."""
    wrong = [
        (attempt, number)
        for attempt in attempts
        for number, grade in enumerate(attempt.grades)
        if not grade.state_ok and number < len(attempt.evidence)
    ][:MAX_REPLAYED]
    keys: dict[tuple[str, int], list[dict[str, Any]]] = {}
    if not wrong:
        return keys
    async with ConnectionPool() as pool:
        for attempt, number in wrong:
            task = attempt.task
            truth = [(call["tool"], call["arguments"]) for turn in task.turns[: number + 1] for call in turn.calls]
            made = [(call["tool"], call["arguments"]) for turn in attempt.evidence[: number + 1] for call in turn.calls]
            try:
                connection = await pool.get(task.env, task.scenario)
                await replay(connection, truth, task.seed)
                expected = await connection.state()
                await replay(connection, made, task.seed)
                got = await connection.state()
            except SimulatorError as error:  # the report still comes out; this turn says the keys were not rebuilt
                logger.warning("eval report: no state keys for attempt %s turn %d (%s)", attempt.id, number + 1, error)
                continue
            if expected is None or got is None:
                continue
            keys[attempt.id, number] = [_key(op, expected) for op in diff_states(expected, got)]
    return keys


def _key(op: dict[str, Any], expected: Any) -> dict[str, Any]:
    value = expected
    for step in op["path"]:
        value = value.get(step) if isinstance(value, dict) else None
    absent = {"add": "expected", "remove": "got"}.get(op["op"])
    return {"path": ".".join(map(str, op["path"])), "expected": value, "got": op.get("value"), "absent": absent}


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


def _html(title: str, tables: list[Table], browser: str) -> str:
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
    parts.append(browser)
    parts.append("</body></html>\n")
    return "".join(parts)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
