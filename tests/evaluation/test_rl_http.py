"""Concurrent RL rollouts over HTTP, run by `examples/rl_rollouts.py` as the trainers call the adapters: the TRL
class from many threads, the verl tool from one event loop, each rollout in a sandbox of its own on the sandbox
service (127.0.0.1); every rollout must end in its own ground truth's state (reward 1.0), none left behind."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from servers import create_app
from tests.conftest import FUNREASON, http_server

EXAMPLE = Path(__file__).parents[2] / "examples" / "rl_rollouts.py"


def play(store_path, base, count):
    command = [sys.executable, str(EXAMPLE), "--db", str(store_path), "--url", base, "--rollouts", str(count)]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def test_concurrent_rollouts_over_http_each_reach_their_own_ground_truth(store_path):
    with http_server(create_app(["messaging", "trading"])) as base:
        result = play(store_path, base, 8)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "TRL: 8 concurrent rollouts, 8 scored 1.0" in result.stdout
    assert "verl: 8 concurrent rollouts, 8 scored 1.0" in result.stdout
    assert "sandboxes left on the server: 0" in result.stdout


@pytest.mark.heavy
def test_64_concurrent_rollouts_against_funreason_serve(store_path, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "serve.log").open("w")  # a pipe nobody reads would fill and stall the server
    server = subprocess.Popen([FUNREASON, "serve", "--transport", "http", "--port", str(port)], stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx2.get(f"{base}/sandboxes")
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "funreason serve did not start"
                time.sleep(0.2)
        result = play(store_path, base, 64)
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    assert result.returncode == 0, result.stderr[-2000:]
    assert "TRL: 64 concurrent rollouts, 64 scored 1.0" in result.stdout
    assert "verl: 64 concurrent rollouts, 64 scored 1.0" in result.stdout
    assert "sandboxes left on the server: 0" in result.stdout
