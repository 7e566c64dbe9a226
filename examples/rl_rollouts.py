"""Run the TRL and verl adapters the way the trainers call them, offline and without a GPU.

    .venv/bin/funreason run                                   # a store of verified samples (funreason-out/)
    .venv/bin/python examples/rl_rollouts.py --db funreason-out/store.db [--url http://127.0.0.1:8765] [--rollouts 64]

Every row of `export --format trl` is played with its ground truth through `SandboxToolEnv` (reset(**row),
the tools as methods, get_reward()) from `--rollouts` threads at once, then the same rows through verl's
call sequence on `SandboxTool` (create, execute with agent_data, release, per call) from one event loop.
Prints the rewards (every one should be 1.0), and with `--url` how many sandboxes the server still holds;
exits 1 unless every reward is 1.0 and none is left.
"""

import argparse
import asyncio
import json
import tempfile
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2

from evaluation import SandboxTool, SandboxToolEnv, load_tasks, write_trl, write_verl


def trl_rollout(factories: dict, row: dict) -> float:
    env = factories[row["environment"]]()
    env.reset(**row)
    for call in json.loads(row["task"])["turns"][row["turn"]]["calls"]:
        getattr(env, call["tool"])(**call["arguments"])
    return env.get_reward()


async def verl_rollout(tools: dict, row: dict, request_id: str) -> float:
    info = row["extra_info"]
    agent = types.SimpleNamespace(request_id=request_id)
    for call in json.loads(row["reward_model"]["ground_truth"])["turns"][info["turn"]]["calls"]:
        tool = tools[call["tool"]]
        instance, _ = await tool.create(create_kwargs=info["tools_kwargs"][call["tool"]]["create_kwargs"])
        await tool.execute(instance, call["arguments"], agent_data=agent)
        await tool.release(instance)
    any_tool = next(iter(tools.values()))
    reward = await any_tool.calc_reward(request_id)
    await any_tool.finish(request_id)
    return reward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--url", help="base URL of `funreason serve --transport http` (default: in-process)")
    parser.add_argument("--rollouts", type=int, default=64)
    args = parser.parse_args()
    tasks = load_tasks(db=args.db)
    folder = Path(tempfile.mkdtemp())
    write_trl(tasks, folder / "train.jsonl")
    rows = [json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines()]
    rows = [row for row in rows if json.loads(row["task"])["turns"][row["turn"]]["calls"]]
    batch = [rows[n % len(rows)] for n in range(args.rollouts)]

    factories = SandboxToolEnv.factories(tasks, url=args.url)
    started = time.perf_counter()
    with ThreadPoolExecutor(args.rollouts) as pool:
        trl = list(pool.map(lambda row: trl_rollout(factories, row), batch))
    print(
        f"TRL: {len(trl)} concurrent rollouts, {sum(r == 1.0 for r in trl)} scored 1.0, "
        f"{time.perf_counter() - started:.1f} s"
    )

    import pyarrow.parquet

    write_verl(tasks, folder / "train.parquet")
    table = pyarrow.parquet.read_table(folder / "train.parquet").to_pylist()
    config = json.loads(
        "".join(line for line in (folder / "train.tools.yaml").read_text().splitlines(True) if line[:1] != "#")
    )
    tools = {}
    for entry in config["tools"]:
        settings = entry["config"] | ({"url": args.url} if args.url else {})
        tools[entry["tool_schema"]["function"]["name"]] = SandboxTool(settings, entry["tool_schema"])
    verl_rows = [
        row
        for row in table
        if json.loads(row["reward_model"]["ground_truth"])["turns"][row["extra_info"]["turn"]]["calls"]
    ]
    verl_batch = [verl_rows[n % len(verl_rows)] for n in range(args.rollouts)]

    async def all_at_once() -> list[float | BaseException]:
        rollouts = (verl_rollout(tools, row, f"r{n}") for n, row in enumerate(verl_batch))
        return await asyncio.gather(*rollouts, return_exceptions=True)

    started = time.perf_counter()
    verl = asyncio.run(all_at_once())
    failed = [outcome for outcome in verl if isinstance(outcome, BaseException)]
    if failed:
        print(f"verl: {len(failed)} rollouts failed, the first with {type(failed[0]).__name__}: {failed[0]}")
    print(
        f"verl: {len(verl)} concurrent rollouts, {sum(r == 1.0 for r in verl)} scored 1.0, "
        f"{time.perf_counter() - started:.1f} s"
    )
    left: list[Any] = []
    if args.url:  # a server started without a token lists no sandboxes to anyone (403): then its owner counts
        listing = httpx2.get(f"{args.url}/sandboxes")
        left = listing.json()["sandboxes"] if listing.status_code == 200 else []
        print(f"sandboxes left on the server: {len(left) if listing.status_code == 200 else 'not listed (no token)'}")
    if any(reward != 1.0 for reward in trl + verl) or left:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
