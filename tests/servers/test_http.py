"""The HTTP sandbox service on 127.0.0.1: lifecycle, isolation, errors, cap, expiry and tokens."""

import anyio
import httpx2
import pytest
from mcp import Client

from servers import SandboxManager, create_app
from tests.conftest import http_server


@pytest.fixture(scope="module")
def base():
    with http_server(create_app(["filesystem", "messaging"])) as url:
        yield url


def create(base, **body):
    response = httpx2.post(f"{base}/sandboxes", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_lifecycle(base):
    sandbox = create(base, env="messaging", scenario="new_service", seed=7)
    assert sandbox["mcp"] == f"/sandboxes/{sandbox['id']}/mcp"
    assert sandbox["scenario"] == {"messaging": "new_service"} and sandbox["seed"] == 7
    assert httpx2.get(f"{base}/sandboxes/{sandbox['id']}").json()["id"] == sandbox["id"]
    listing = httpx2.get(f"{base}/sandboxes")  # ids are capabilities: no list without a token
    assert listing.status_code == 403 and "token" in listing.json()["error"]
    assert set(httpx2.get(f"{base}/sandboxes/{sandbox['id']}/state").json()["messaging"]["users"]) == {
        "USR001",
        "USR002",
        "USR003",
    }
    assert httpx2.delete(f"{base}/sandboxes/{sandbox['id']}").status_code == 204
    gone = httpx2.get(f"{base}/sandboxes/{sandbox['id']}/state")
    assert gone.status_code == 404 and "no sandbox" in gone.json()["error"]


def test_ids_are_random_not_sequential(base):
    ids = [create(base, env="filesystem")["id"] for _ in range(3)]
    assert len(set(ids)) == 3 and all(len(sandbox_id) >= 16 for sandbox_id in ids)
    assert not any(a in b or b in a for a in ids for b in ids if a != b)


def test_two_sandboxes_of_one_scenario_are_isolated(base):
    first, second = create(base, env="filesystem"), create(base, env="filesystem")

    async def main() -> None:
        async with Client(base + first["mcp"]) as client:
            assert not (await client.call_tool("touch", {"file_name": "only_here.txt"})).is_error
        async with Client(base + second["mcp"]) as client:
            missing = await client.call_tool("cat", {"file_name": "only_here.txt"})
            assert missing.is_error

    anyio.run(main)
    first_nodes = httpx2.get(f"{base}/sandboxes/{first['id']}/state").json()["filesystem"]["nodes"]
    second_nodes = httpx2.get(f"{base}/sandboxes/{second['id']}/state").json()["filesystem"]["nodes"]
    assert "/home/alex/only_here.txt" in first_nodes and "/home/alex/only_here.txt" not in second_nodes


def test_a_sandbox_of_two_environments_lists_both_toolsets(base):
    sandbox = create(base, env=["filesystem", "messaging"], scenario={"messaging": "logged_in_busy"})

    async def main() -> None:
        async with Client(base + sandbox["mcp"]) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert {"ls", "send_message"} <= names
            inbox = await client.call_tool("view_inbox", {"unread_only": True})
            assert not inbox.is_error and inbox.structured_content["message_ids"]

    anyio.run(main)


def test_a_combined_scenario_picks_its_environments():
    with http_server(create_app(["travel", "messaging"])) as url:
        sandbox = create(url, scenario="trip_planning")
        assert sandbox["env"] == ["travel", "messaging"]
        assert sandbox["scenario"] == {"travel": "frequent_flyer", "messaging": "default"}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"env": "nope"}, 400, "'nope' is an unknown environment"),
        ({"env": "filesystem", "scenario": "nope"}, 400, "unknown scenario 'nope'"),
        ({"env": "filesystem", "seed": "x"}, 400, "'seed' must be an integer"),
        ({"env": []}, 400, "'env' must be"),
        ("not json", 400, "not valid JSON"),
        ([1, 2], 400, "must be a JSON object"),
    ],
)
def test_bad_requests_are_json_4xx(base, body, status, message):
    if isinstance(body, str):
        response = httpx2.post(f"{base}/sandboxes", content=body, headers={"Content-Type": "application/json"})
    else:
        response = httpx2.post(f"{base}/sandboxes", json=body)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_unknown_sandbox_everywhere_is_404(base):
    for method, path in [("GET", "/state"), ("DELETE", ""), ("GET", ""), ("POST", "/mcp")]:
        response = httpx2.request(method, f"{base}/sandboxes/not-a-sandbox{path}", json={})
        assert response.status_code == 404 and "error" in response.json()


def test_environments_not_served_are_refused():
    with http_server(create_app(["messaging"])) as url:
        response = httpx2.post(f"{url}/sandboxes", json={"env": "filesystem"})
        assert response.status_code == 400 and "not served here" in response.json()["error"]


def test_cap_answers_429_and_idle_sandboxes_expire():
    now = [0.0]
    manager = SandboxManager(max_sandboxes=2, idle_timeout=60, clock=lambda: now[0])
    with http_server(create_app(["filesystem"], manager=manager)) as url:
        first = create(url, env="filesystem")
        create(url, env="filesystem")
        refused = httpx2.post(f"{url}/sandboxes", json={"env": "filesystem"})
        assert refused.status_code == 429 and "too many live sandboxes" in refused.json()["error"]
        now[0] = 61
        assert httpx2.get(f"{url}/sandboxes/{first['id']}").status_code == 404
        assert httpx2.get(f"{url}/sandboxes/{create(url, env='filesystem')['id']}").status_code == 200

        async def default_still_serves() -> None:
            async with Client(f"{url}/mcp") as client:
                assert not (await client.call_tool("pwd", {})).is_error

        anyio.run(default_still_serves)


def test_bearer_token_is_required_everywhere_when_set():
    with http_server(create_app(["filesystem"], token="s3cret")) as url:
        for method, path in [("POST", "/sandboxes"), ("GET", "/sandboxes"), ("POST", "/mcp")]:
            response = httpx2.request(method, url + path, json={})
            assert response.status_code == 401 and "bearer token" in response.json()["error"]
        wrong = httpx2.get(f"{url}/sandboxes", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        headers = {"Authorization": "Bearer s3cret"}
        created = httpx2.post(f"{url}/sandboxes", json={"env": "filesystem"}, headers=headers)
        assert created.status_code == 201
