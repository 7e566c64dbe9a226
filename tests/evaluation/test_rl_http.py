"""Concurrent RL rollouts over HTTP: the TRL class from many threads, the verl tool from one event loop, each
rollout in a sandbox of its own on the sandbox service (127.0.0.1), none left behind."""

import asyncio
import json
import socket
import subprocess
import time
import types
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pyarrow.parquet
import pytest

from evaluation import SandboxTool, SandboxToolEnv, write_trl, write_verl
from servers import create_app
from tests.conftest import FUNREASON, http_server


def trl_rollout(factories, row):
    env = factories[row["environment"]]()
    env.reset(**row)
    for call in json.loads(row["task"])["turns"][row["turn"]]["calls"]:
        getattr(env, call["tool"])(**call["arguments"])
    return env.get_reward()


async def verl_rollout(tools, row, request_id):
    info = row["extra_info"]
    agent = types.SimpleNamespace(request_id=request_id)
    for call in json.loads(row["reward_model"]["ground_truth"])["turns"][info["turn"]]["calls"]:
        tool = tools[call["tool"]]
        instance, _ = await tool.create(create_kwargs=info["tools_kwargs"][call["tool"]]["create_kwargs"])
        await tool.execute(instance, call["arguments"], agent_data=agent)
        await tool.release(instance)
    some_tool = next(iter(tools.values()))
    reward = await some_tool.calc_reward(request_id)
    await some_tool.finish(request_id)
    return reward


def play_concurrently(tasks, base, count, folder):
    """`count` TRL rollouts at once, then `count` verl rollouts at once; every reward, and what the server holds."""
    write_trl(tasks, folder / "train.jsonl")
    rows = [json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines()]
    rows = [row for row in rows if json.loads(row["task"])["turns"][row["turn"]]["calls"]]
    factories = SandboxToolEnv.factories(tasks, url=base)
    with ThreadPoolExecutor(count) as pool:
        trl = list(pool.map(lambda n: trl_rollout(factories, rows[n % len(rows)]), range(count)))
    write_verl(tasks, folder / "train.parquet")
    table = pyarrow.parquet.read_table(folder / "train.parquet").to_pylist()
    table = [
        r for r in table if json.loads(r["reward_model"]["ground_truth"])["turns"][r["extra_info"]["turn"]]["calls"]
    ]
    text = (folder / "train.tools.yaml").read_text()
    config = json.loads("".join(line for line in text.splitlines(True) if not line.startswith("#")))
    tools = {
        entry["tool_schema"]["function"]["name"]: SandboxTool(entry["config"] | {"url": base}, entry["tool_schema"])
        for entry in config["tools"]
    }

    async def all_at_once():
        return await asyncio.gather(*(verl_rollout(tools, table[n % len(table)], f"r{n}") for n in range(count)))

    verl = asyncio.run(all_at_once())
    left = httpx2.get(f"{base}/sandboxes").json()["sandboxes"]
    return trl, verl, left


def test_concurrent_rollouts_over_http_each_reach_their_own_ground_truth(tasks, tmp_path):
    with http_server(create_app(["messaging", "trading"])) as base:
        trl, verl, left = play_concurrently(tasks, base, 8, tmp_path)
    assert trl == [1.0] * 8 and verl == [1.0] * 8 and left == []


@pytest.mark.heavy
def test_64_concurrent_rollouts_against_funreason_serve(tasks, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "serve.log").open("w")  # a pipe nobody reads would fill and stall the server
    server = subprocess.Popen([FUNREASON, "serve", "--transport", "http", "--port", str(port)], stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx2.get(f"{base}/sandboxes")
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "funreason serve did not start"
                time.sleep(0.2)
        trl, verl, left = play_concurrently(tasks, base, 64, tmp_path)
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    assert trl == [1.0] * 64 and verl == [1.0] * 64 and left == []
