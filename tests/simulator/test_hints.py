"""Hints files: checked on load and against the server, then merged as if the server had published them."""

import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import anyio
import pytest

from servers import create_app
from simulator import ServerTarget, build_graph
from simulator.explorer import ExploreConfig, explore
from simulator.hints import HintsError, load_hints
from simulator.store import Store
from tests.conftest import FUNREASON, funreason, http_server

KV_SERVER = f"{sys.executable} {Path(__file__).with_name('kv_server.py')}"

KV_HINTS = """
[pools]
value = ["apples", "pears"]

[tools.put]
asks = ["Keep {value} for me."]
answers = ["I kept it under {handle}."]
produces = { handle = "handle" }
description = "Store a value; the handle it returns reads it back."

[tools.get]
read_only = true
asks = ["What did I store under {key}?"]
consumes = { key = "handle" }
"""

LIBRARY = '''
class Library:
    """A small lending library."""

    def __init__(self):
        self.books = {"Dune": None, "Emma": None}

    def lend_book(self, title: str, borrower: str) -> dict:
        """Lend a book.

        Args:
            title: Title of the book.
            borrower: Who borrows it.
        """
        if self.books.get(title, "x") is not None:
            return {"error": f"{title} is not available"}
        self.books[title] = borrower
        return {"lent": True}

    def list_books(self) -> dict:
        """List the books and who has them."""
        return {"books": dict(self.books)}
'''


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def listed(target: ServerTarget) -> dict:
    async def tools() -> dict:
        async with target.connect() as connection:
            return {tool.name: tool for tool in connection.tools}

    return anyio.run(tools)


def test_toml_and_json_give_the_same_hints(tmp_path):
    toml = load_hints(write(tmp_path, "kv.toml", KV_HINTS))
    as_json = load_hints(write(tmp_path, "kv.json", json.dumps(tomllib.loads(KV_HINTS))))
    assert (toml.tools, toml.descriptions, toml.pools) == (as_json.tools, as_json.descriptions, as_json.pools)
    get = {"read_only": True, "asks": ["What did I store under {key}?"], "consumes": {"key": "handle"}}
    assert toml.tools["get"] == get
    assert toml.pools == {"value": ["apples", "pears"]}


def test_a_real_stdio_server_gets_the_hints_as_if_it_had_published_them(tmp_path):
    hints = write(tmp_path, "kv.toml", KV_HINTS)
    plain = listed(ServerTarget(command=KV_SERVER))
    hinted = listed(ServerTarget(command=KV_SERVER, hints=str(hints)))
    assert plain["get"].hints is None and plain["get"].read_only is not True
    assert hinted["get"].read_only is True and hinted["get"].hints["consumes"] == {"key": "handle"}
    assert hinted["put"].description == "Store a value; the handle it returns reads it back."
    assert hinted["size"] == plain["size"]  # a tool the file does not name stays as the server lists it
    edge = build_graph(hinted.values()).edges["put", "get"]
    reasons = [{key: value for key, value in reason.items() if key != "evidence"} for reason in edge["reasons"]]
    assert {"kind": "value", "source": "declared", "param": "key", "field": "handle", "entity": "handle"} in reasons


def test_the_explorer_and_the_store_use_the_hints_and_their_pools(tmp_path):
    hints = write(tmp_path, "kv.toml", KV_HINTS)
    db = tmp_path / "kv.db"
    outcome = funreason(
        "explore", "--server-cmd", KV_SERVER, "--hints", str(hints), "--db", str(db), "--trajectories", "3"
    )
    assert outcome.returncode == 0, outcome.stderr
    with Store(db) as store:
        steps = [step for trajectory in store.iter_trajectories() for step in trajectory.steps]
        run = next(iter(store.iter_trajectories())).run_id
        assert store.run_config(run)["server"]["hints"] == str(hints)  # synthesis reconnects with them
    stored = {step.arguments["value"] for step in steps if step.tool == "put"}
    assert stored and stored <= {"apples", "pears"}
    target = ServerTarget.from_record(f"cmd:{KV_SERVER}", "default", options={"hints": str(hints)})
    assert listed(target)["get"].read_only is True


def test_serve_class_publishes_the_hints_over_stdio(tmp_path):
    (tmp_path / "library.py").write_text(LIBRARY, encoding="utf-8")
    hints = write(
        tmp_path,
        "library.toml",
        """
        [pools]
        title = ["Dune", "Emma"]
        [tools.lend_book]
        asks = ["Lend {title} to {borrower}."]
        answers = ["{@title} is now with {@borrower}."]
        [tools.list_books]
        read_only = true
        asks = ["Which books do you have?"]
        description = "List every book and its borrower."
        """,
    )
    command = f"{FUNREASON} serve --class library:Library --hints {hints}"
    target = ServerTarget(command=f"sh -c 'cd {tmp_path} && exec {command}'")
    tools = listed(target)
    assert tools["list_books"].read_only is True
    assert tools["list_books"].description == "List every book and its borrower."
    assert tools["lend_book"].hints["asks"] == ["Lend {title} to {borrower}."]


@pytest.mark.parametrize(
    ("text", "tool", "key"),
    [
        ('[tools.put]\nasks = ["Keep {valu} for me."]\n', "put", "asks"),
        ('[tools.put]\nasks = ["Keep it."]\n', "put", "asks"),  # leaves out the required value
        ('[tools.get]\nconsumes = { handle = "handle" }\n', "get", "consumes"),
        ('[tools.get]\nanswers = ["{@handle}"]\n', "get", "answers"),
        ('[tools.delete]\nasks = ["Delete {key}."]\n', "delete", "delete"),
        ('[tools.get]\nread_only = "yes"\n', "get", "read_only"),
        ('[tools.get]\nask = ["What is {key}?"]\n', "get", "ask"),
        ('[tools.get]\nasks = ["What is {key"]\n', "get", "asks"),
    ],
)
def test_a_bad_hints_file_is_one_line_naming_file_tool_and_key_and_exit_2(tmp_path, text, tool, key):
    hints = write(tmp_path, "bad.toml", text)
    outcome = funreason("graph", "--server-cmd", KV_SERVER, "--hints", str(hints), "--out", str(tmp_path / "g.json"))
    lines = outcome.stderr.strip().splitlines()
    assert outcome.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), outcome.stderr
    assert str(hints) in lines[0] and f"tools.{tool}" in lines[0] and key in lines[0]


def test_the_installed_command_says_it_in_one_line_too(tmp_path):
    hints = write(tmp_path, "bad.toml", '[tools.put]\nasks = ["Keep {valu} for me."]\n')
    command = [FUNREASON, "explore", "--server-cmd", KV_SERVER, "--hints", str(hints), "--db", str(tmp_path / "x.db")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert errors == [
        f"error: {hints}: tools.put: asks: 'Keep {{valu}} for me.' names 'valu', which is no parameter of the tool"
    ]


def test_a_hints_file_that_is_no_table_of_tools_is_refused_on_load(tmp_path):
    with pytest.raises(HintsError, match=r"bad\.json: unknown key 'tool'"):
        load_hints(write(tmp_path, "bad.json", '{"tool": {}}'))
    with pytest.raises(HintsError, match=r"bad\.toml: not valid TOML"):
        load_hints(write(tmp_path, "bad.toml", "[tools.put\n"))
    with pytest.raises(HintsError, match=r"pools\.value: a pool must be a list"):
        load_hints(write(tmp_path, "pools.toml", '[pools]\nvalue = "apples"\n'))


def test_a_server_url_gets_the_hints_too(tmp_path):
    hints = write(tmp_path, "travel.toml", '[tools.list_airports]\nasks = ["Where can I fly from?"]\n')
    with http_server(create_app(["travel"])) as base:
        for url in (base, base + "/mcp"):  # a fresh sandbox per trajectory, and the shared default one
            tools = listed(ServerTarget(url=url, hints=str(hints)))
            assert tools["list_airports"].hints["asks"] == ["Where can I fly from?"]
            assert tools["list_airports"].hints["answers"]  # what the server published stays, unless the file says


def test_explore_with_hints_on_a_builtin_environment_is_deterministic(tmp_path):
    hints = write(
        tmp_path,
        "travel.toml",
        """
        [tools.get_airport_by_city]
        asks = ["Which airport serves {city}?"]
        """,
    )
    target = ServerTarget(envs=("travel",), hints=str(hints))
    assert listed(target)["get_airport_by_city"].hints["asks"] == ["Which airport serves {city}?"]
    first = explore(target, tmp_path / "a.db", ExploreConfig(trajectories=4, seed=1))
    second = explore(target, tmp_path / "b.db", ExploreConfig(trajectories=4, seed=1))
    with Store(tmp_path / "a.db") as a, Store(tmp_path / "b.db") as b:
        calls = [[(s.tool, s.arguments, s.result) for s in t.steps] for t in a.iter_trajectories(first)]
        assert calls == [[(s.tool, s.arguments, s.result) for s in t.steps] for t in b.iter_trajectories(second)]


@pytest.mark.heavy
def test_synthesize_with_hints_phrases_requests_of_a_server_explored_without_them(tmp_path):
    db = tmp_path / "kv.db"
    explored = funreason("explore", "--server-cmd", KV_SERVER, "--db", str(db), "--trajectories", "4", "--seed", "1")
    assert explored.returncode == 0, explored.stderr
    hints = write(tmp_path, "kv.toml", KV_HINTS)
    made = funreason("synthesize", "--db", str(db), "--hints", str(hints), "--turns", "1-2")
    assert made.returncode == 0, made.stderr
    out = tmp_path / "openai.jsonl"
    assert funreason("export", "--db", str(db), "--format", "openai", "--out", str(out)).returncode == 0
    requests = [
        message["content"]
        for line in out.read_text(encoding="utf-8").splitlines()
        for message in json.loads(line)["messages"]
        if message["role"] == "user"
    ]
    assert requests and any(text.startswith(("Keep ", "What did I store under")) for text in requests), requests


@pytest.mark.heavy
def test_run_with_hints_speaks_in_the_file_s_words(tmp_path):
    """`run --hints` puts the file on the built-in environment for the whole run (a process of its own here:
    the hinted environment replaces the registered one in that process)."""
    hints = write(tmp_path, "math.toml", '[tools.factorial]\nasks = ["Tally up {n} factorial, please."]\n')
    out = tmp_path / "run"
    command = [FUNREASON, "run", "--envs", "math", "--trajectories", "6", "--hints", str(hints), "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    requests = [
        message["content"]
        for line in (out / "openai.jsonl").read_text(encoding="utf-8").splitlines()
        for message in json.loads(line)["messages"]
        if message["role"] == "user"
    ]
    assert any("Tally up" in text for text in requests), requests  # a later turn may open with "Thanks."
