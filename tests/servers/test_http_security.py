"""The HTTP service as a web page or a stranger would try it, on 127.0.0.1: every route refuses.

DNS rebinding (foreign Host), cross-site requests (foreign Origin, `text/plain` bodies),
no or a wrong token, a session carried from one sandbox's URL to another's, and the
protocol versions a client may speak.
"""

import json

import anyio
import httpx2
import pytest
from mcp import Client

from servers import ServeRefused, create_app
from tests.conftest import funreason, http_server

TOKEN = "s3cret-t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}


@pytest.fixture(scope="module")
def guarded():
    with http_server(create_app(["filesystem"], token=TOKEN)) as url:
        yield url


@pytest.fixture(scope="module")
def open_loopback():
    with http_server(create_app(["filesystem"])) as url:
        yield url


def routes(base: str, headers: dict[str, str]) -> list[tuple[str, str]]:
    """Every route of the app, with a live sandbox's id where one is needed."""
    sandbox = httpx2.post(f"{base}/sandboxes", json={"env": "filesystem"}, headers=headers).json()["id"]
    return [
        ("POST", "/sandboxes"),
        ("GET", "/sandboxes"),
        ("GET", f"/sandboxes/{sandbox}"),
        ("DELETE", f"/sandboxes/{sandbox}"),
        ("GET", f"/sandboxes/{sandbox}/state"),
        ("POST", f"/sandboxes/{sandbox}/fork"),
        ("GET", f"/sandboxes/{sandbox}/mcp"),
        ("POST", f"/sandboxes/{sandbox}/mcp"),
        ("DELETE", f"/sandboxes/{sandbox}/mcp"),
        ("GET", "/mcp"),
        ("POST", "/mcp"),
        ("DELETE", "/mcp"),
    ]


ATTACKS = {
    "evil Origin": ({"Origin": "http://evil.example"}, 403),
    "evil Host": ({"Host": "evil.example"}, 421),
    "evil Host with our port": ({"Host": "evil.example:8765"}, 421),
    "no token": ({}, 401),
    "wrong token": ({"Authorization": "Bearer nope"}, 401),
}


def test_every_route_refuses_every_attack(guarded):
    answered = []
    attempts = 0
    with httpx2.Client() as http:  # one client: building one per request costs more than the request
        for method, path in routes(guarded, AUTH):
            for attack, (headers, status) in ATTACKS.items():
                if attack.startswith("evil"):
                    headers = headers | AUTH  # even with the token: a rebinding page must not get through
                body = INITIALIZE if path.endswith("/mcp") else {"env": "filesystem"}
                response = http.request(method, guarded + path, json=body, headers=MCP_HEADERS | headers)
                attempts += 1
                if response.status_code != status:
                    answered.append((method, path, attack, response.status_code))
    assert attempts == 12 * 5 and answered == []


def test_loopback_server_without_token_still_refuses_foreign_hosts_and_origins(open_loopback):
    with httpx2.Client() as http:
        for method, path in routes(open_loopback, {}):
            body = INITIALIZE if path.endswith("/mcp") else {"env": "filesystem"}
            for headers, status in (ATTACKS["evil Origin"], ATTACKS["evil Host"]):
                response = http.request(method, open_loopback + path, json=body, headers=MCP_HEADERS | headers)
                assert response.status_code == status, (method, path, headers)


def test_loopback_names_and_origins_are_answered(open_loopback):
    port = open_loopback.rsplit(":", 1)[1]
    for host, origin in [("localhost", "http://localhost"), ("127.0.0.1", "http://127.0.0.1"), ("[::1]", None)]:
        headers = {"Host": f"{host}:{port}"} | ({"Origin": f"{origin}:{port}"} if origin else {})
        created = httpx2.post(f"{open_loopback}/sandboxes", json={}, headers=headers)
        assert created.status_code == 201, (host, created.text)


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_cross_site_simple_posts_are_refused(open_loopback, content_type):
    sandbox = httpx2.post(f"{open_loopback}/sandboxes", json={}).json()["id"]
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("/sandboxes", f"/sandboxes/{sandbox}/fork", f"/sandboxes/{sandbox}/mcp", "/mcp"):
        response = httpx2.post(open_loopback + path, content=json.dumps(INITIALIZE), headers=headers)
        assert response.status_code == 415, (path, response.status_code)


def test_allowed_hosts_and_origins_extend_the_loopback_ones():
    app = create_app(["filesystem"], host="0.0.0.0", allowed_hosts=["node7:*"], allowed_origins=["https://ui.lab"])
    with http_server(app) as url:
        assert httpx2.post(f"{url}/sandboxes", json={}, headers={"Host": "node7:8765"}).status_code == 201
        assert httpx2.post(f"{url}/sandboxes", json={}, headers={"Origin": "https://ui.lab"}).status_code == 201
        assert httpx2.post(f"{url}/sandboxes", json={}, headers={"Host": "node8:8765"}).status_code == 421
        assert httpx2.post(f"{url}/sandboxes", json={}, headers={"Origin": "https://ui.lab.evil"}).status_code == 403


def test_a_token_guarded_wide_bind_answers_any_host_but_no_foreign_origin():
    with http_server(create_app(["filesystem"], host="0.0.0.0", token=TOKEN)) as url:
        assert httpx2.post(f"{url}/sandboxes", json={}, headers=AUTH | {"Host": "10.0.0.7:8765"}).status_code == 201
        foreign = httpx2.post(f"{url}/sandboxes", json={}, headers=AUTH | {"Origin": "http://evil.example"})
        assert foreign.status_code == 403


def test_an_open_wide_bind_or_an_empty_token_refuses_to_start():
    with pytest.raises(ServeRefused, match="--allowed-hosts"):
        create_app(["filesystem"], host="0.0.0.0")
    with pytest.raises(ServeRefused, match="empty"):
        create_app(["filesystem"], token="")
    outcome = funreason("serve", "filesystem", "--transport", "http", "--host", "0.0.0.0")
    assert outcome.returncode != 0 and "DNS rebinding" in outcome.stderr and len(outcome.stderr.splitlines()) == 1
    outcome = funreason("serve", "filesystem", "--transport", "http", "--token", "")
    assert outcome.returncode != 0 and "token is empty" in outcome.stderr


def test_an_empty_token_variable_refuses_to_start(monkeypatch, tmp_path):
    monkeypatch.setenv("FUNREASON_TOKEN", "")
    outcome = funreason("serve", "filesystem", "--transport", "http")
    assert outcome.returncode != 0 and "token is empty" in outcome.stderr
    monkeypatch.delenv("FUNREASON_TOKEN")
    (tmp_path / "token").write_text("\n")
    outcome = funreason("serve", "filesystem", "--transport", "http", "--token-file", str(tmp_path / "token"))
    assert outcome.returncode != 0 and "token is empty" in outcome.stderr


def test_token_scheme_is_case_insensitive_and_401_says_how_to_authenticate(guarded):
    for scheme in ("Bearer", "bearer", "BEARER"):
        response = httpx2.post(f"{guarded}/sandboxes", json={}, headers={"Authorization": f"{scheme} {TOKEN}"})
        assert response.status_code == 201, scheme
    missing = httpx2.get(f"{guarded}/sandboxes")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    wrong = httpx2.get(f"{guarded}/sandboxes", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
    basic = httpx2.get(f"{guarded}/sandboxes", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401


def test_listing_sandboxes_needs_the_token(guarded, open_loopback):
    assert httpx2.get(f"{open_loopback}/sandboxes").status_code == 403
    created = httpx2.post(f"{guarded}/sandboxes", json={}, headers=AUTH).json()["id"]
    listed = httpx2.get(f"{guarded}/sandboxes", headers=AUTH)
    assert listed.status_code == 200 and created in [box["id"] for box in listed.json()["sandboxes"]]


def test_no_session_is_handed_out_and_none_is_taken_from_elsewhere(open_loopback):
    first, second = (httpx2.post(f"{open_loopback}/sandboxes", json={}).json()["mcp"] for _ in range(2))
    opened = httpx2.post(open_loopback + first, json=INITIALIZE, headers=MCP_HEADERS)
    assert opened.status_code == 200 and "mcp-session-id" not in opened.headers
    carried = {"Mcp-Session-Id": "a-session-of-the-first-sandbox", "MCP-Protocol-Version": "2025-06-18"}
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    refused = httpx2.post(open_loopback + second, json=listing, headers=MCP_HEADERS | carried)
    assert refused.status_code == 404 and "stateless" in refused.text


@pytest.mark.parametrize("version", ["2025-03-26", "2025-06-18", "2025-11-25"])
def test_a_handshake_era_client_of_each_version_lists_and_calls(open_loopback, version):
    sandbox = httpx2.post(f"{open_loopback}/sandboxes", json={}).json()["mcp"]
    initialize = INITIALIZE | {"params": INITIALIZE["params"] | {"protocolVersion": version}}
    opened = httpx2.post(open_loopback + sandbox, json=initialize, headers=MCP_HEADERS)
    assert opened.status_code == 200 and version in opened.text
    headers = MCP_HEADERS | {"MCP-Protocol-Version": version}
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "pwd", "arguments": {}}}
    answered = httpx2.post(open_loopback + sandbox, json=call, headers=headers)
    assert answered.status_code == 200 and "/home/alex" in answered.text


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28", "auto"])
def test_the_sdk_client_connects_in_every_mode(open_loopback, mode):
    sandbox = httpx2.post(f"{open_loopback}/sandboxes", json={}).json()["mcp"]

    async def main() -> str:
        async with Client(open_loopback + sandbox, mode=mode) as client:
            assert not (await client.call_tool("touch", {"file_name": "kept.txt"})).is_error
            return (await client.call_tool("ls", {})).content[0].text

    assert "kept.txt" in anyio.run(main)
