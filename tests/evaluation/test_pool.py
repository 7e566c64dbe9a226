"""Connections shared by concurrent attempts: reused, opened by the pool's own task, failures raised at the borrower."""

import anyio
import pytest

from evaluation import GroundTruthPolicy, SharedConnections, run_attempts
from simulator import ConnectionFailed, ServerTarget


def test_attempts_reuse_connections_and_open_fewer_than_one_per_worker_and_pair(tasks, monkeypatch):
    opened = []
    connect = ServerTarget.connect
    monkeypatch.setattr(ServerTarget, "connect", lambda target: opened.append(target) or connect(target))
    pairs = {(task.env, task.scenario) for task in tasks}
    assert len(pairs) == 2
    attempts = anyio.run(lambda: run_attempts(tasks, GroundTruthPolicy_for, k=3, concurrency=4))
    assert len(attempts) == 3 * len(tasks) and all(attempt.passed for attempt in attempts)
    # as many per pair as its attempts ever ran at once (4 at most), fewer than one per worker and pair in all
    per_pair = {pair: sum((target.envs[0], target.scenario) == pair for target in opened) for pair in pairs}
    assert max(per_pair.values()) <= 4 and len(opened) < 4 * len(pairs), per_pair


def GroundTruthPolicy_for(task, number):  # noqa: N802 (reads as the policy it makes)
    return GroundTruthPolicy(task)


def test_a_connection_given_back_is_lent_again_and_all_close_at_the_end():
    async def go():
        async with SharedConnections() as shared:
            first = await shared.borrow("messaging", "default")
            second = await shared.borrow("messaging", "default")
            assert first is not second
            shared.give_back("messaging", "default", first)
            assert await shared.borrow("messaging", "default") is first
            await first.call("log_in", {"user_id": "USR001"})
        return first

    connection = anyio.run(go)
    with pytest.raises(AssertionError, match="call reset"):
        anyio.run(connection.call, "log_in", {"user_id": "USR001"})


def test_a_connection_that_cannot_open_fails_the_borrower_with_its_own_error():
    async def go():
        async with SharedConnections() as shared:
            await shared.borrow("cmd:/nonexistent/server --stdio", "default")

    with pytest.raises(ConnectionFailed, match="cannot connect to"):
        anyio.run(go)
