"""Any stateful Python class served as an environment, in-process, over stdio and over HTTP."""

import json
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from servers import (
    Sandbox,
    ScenarioError,
    ToolError,
    create_app,
    create_sandbox,
    load_scenario,
    register_environment,
    serve_sandbox,
)
from servers.classes import environment_from_class
from tests.conftest import FUNREASON, http_server

LIBRARY = textwrap.dedent(
    '''
    class Library:
        """A small lending library."""

        def __init__(self):
            self.books = {}
            self.loans = []
            self._audit = []

        def load(self, config):
            self.books = dict(config["books"])
            self.loans = list(config.get("loans", []))

        def lend_book(self, title: str, borrower: str) -> dict:
            """Lend a book to a borrower.

            Args:
                title (str): Title of the book to lend.
                borrower: Name of the person
                    borrowing it.
            """
            if self.books.get(title, 0) < 1:
                return {"error": f"no copy of {title} is available"}
            self.books[title] -= 1
            self.loans.append([title, borrower])
            return {"title": title, "copies_left": self.books[title]}

        def return_book(self, title: str, borrower: str) -> int:
            """Take a book back.

            :param title: Title of the returned book.
            :param str borrower: Who returns it.
            :returns: copies on the shelf.
            """
            self.loans.remove([title, borrower])
            self.books[title] += 1
            return self.books[title]

        def count_books(self) -> int:
            """Count the copies on the shelves."""
            return sum(self.books.values())
    '''
)
CONFIG = {"books": {"Dune": 1, "Emma": 2}, "loans": [["Emma", "ana"]]}

# Annotations as code we did not write has them: wrong returns, loose parameters.
LOOSE = textwrap.dedent(
    '''
    class Counter:
        """A counter."""

        def __init__(self):
            self.count = 0
            self.log = []

        def load(self, config):
            self.count = config["count"]

        def bump(self, by: float) -> None:
            """Add to the count."""
            self.count += by
            return {"count": self.count}

        def find(self, ticket_id: int) -> dict:
            """Find a ticket."""
            return f"ticket {ticket_id!r}"

        def reset(self) -> int:
            """Reset the count (refused, after writing to the log)."""
            self.log.append("reset")
            return {"error": "reset is not allowed"}

        def items(self) -> str:
            """List the items."""
            return [self.count, "a", None, True]
    '''
)
LOOSE_CALLS = [("bump", {"by": 2}), ("find", {"ticket_id": "t-1"}), ("reset", {}), ("items", {}), ("bump", {"by": 0.5})]


@pytest.fixture
def library_class(tmp_path, monkeypatch):
    (tmp_path / "library_app.py").write_text(LIBRARY)
    monkeypatch.syspath_prepend(str(tmp_path))
    from library_app import Library

    return Library


def sandbox_of(env_class) -> Sandbox:
    return Sandbox([env_class(load_scenario(env_class).state)], sandbox_id="t", scenario={}, seed=0)


def test_schemas_come_from_hints_and_docstrings(library_class):
    env = environment_from_class(library_class, config=CONFIG, loader="load")
    assert env.name == "library" and env.description == "A small lending library."
    assert set(env.tool_specs()) == {"lend_book", "return_book", "count_books"}

    async def main() -> None:
        async with Client(serve_sandbox(sandbox_of(env))) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            lend = tools["lend_book"].input_schema["properties"]
            assert lend["title"] == {"description": "Title of the book to lend.", "title": "Title", "type": "string"}
            assert lend["borrower"]["description"] == "Name of the person borrowing it."
            assert tools["lend_book"].description == "Lend a book to a borrower."
            returned = tools["return_book"].input_schema["properties"]
            assert returned["borrower"]["description"] == "Who returns it."
            # nothing promises that a class we did not write returns what it annotates
            assert all(tool.output_schema is None for tool in tools.values())

    anyio.run(main)


def test_trusted_annotations_give_output_schemas(library_class):
    env = environment_from_class(library_class, config=CONFIG, loader="load", trust_annotations=True)

    async def main() -> None:
        async with Client(serve_sandbox(sandbox_of(env))) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert tools["return_book"].output_schema["properties"]["result"]["type"] == "integer"
            assert (await client.call_tool("count_books", {})).structured_content == {"result": 3}
            wrong = await client.call_tool("lend_book", {"title": 3, "borrower": "x"})
            assert wrong.is_error and "valid string" in wrong.content[0].text

    anyio.run(main)


def test_calls_errors_and_state_in_process(library_class):
    env = environment_from_class(library_class, config=CONFIG, loader="load")
    sandbox = sandbox_of(env)
    assert sandbox.state() == {"library": {"books": {"Dune": 1, "Emma": 2}, "loans": [["Emma", "ana"]]}}

    async def main() -> None:
        async with Client(serve_sandbox(sandbox)) as client:
            lent = await client.call_tool("lend_book", {"title": "Dune", "borrower": "bo"})
            assert lent.structured_content == {"title": "Dune", "copies_left": 0}
            before = sandbox.state_hash()
            refused = await client.call_tool("lend_book", {"title": "Dune", "borrower": "cy"})
            assert refused.is_error and refused.structured_content == {"error": "no copy of Dune is available"}
            assert json.loads(refused.content[0].text) == refused.structured_content
            crashed = await client.call_tool("return_book", {"title": "Dune", "borrower": "nobody"})
            assert crashed.is_error and "ValueError" in crashed.content[0].text
            assert sandbox.state_hash() == before
            counted = await client.call_tool("count_books", {})
            assert counted.structured_content is None and counted.content[0].text == "2"

    anyio.run(main)
    assert sandbox.state()["library"]["loans"] == [["Emma", "ana"], ["Dune", "bo"]]
    snapshot = sandbox.snapshot()
    sandbox.execute("return_book", {"title": "Dune", "borrower": "bo"})
    sandbox.restore(snapshot)
    assert sandbox.state()["library"]["books"]["Dune"] == 0


def test_attribute_assignment_without_a_loader(library_class):
    env = environment_from_class(library_class, config={"books": {"Ulysses": 3}})
    assert sandbox_of(env).state()["library"] == {"books": {"Ulysses": 3}, "loans": []}
    unknown = environment_from_class(library_class, config={"shelves": 3})
    with pytest.raises(ScenarioError, match="library scenario 'default': state.shelves: Extra inputs"):
        sandbox_of(unknown)


def test_served_over_stdio_from_the_command_line(library_class, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    funreason = str(Path(sys.executable).parent / "funreason")
    args = ["serve", "--class", "library_app:Library", "--config", "config.json", "--loader", "load"]

    async def main() -> None:
        params = StdioServerParameters(command=funreason, args=[*args, "--transport", "stdio"], cwd=str(tmp_path))
        async with Client(params) as client:
            lent = await client.call_tool("lend_book", {"title": "Emma", "borrower": "di"})
            assert lent.structured_content == {"title": "Emma", "copies_left": 1}
            state = json.loads((await client.read_resource("sandbox://library/state")).contents[0].text)
            assert state == {"books": {"Dune": 1, "Emma": 1}, "loans": [["Emma", "ana"], ["Emma", "di"]]}

    anyio.run(main)


@pytest.fixture
def counter_class(tmp_path, monkeypatch):
    (tmp_path / "counter_app.py").write_text(LOOSE)
    monkeypatch.syspath_prepend(str(tmp_path))
    from counter_app import Counter

    return Counter


def direct_results(counter_class) -> tuple[list[tuple[object, bool]], dict]:
    """What calling the methods directly gives: (a dict, or the value as JSON text; returned an error dict)."""
    counter = counter_class()
    counter.load({"count": 1})
    results = []
    for tool, arguments in LOOSE_CALLS:
        value = getattr(counter, tool)(**arguments)
        shown = value if isinstance(value, dict | str) else json.dumps(value)
        results.append((shown, isinstance(value, dict) and "error" in value))
    return results, {"count": counter.count, "log": counter.log}


async def served_results(client: Client) -> list[tuple[object, bool]]:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert tools["bump"].input_schema["properties"]["by"]["type"] == "number"
    assert tools["find"].input_schema["properties"]["ticket_id"]["type"] == "integer"
    results = []
    for tool, arguments in LOOSE_CALLS:
        result = await client.call_tool(tool, arguments)
        value = result.structured_content if result.structured_content is not None else result.content[0].text
        results.append((value, result.is_error))
    return results


def test_loose_annotations_pass_through_alike_in_process_stdio_and_http(counter_class, tmp_path):
    expected, end_state = direct_results(counter_class)
    assert expected[0] == ({"count": 3}, False) and expected[2] == ({"error": "reset is not allowed"}, True)
    env = environment_from_class(counter_class, name="loose_counter", config={"count": 1}, loader="load")
    sandbox = Sandbox([env(load_scenario(env).state)], sandbox_id="t", scenario={}, seed=0)
    (tmp_path / "config.json").write_text(json.dumps({"count": 1}))
    stdio = StdioServerParameters(
        command=FUNREASON,
        args=["serve", "--class", "counter_app:Counter", "--config", "config.json", "--loader", "load"],
        cwd=str(tmp_path),
    )

    async def main() -> None:
        async with Client(serve_sandbox(sandbox)) as client:
            assert await served_results(client) == expected
        async with Client(stdio) as client:
            assert await served_results(client) == expected
        async with Client(f"{base}/mcp") as client:
            assert await served_results(client) == expected

    register_environment(env)
    with http_server(create_app(["loose_counter"])) as base:
        anyio.run(main)
    # a returned error dict keeps what the method did, as a direct call does
    assert sandbox.state()["loose_counter"] == end_state
    assert create_sandbox("loose_counter").state()["loose_counter"] == {"count": 1, "log": []}


def test_a_result_json_cannot_carry_is_refused_and_undone(tmp_path, monkeypatch):
    (tmp_path / "gauge_app.py").write_text(
        textwrap.dedent(
            """
            class Gauge:
                def __init__(self):
                    self.readings = []

                def read(self, scale: float) -> dict:
                    self.readings.append(scale)
                    return {"value": scale * float("inf")}
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from gauge_app import Gauge

    env = environment_from_class(Gauge, name="gauge")
    sandbox = Sandbox([env(load_scenario(env).state)], sandbox_id="t", scenario={}, seed=0)

    async def main() -> None:
        async with Client(serve_sandbox(sandbox)) as client:
            result = await client.call_tool("read", {"scale": 2})
            assert result.is_error and "not a finite number" in result.content[0].text

    anyio.run(main)
    assert sandbox.state()["gauge"] == {"readings": []}


def test_a_call_that_leaves_a_state_containing_itself_is_refused_and_undone(tmp_path, monkeypatch):
    """As BFCL's file system copying a folder into itself: no `==` state check could compare the result."""
    (tmp_path / "tree_app.py").write_text(
        textwrap.dedent(
            """
            class Node:
                def __init__(self, name):
                    self.name, self.children = name, {}

                def __eq__(self, other):
                    return self.name == other.name and self.children == other.children

            class Tree:
                def __init__(self):
                    self.root = Node("root")

                def add(self, name: str) -> dict:
                    self.root.children[name] = Node(name)
                    return {"added": name}

                def nest(self, name: str) -> dict:
                    node = self.root.children[name]
                    node.children[name] = node
                    return {"nested": name}
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from tree_app import Tree

    env = environment_from_class(Tree, name="tree")
    sandbox = Sandbox([env(load_scenario(env).state)], sandbox_id="t", scenario={}, seed=0)
    sandbox.execute("add", {"name": "a"})
    before = sandbox.state_hash()
    with pytest.raises(ToolError, match="would leave 'root' containing itself"):
        sandbox.execute("nest", {"name": "a"})
    assert sandbox.state_hash() == before
