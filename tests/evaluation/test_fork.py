"""Fork: a new sandbox with exactly the same state and random stream, whose future is its own."""

import anyio
import httpx2
import pytest
from mcp import Client
from pydantic import BaseModel

from servers import Sandbox, SandboxLimitReached, SandboxManager, create_app, create_sandbox, environment_names
from servers.classes import environment_from_class
from tests.conftest import http_server


def test_a_forked_sandbox_has_the_same_state_and_random_stream_and_its_own_future():
    sandbox = create_sandbox("trading", seed=5)
    sandbox.execute("trading_log_in", {"username": "jsmith", "password": "Tr4de!2026"})
    sandbox.execute("advance_market_clock", {"minutes": 45})
    twin = sandbox.fork()
    assert twin.id != sandbox.id and twin.state_hash() == sandbox.state_hash()
    # the random stream is the same: the same calls give the same (randomly moved) prices
    first = sandbox.execute("advance_market_clock", {"minutes": 240}).result
    second = twin.execute("advance_market_clock", {"minutes": 240}).result
    assert first == second and twin.state_hash() == sandbox.state_hash()
    # and the futures are independent
    before = twin.state_hash()
    sandbox.execute("add_to_watchlist", {"symbol": "NVDA"})
    assert twin.state_hash() == before != sandbox.state_hash()


def test_fork_over_http_answers_201_and_a_new_id_with_byte_identical_state():
    with http_server(create_app(["filesystem", "trading"])) as base:
        created = httpx2.post(f"{base}/sandboxes", json={"env": "filesystem", "seed": 3}).json()

        async def touch(mcp_path: str, name: str) -> None:
            async with Client(base + mcp_path) as client:
                assert not (await client.call_tool("touch", {"file_name": name})).is_error

        anyio.run(touch, created["mcp"], "before_fork.txt")
        forked = httpx2.post(f"{base}/sandboxes/{created['id']}/fork", json={})  # POSTs are JSON (issue 25)
        assert forked.status_code == 201, forked.text
        fork = forked.json()
        assert fork["id"] != created["id"] and fork["mcp"] == f"/sandboxes/{fork['id']}/mcp"
        assert fork["env"] == ["filesystem"] and fork["seed"] == 3
        original_state = httpx2.get(f"{base}/sandboxes/{created['id']}/state")
        fork_state = httpx2.get(f"{base}/sandboxes/{fork['id']}/state")
        assert original_state.content == fork_state.content
        anyio.run(touch, fork["mcp"], "only_in_the_fork.txt")
        original_nodes = httpx2.get(f"{base}/sandboxes/{created['id']}/state").json()["filesystem"]["nodes"]
        fork_nodes = httpx2.get(f"{base}/sandboxes/{fork['id']}/state").json()["filesystem"]["nodes"]
        assert (
            "/home/alex/only_in_the_fork.txt" in fork_nodes and "/home/alex/only_in_the_fork.txt" not in original_nodes
        )
        assert httpx2.post(f"{base}/sandboxes/nope/fork", json={}).status_code == 404


def test_fork_counts_against_the_cap():
    manager = SandboxManager(max_sandboxes=1)
    sandbox = manager.create("filesystem")
    with pytest.raises(SandboxLimitReached, match="too many live sandboxes"):
        manager.fork(sandbox.id)


def _containers(value: object, found: dict[int, object]) -> dict[int, object]:
    """Every mutable container and model reachable from `value`, by id (kept alive in the dict)."""
    if isinstance(value, BaseModel):
        found[id(value)] = value
        for item in value.__dict__.values():
            _containers(item, found)
    elif isinstance(value, dict | list | set):
        found[id(value)] = value
        for item in value.values() if isinstance(value, dict) else value:
            _containers(item, found)
    return found


@pytest.mark.parametrize("env", environment_names())
def test_every_environment_forks_to_an_equal_state_that_shares_nothing_mutable(env):
    sandbox = create_sandbox(env, seed=11)
    sandbox.environments[env].rng.random()  # the stream has moved on from its seed
    twin = sandbox.fork()
    assert twin.state_hash() == sandbox.state_hash() and twin.describe() == {**sandbox.describe(), "id": twin.id}
    source_env, twin_env = sandbox.environments[env], twin.environments[env]
    assert type(twin_env) is type(source_env) and twin_env.__dict__.keys() == source_env.__dict__.keys()
    assert not _containers(source_env.state, {}).keys() & _containers(twin_env.state, {}).keys()
    assert [twin_env.rng.random() for _ in range(5)] == [source_env.rng.random() for _ in range(5)]
    assert all(twin.tool_spec(name) is sandbox.tool_spec(name) for name in sandbox._tools)
    assert {name: env_ for name, (env_, _) in twin._tools.items()} == dict.fromkeys(sandbox._tools, twin_env)


def test_a_wrapped_class_forks_with_every_attribute_and_its_own_future():
    class Counter:
        def __init__(self):
            self.counts = {"a": 1}
            self._history = []

        def bump(self, key: str) -> int:
            """Add one to a count."""
            self.counts[key] = self.counts.get(key, 0) + 1
            self._history.append(key)
            return self.counts[key]

    sandbox = Sandbox([environment_from_class(Counter)({"counts": {"a": 1}})], sandbox_id="s", scenario={}, seed=0)
    sandbox.execute("bump", {"key": "a"})
    twin = sandbox.fork()
    assert twin.state_hash() == sandbox.state_hash()
    assert twin.environments["counter"].instance._history == ["a"]
    twin.execute("bump", {"key": "b"})
    assert sandbox.state()["counter"]["counts"] == {"a": 2} and twin.state()["counter"]["counts"] == {"a": 2, "b": 1}
    assert sandbox.environments["counter"].instance._history == ["a"]
