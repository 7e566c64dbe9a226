"""Concurrent RL rollouts over HTTP, run by `examples/rl_rollouts.py` as the trainers call the adapters: the TRL
class from many threads, the verl tool from one event loop, each rollout in a sandbox of its own on the sandbox
service (127.0.0.1); every rollout must end in its own ground truth's state (reward 1.0), none left behind."""

import subprocess
import sys
from pathlib import Path

import pytest

from servers import SandboxManager, create_app
from tests.conftest import http_server

EXAMPLE = Path(__file__).parents[2] / "examples" / "rl_rollouts.py"


def play(store_path, base, count):
    command = [sys.executable, str(EXAMPLE), "--db", str(store_path), "--url", base, "--rollouts", str(count)]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def test_concurrent_rollouts_over_http_each_reach_their_own_ground_truth(store_path):
    _check_rollouts(store_path, 8)


@pytest.mark.heavy
@pytest.mark.alone
def test_64_concurrent_rollouts_against_the_sandbox_service(store_path):
    _check_rollouts(store_path, 64)


def _check_rollouts(store_path, count):
    """`count` TRL and `count` verl rollouts at once against the HTTP app `funreason serve` runs; the server's
    own manager says how many sandboxes are left (listing them over HTTP needs a token)."""
    manager = SandboxManager(max_sandboxes=1024)
    with http_server(create_app(["messaging", "trading"], manager=manager)) as base:
        result = play(store_path, base, count)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"TRL: {count} concurrent rollouts, {count} scored 1.0" in result.stdout
    assert f"verl: {count} concurrent rollouts, {count} scored 1.0" in result.stdout
    assert len(manager) == 0, f"{len(manager)} sandboxes left behind"
