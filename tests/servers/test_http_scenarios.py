"""Scenarios over HTTP are names, never paths: no request makes the server read a file of the client's choice.

Every file the server process opens while the requests run is recorded (an audit
hook), so "nothing outside the scenario folders was read" is measured, not assumed.
"""

import json
import sys
from pathlib import Path

import httpx2
import pytest

from servers import SandboxManager, ScenarioError, create_app, fixtures_root
from tests.conftest import funreason, http_server

SECRET = "AKIA-not-for-clients"
_opened: list[str] | None = None


def _record_opens(event: str, args: tuple) -> None:
    if event == "open" and _opened is not None and isinstance(args[0], str | Path):
        _opened.append(str(args[0]))


sys.addaudithook(_record_opens)


@pytest.fixture(scope="module")
def scenario_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    (root / "filesystem").mkdir()
    state = {"cwd": "/", "nodes": {"/": {"kind": "directory"}, "/ours.txt": {"kind": "file", "content": "ours"}}}
    (root / "filesystem" / "ours.json").write_text(json.dumps({"description": "our own", "state": state}))
    return root


@pytest.fixture(scope="module")
def secrets(tmp_path_factory):
    """Files a client must not be able to reach: a key file, one shaped like a scenario, one not UTF-8."""
    folder = tmp_path_factory.mktemp("secrets")
    (folder / "keys.json").write_text(json.dumps({"aws_secret_access_key": SECRET}))
    state = {"cwd": "/", "nodes": {"/": {"kind": "directory"}, "/stolen": {"kind": "file", "content": SECRET}}}
    (folder / "stolen.json").write_text(json.dumps({"description": SECRET, "state": state}))
    (folder / "binary.json").write_bytes(b"\xff\xfe\x00not utf-8")
    return folder


@pytest.fixture(scope="module")
def base(scenario_dir):
    manager = SandboxManager(scenario_dir=scenario_dir)
    with http_server(create_app(["filesystem", "messaging"], manager=manager)) as url:
        yield url


def attempts(folder: Path) -> list:
    """Scenario values a client might try to reach a file with."""
    found = []
    for name in ("keys", "stolen", "binary"):
        path = folder / f"{name}.json"
        found += [
            str(path),
            str(path.with_suffix("")),
            f"{name}.json",
            "../" * 12 + str(path).lstrip("/"),
            "../" * 12 + str(path.with_suffix("")).lstrip("/"),
            f"..%2f..%2f{name}",
            f"default/../../{name}",
            {"filesystem": str(path)},
            {"filesystem": "../" * 12 + str(path.with_suffix("")).lstrip("/")},
        ]
    return [*found, "../combined/trip_planning", "/etc/passwd", "", "x" * 500, "default\x00.json", 7, ["default"]]


def test_no_request_reads_a_file_outside_the_scenario_folders(base, scenario_dir, secrets):
    global _opened
    _opened = []
    try:
        bodies = [{"env": "filesystem", "scenario": value} for value in attempts(secrets)]
        responses = [httpx2.post(f"{base}/sandboxes", json=body) for body in bodies]
        responses.append(httpx2.post(f"{base}/sandboxes", json={"env": str(secrets / "keys.json")}))
        control = httpx2.post(f"{base}/sandboxes", json={"env": "filesystem", "scenario": "ours"})
    finally:
        opened, _opened = _opened, None
    assert control.status_code == 201 and str(scenario_dir / "filesystem" / "ours.json") in opened  # the hook sees
    assert [r.status_code for r in responses] == [400] * len(responses)
    for response in responses:
        assert SECRET not in response.text and "aws_secret" not in response.text and "Traceback" not in response.text
    allowed = (str(fixtures_root()), str(scenario_dir), sys.prefix, sys.base_prefix)
    outside = [path for path in opened if not path.startswith(allowed)]
    assert outside == [], outside  # the figure: 0 files outside the scenario folders were opened


def test_shipped_and_own_scenarios_are_named(base):
    shipped = httpx2.post(f"{base}/sandboxes", json={"env": "messaging", "scenario": "new_service"})
    assert shipped.status_code == 201
    own = httpx2.post(f"{base}/sandboxes", json={"env": "filesystem", "scenario": "ours"})
    assert own.status_code == 201 and own.json()["scenario"] == {"filesystem": "ours"}
    state = httpx2.get(f"{base}/sandboxes/{own.json()['id']}/state").json()
    assert state["filesystem"]["nodes"]["/ours.txt"]["content"] == "ours"
    by_env = httpx2.post(
        f"{base}/sandboxes", json={"env": ["filesystem", "messaging"], "scenario": {"filesystem": "ours"}}
    )
    assert by_env.status_code == 201
    combined = httpx2.post(f"{base}/sandboxes", json={"scenario": "trip_planning"})
    assert combined.status_code == 400 and "not served here" in combined.json()["error"]  # travel is not served
    unknown = httpx2.post(f"{base}/sandboxes", json={"env": "filesystem", "scenario": "nope"})
    assert "unknown scenario 'nope'" in unknown.json()["error"] and "ours" in unknown.json()["error"]


def test_an_own_scenario_gone_bad_after_start_is_not_quoted_to_the_client(base, scenario_dir):
    path = scenario_dir / "filesystem" / "ours.json"
    good = path.read_text()
    path.write_text(json.dumps({"aws_secret_access_key": SECRET, "state": {}}))
    try:
        response = httpx2.post(f"{base}/sandboxes", json={"env": "filesystem", "scenario": "ours"})
    finally:
        path.write_text(good)
    assert response.status_code == 400 and "server's log" in response.json()["error"]
    assert SECRET not in response.text and "aws_secret" not in response.text


def test_bad_own_scenarios_stop_the_server_at_start_with_one_line(tmp_path):
    (tmp_path / "filesystem").mkdir()
    bad = tmp_path / "filesystem" / "leaky.json"
    bad.write_text(json.dumps({"aws_secret_access_key": SECRET}))
    with pytest.raises(ScenarioError, match="leaky.json"):
        create_app(["filesystem"], manager=SandboxManager(scenario_dir=tmp_path))
    bad.write_bytes(b"\xff\xfe not utf-8")
    outcome = funreason("serve", "filesystem", "--transport", "http", "--scenarios", str(tmp_path))
    assert outcome.returncode != 0 and "not UTF-8" in outcome.stderr and len(outcome.stderr.splitlines()) == 1
    bad.unlink()
    (tmp_path / "filesystem" / "with space.json").write_text("{}")
    outcome = funreason("serve", "filesystem", "--transport", "http", "--scenarios", str(tmp_path))
    assert outcome.returncode != 0 and "file name" in outcome.stderr


def test_a_scenario_path_stays_a_cli_option(tmp_path):
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    outcome = funreason("serve", "filesystem", "--scenario", str(binary))
    assert outcome.returncode != 0 and "not UTF-8" in outcome.stderr and len(outcome.stderr.splitlines()) == 1
