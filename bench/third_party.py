"""Figures of third-party MCP servers explored and synthesized: `python bench/third_party.py STORE ...`.

For each store: tools covered, share of error steps, edges learnt with evidence (by source),
samples verified per trajectory, and samples marked verified although their state was not reset
(a plain `/mcp` URL without a reset command); see BENCHMARKS.md "Third-party MCP servers".
"""

import json
import sys
from pathlib import Path

from simulator import Store
from synthesizer import SampleStore


def figures(path: Path) -> dict[str, object]:
    with Store(path) as store:
        trajectories = list(store.iter_trajectories())
        run_id = trajectories[0].run_id
        graph = store.load_graph(run_id, "frozen") or {"nodes": [], "edges": []}
        server = store.run_config(run_id).get("server") or {}
        samples = list(SampleStore(store).iter_samples())
    steps = [step for trajectory in trajectories for step in trajectory.steps]
    tools = {node["id"] for node in graph["nodes"]}
    succeeded = {step.tool for step in steps if not step.is_error}
    learnt: dict[str, int] = {}
    for edge in graph["edges"]:
        sources = {reason["source"] for reason in edge["reasons"] if reason.get("evidence")}
        for source in sources:
            learnt[source] = learnt.get(source, 0) + 1
    plain_url = trajectories[0].env.rstrip("/").endswith("/mcp")
    unreset = [s for s in samples if s.verified and plain_url and not server.get("reset_cmd")]
    return {
        "store": str(path),
        "trajectories": len(trajectories),
        "steps": len(steps),
        "tools_covered": f"{len(succeeded & tools)} of {len(tools)}",
        "not_covered": sorted(tools - succeeded),
        "error_step_share": round(sum(step.is_error for step in steps) / max(1, len(steps)), 3),
        "edges_with_evidence": sum(1 for edge in graph["edges"] if any(r.get("evidence") for r in edge["reasons"])),
        "edges_with_evidence_by_source": learnt,
        "samples_verified": sum(sample.verified for sample in samples),
        "verified_share_of_trajectories": round(sum(s.verified for s in samples) / max(1, len(trajectories)), 3),
        "verified_without_reset": len(unreset),
    }


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        print(json.dumps(figures(Path(argument))))
