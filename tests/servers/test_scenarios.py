"""Scenario files: shipped ones load, bad ones give one line naming the file and the field."""

import json

import pytest

from servers import InvalidArgument, ScenarioError, create_sandbox, get_environment, load_pools, load_scenario
from servers.registry import environment_names
from servers.scenarios import combined_scenario_names, load_combined_scenario


def write(tmp_path, data, name="scenario.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.mark.parametrize("env", environment_names())
def test_pools_are_lists(env):
    assert all(isinstance(values, list) and values for values in load_pools(env).values())


def test_a_scenario_file_by_path(tmp_path):
    path = write(tmp_path, {"description": "mine", "state": {"cwd": "/", "nodes": {"/": {"kind": "directory"}}}})
    sandbox = create_sandbox("filesystem", str(path))
    assert sandbox.scenario == {"filesystem": "scenario"}
    assert sandbox.state()["filesystem"]["cwd"] == "/"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"state": {"cwd": "/", "nodes": {"/": {"kind": "folder"}}}}, "state.nodes./.kind: Input should be"),
        ({"state": {"cwd": "/x", "nodes": {"/": {"kind": "directory"}}}}, "cwd '/x' is not a directory"),
        ({"state": {"nodes": {}, "colour": "red"}}, "state.colour: Extra inputs are not permitted"),
        ({"description": "no state"}, "missing key 'state'"),
        ({"state": {}, "stat": {}}, "unexpected key 'stat'"),
        ('{"state": {"cwd": "/"', "invalid JSON at line 1"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_a_bad_scenario_is_one_line_naming_file_and_field(tmp_path, content, expected):
    path = write(tmp_path, content)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(get_environment("filesystem"), path=path)
    message = str(caught.value)
    assert message.startswith(str(path)) and expected in message
    assert "\n" not in message


def test_unknown_and_missing_scenarios(tmp_path):
    with pytest.raises(ScenarioError, match="unknown scenario 'nope' for environment 'messaging' \\(known: default"):
        create_sandbox("messaging", "nope")
    with pytest.raises(ScenarioError, match="cannot read"):
        create_sandbox("messaging", str(tmp_path / "missing.json"))


@pytest.mark.parametrize("name", combined_scenario_names())
def test_combined_scenarios_put_several_environments_in_one_sandbox(name):
    sandbox = create_sandbox([], name)
    assert len(sandbox.env_names) >= 2
    assert sandbox.scenario == load_combined_scenario(name)
    tool_names = [tool for env in sandbox.environments.values() for tool in env.tool_specs()]
    assert len(tool_names) == len(set(tool_names))


def test_combined_scenario_must_match_named_environments():
    with pytest.raises(InvalidArgument, match="is for travel, messaging"):
        create_sandbox(["filesystem"], "trip_planning")
