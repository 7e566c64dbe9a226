"""The issue-27 figures for one server we did not write: explore, synthesize offline, export, then count.

Run as a script for the table (`python -m tests.third_party.figures [NAME ...]`); the heavy tests call
`measure` for one server each.  Every count is read back from the store and the exported file, and
errors are judged again here, by a check that does not go through the connection's classifier.
"""

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from simulator import ExploreConfig, ServerTarget, Store, explore
from simulator.connection import DEFAULT_ERROR_TEXT, error_shape
from simulator.graph import graph_from_json
from simulator.hints import load_hints
from synthesizer import OfflineBackend, SampleStore, SynthesisConfig, export_samples, synthesize
from synthesizer.template_requests import PASTED_REASON, TEMPLATE_REASON
from tests.third_party.servers import SERVERS, ThirdParty

_SAYS_FAILED = re.compile(r"\b(not found|no such|does not exist|unknown \w+|invalid|failed|error)\b", re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r"\b(?:alpha|report|notes|summary|draft|project|budget|review|update|archive)_\d{1,2}\b|\{\w+\}|I need you to|"
    r"\[\{|\{\""
)


def looks_failed(text: str, result: Any = None) -> bool:
    """Judged apart from the classifier: any error shape of the JSON the text holds, or of its FastMCP
    `result` wrapper, or an error sentence at the start of the text."""
    for value in (result, _json(text)):
        inner = _json(value["result"]) if isinstance(value, dict) and isinstance(value.get("result"), str) else None
        if error_shape(value) or error_shape(inner):
            return True
    return bool(re.search(DEFAULT_ERROR_TEXT, text, re.IGNORECASE))


def pools_of(target: ServerTarget) -> dict[str, list[Any]]:
    """The value pools of the target's hints file, which `explore --hints` adds to `--values`."""
    return {key: list(values) for key, values in load_hints(target.hints).pools.items()} if target.hints else {}


def measure(server: ThirdParty, folder: Path, trajectories: int = 40) -> dict[str, Any]:
    db = folder / f"{server.name}.db"
    target = server.target(folder / "state", hints=True)
    run_id = explore(target, db, ExploreConfig(trajectories=trajectories, seed=0, values=pools_of(target)))
    with Store(db) as store:
        walks = list(store.iter_trajectories(run_id))
        graph = graph_from_json(store.load_graph(run_id, "frozen"))
    steps = [step for walk in walks for step in walk.steps]
    by_index = {(walk.id, step.index): step for walk in walks for step in walk.steps}
    listed = sorted(graph.nodes)
    succeeded = {step.tool for step in steps if not step.is_error}
    creators = sorted(tool for tool, made in graph.nodes(data="creates") if made)
    with_creation = sum(any(s.tool in creators and not s.is_error for s in walk.steps) for walk in walks)
    edges_out = {tool: sum(1 for _ in graph.out_edges(tool)) for tool in creators}
    reasons = [reason for _, _, data in graph.edges(data=True) for reason in data["reasons"]]
    from_failed = sum(
        1
        for reason in reasons
        for piece in reason.get("evidence", [])
        if "trajectory" in piece
        and any(by_index.get((piece["trajectory"], piece.get(key))) is not None for key in ("step", "from_step"))
        and any(
            by_index[(piece["trajectory"], piece[key])].is_error
            for key in ("step", "from_step")
            if (piece["trajectory"], piece.get(key)) in by_index
        )
    )
    counts = synthesize(db, SynthesisConfig(turns=(1, 3)), OfflineBackend())
    out = folder / f"{server.name}.jsonl"
    with Store(db) as store:
        samples = SampleStore(store)
        verified = list(samples.iter_samples(verified_only=True))
        rejects = [reject.reason for reject in samples.iter_rejects()]
        held = sum(reason.startswith(TEMPLATE_REASON) for reason in rejects)
        pasted = sum(reason.startswith(PASTED_REASON) for reason in rejects)
        exported = export_samples(samples.iter_samples(), "openai", out)
    requests = [
        message["content"]
        for line in out.read_text().splitlines()
        for message in json.loads(line)["messages"]
        if message["role"] == "user"
    ]
    wrong_success = sum(
        1
        for sample in verified
        for turn in sample.dialogue.turns
        for call in turn.calls
        if turn.variant != "error_recovery" and looks_failed(json.dumps(call["result"]), call["result"])
    )
    return {
        "server": server.name,
        "steps": len(steps),
        "errors": sum(step.is_error for step in steps),
        "missed": sum(not step.is_error and looks_failed(step.text, step.result) for step in steps),
        "suspects": sum(not step.is_error and bool(_SAYS_FAILED.search(step.text[:200])) for step in steps),
        "coverage": f"{len(succeeded & set(listed))}/{len(listed)}",
        "coverage_share": len(succeeded & set(listed)) / max(len(listed), 1),
        "creators": creators,
        "creation_share": with_creation / max(len(walks), 1),
        "creators_without_edge": [tool for tool, count in edges_out.items() if not count],
        "edges": graph.number_of_edges(),
        "edges_without_evidence": sum(not reason.get("evidence") for reason in reasons),
        "edges_from_failed_calls": from_failed,
        "verified": len(verified),
        "samples": counts["verified"] + counts.get("unverified", 0),
        "held_back_template": held,
        "held_back_pasted": pasted,
        "exported": exported,
        "failed_calls_as_success": wrong_success,
        "junk_requests": sum(bool(_PLACEHOLDER.search(text)) for text in requests),
        "junk_examples": [text for text in requests if _PLACEHOLDER.search(text)][:3],
        "requests": len(requests),
    }


def _json(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip().startswith(("{", "[")):
        return value if isinstance(value, dict) else None
    try:
        return json.loads(value)
    except ValueError:
        return None


if __name__ == "__main__":
    wanted = sys.argv[1:] or [server.name for server in SERVERS]
    for server in SERVERS:
        if server.name in wanted and server.installed():
            with tempfile.TemporaryDirectory() as scratch:
                print(json.dumps(measure(server, Path(scratch))), flush=True)
