"""Any stateful Python class served as an environment, in-process and over stdio."""

import json
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from servers import Sandbox, ScenarioError, load_scenario, serve_sandbox
from servers.classes import environment_from_class

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
            assert tools["return_book"].output_schema["properties"]["result"]["type"] == "integer"

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
            assert refused.is_error and "no copy of Dune is available" in refused.content[0].text
            crashed = await client.call_tool("return_book", {"title": "Dune", "borrower": "nobody"})
            assert crashed.is_error and "ValueError" in crashed.content[0].text
            assert sandbox.state_hash() == before
            counted = await client.call_tool("count_books", {})
            assert counted.structured_content == {"result": 2}

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
