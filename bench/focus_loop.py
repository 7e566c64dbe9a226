"""The targeted-training loop end to end, with its figures: `python -m bench.focus_loop [--trajectories N]`.

Not a timing benchmark: it runs the real commands (`funreason run`, `tasks --split`, `eval` against a scripted
model on 127.0.0.1 that fails on five tools and plays the ground truth elsewhere, `run --focus`, twice) and
prints what issue 30 asks: the profile before, the focused tools' share of turns after (against their share
of all tools), the fewest turns any other tool kept, held-out tasks in the training files, and whether the same
seed and focus file gave the same bytes.  Run it from the repository root.
"""

import argparse
import collections
import filecmp
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from bench.common import FUNREASON, ROOT
from evaluation import load_tasks
from servers import environment_names, get_environment
from simulator import Store
from synthesizer import SampleStore
from tests.conftest import http_server
from tests.evaluation.conftest import ScriptedModel

FORMATS = ("openai", "sharegpt", "bfcl", "funreason")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trajectories", type=int, default=48, help="per environment, as `funreason run`")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/funreason-focus-loop"))
    parser.add_argument(
        "--fails-on",
        action="append",
        help="comma-separated tools the scripted model fails on (default: chosen); given again, one more loop "
        "over the same base run, in a folder of its own (`loop-N`)",
    )
    parser.add_argument("--reuse", action="store_true", help="keep the base run and its split of an earlier go")
    args = parser.parse_args()
    out, common = args.out, ["--trajectories", str(args.trajectories), "--seed", str(args.seed)]
    store = out / "base" / "store.db"
    if not (args.reuse and store.exists()):
        shutil.rmtree(out / "base", ignore_errors=True)
        _funreason("run", "--out", str(out / "base"), *common)
        _funreason("tasks", "--db", str(store), "--split", "0.2", "--seed", str(args.seed))
    tasks = load_tasks(db=store, held_out_only=True)
    sets = [frozenset(tools.split(",")) for tools in args.fails_on] if args.fails_on else [_five_tools(tasks)]
    for number, fails_on in enumerate(sets):
        _loop(out / f"loop-{number}" if len(sets) > 1 else out, store, tasks, fails_on, common)


def _loop(out: Path, store: Path, tasks: list, fails_on: frozenset[str], common: list[str]) -> None:
    """One loop over the base run: eval with a model failing on `fails_on`, then two focused runs."""
    out.mkdir(parents=True, exist_ok=True)
    model = "fails-on-" + hashlib.sha256(",".join(sorted(fails_on)).encode()).hexdigest()[:12]  # its own attempts
    with http_server(ScriptedModel(tasks, "truth", fails_on).app) as url:
        _funreason(
            "eval", "--db", str(store), "--held-out", "--llm", "openai", "--model", model,
            "--base-url", f"{url}/v1", "--json", str(out / "eval.json"),
        )  # fmt: skip
    profile = json.loads((out / "eval.json").read_text())["profile"]
    failing = {tool: group for tool, group in profile["per_tool"].items() if group["failures"]}
    print(f"profile before: {profile['failures']} of {profile['attempts']} turn attempts failed")
    for tool, group in sorted(profile["per_tool"].items()):
        if group["failures"] or tool in fails_on:
            counts = f"attempts {group['attempts']:>3}  failures {group['failures']:>3}  rate {group['rate']}"
            print(f"  {tool:<34} {counts}")
    print(f"tools failed on: {sorted(failing)} (scripted to fail on {sorted(fails_on)})")
    for name in ("focused", "focused-again"):
        shutil.rmtree(out / name, ignore_errors=True)  # a run resumes: start each from nothing
        _funreason("run", "--out", str(out / name), *common, "--focus", str(out / "eval.json"))
    identical = all(
        filecmp.cmp(out / "focused" / f"{fmt}.jsonl", out / "focused-again" / f"{fmt}.jsonl", shallow=False)
        for fmt in FORMATS
    )
    _figures({"base": store.parent, "focused": out / "focused"}, tasks, set(failing), identical)


def _figures(runs: dict[str, Path], tasks: list, failing: set[str], identical: bool) -> None:
    all_tools = {tool for env in environment_names() for tool in get_environment(env).tool_specs()}
    for name, run in runs.items():
        targets, calling, ids, queries = collections.Counter(), collections.Counter(), set(), set()
        with Store(run / "store.db") as store:  # the turns' calls, as the store keeps them
            stored = {sample.id: sample for sample in SampleStore(store).iter_samples()}
            rejects = collections.Counter(reject.reason.split(":")[0] for reject in SampleStore(store).iter_rejects())
        for line in (run / "openai.jsonl").read_text().splitlines():
            record = json.loads(line)
            metadata = record["metadata"]
            ids |= {metadata["sample_id"], *metadata["trajectory_ids"]}
            queries |= {" ".join(m["content"].lower().split()) for m in record["messages"] if m["role"] == "user"}
            targets.update(turn.get("target") for turn in metadata["turns"])
            turns_of = stored[metadata["sample_id"]].dialogue.turns
            calling.update(tool for turn in turns_of for tool in {call["tool"] for call in turn.calls})
        turns = sum(targets.values())
        others = {tool: targets[tool] for tool in all_tools - failing}
        called = {tool: calling[tool] for tool in all_tools - failing}
        kept = sum(1 for tool in failing if tool in targets)
        held_by_id = sum(1 for task in tasks if task.id in ids or task.id.split(":")[0] in ids)
        held_by_text = sum(1 for task in tasks if any(" ".join(t.query.lower().split()) in queries for t in task.turns))
        share = sum(targets[tool] for tool in failing) / turns
        print(
            f"{name}: {turns} turns; the {len(failing)} failed tools: {share:.1%} of turns "
            f"(uniform: {len(failing) / len(all_tools):.1%} = {len(failing)}/{len(all_tools)} tools; "
            f"{kept} of them appear); other tools: fewest {min(others.values())} turns "
            f"({1000 * min(others.values()) / turns:.2f} per 1,000), {sum(1 for n in others.values() if n == 0)} "
            f"with none, {sum(1 for n in others.values() if n and 1000 * n / turns >= 1)} with >= 1 per 1,000; "
            f"turns calling another tool: fewest {min(called.values())} ({1000 * min(called.values()) / turns:.2f} "
            f"per 1,000), {sum(1 for n in called.values() if 1000 * n < turns)} under 1 per 1,000; "
            f"held-out tasks in the training file: {held_by_id} by id, {held_by_text} by request text"
        )
        quality = json.loads(_funreason("quality", "--json", str(run / "openai.jsonl")))["figures"]
        pairs = quality["near_duplicate_queries"]
        print(
            f"  {len(stored)} samples, {sum(rejects.values())} rejects ({rejects['near-duplicate request']} as "
            f"near-duplicates); near-duplicate requests in the data: {pairs['count']} of {pairs['total']}"
        )
    print(f"same seed and focus file -> byte-identical {', '.join(FORMATS)}: {identical}")


def _five_tools(tasks: list) -> frozenset[str]:
    """Five tools the held-out tasks target, all of the environment whose tasks target the most distinct tools."""
    by_env: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for task in tasks:
        for turn in task.turns:
            if turn.target:
                by_env[task.env][turn.target] += 1
    env = max(sorted(by_env), key=lambda name: len(by_env[name]))
    return frozenset(tool for tool, _ in by_env[env].most_common(5))


def _funreason(*args: str) -> str:
    """Run a command; print it and its last line of progress; return what it printed."""
    done = subprocess.run([FUNREASON, *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"funreason {args[0]} failed: {done.stderr.strip().splitlines()[-1:]}")
    if args[0] != "quality":
        print(f"$ funreason {' '.join(args)}\n  {done.stderr.strip().splitlines()[-1]}", flush=True)
    return done.stdout


if __name__ == "__main__":
    main()
