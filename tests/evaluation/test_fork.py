"""Fork: a new sandbox with exactly the same state and random stream, whose future is its own."""

import anyio
import httpx2
import pytest
from mcp import Client

from servers import SandboxLimitReached, SandboxManager, create_app, create_sandbox
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
        forked = httpx2.post(f"{base}/sandboxes/{created['id']}/fork")
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
        assert httpx2.post(f"{base}/sandboxes/nope/fork").status_code == 404


def test_fork_counts_against_the_cap():
    manager = SandboxManager(max_sandboxes=1)
    sandbox = manager.create("filesystem")
    with pytest.raises(SandboxLimitReached, match="too many live sandboxes"):
        manager.fork(sandbox.id)
