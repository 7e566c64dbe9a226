"""Round trips through the official `mcp` client: in-process, stdio and streamable HTTP."""

import json

import anyio
import httpx2
from mcp import Client, StdioServerParameters

from servers import create_app, create_sandbox, serve_sandbox
from tests.conftest import FUNREASON, http_server


async def _round_trip(client: Client) -> None:
    names = {tool.name for tool in (await client.list_tools()).tools}
    assert {"ls", "cat", "mkdir"} <= names
    listed = await client.call_tool("ls", {"path": "/home/alex"})
    assert not listed.is_error and "notes.txt" in listed.structured_content["entries"]
    assert json.loads(listed.content[0].text) == listed.structured_content
    made = await client.call_tool("mkdir", {"dir_name": "inbox"})
    assert made.structured_content == {"path": "/home/alex/inbox"}
    assert made.meta["funreason/diff"][0]["path"] == ["filesystem", "nodes", "/home/alex/inbox"]
    failed = await client.call_tool("cat", {"file_name": "missing.txt"})
    assert failed.is_error and "missing.txt: no such file or directory" in failed.content[0].text


def test_in_process():
    sandbox = create_sandbox("filesystem")

    async def main() -> None:
        async with Client(serve_sandbox(sandbox)) as client:
            await _round_trip(client)
            state = await client.read_resource("sandbox://filesystem/state")
            assert json.loads(state.contents[0].text) == sandbox.state()["filesystem"]

    anyio.run(main)
    assert "/home/alex/inbox" in sandbox.state()["filesystem"]["nodes"]


def test_stdio_subprocess():
    async def main() -> None:
        params = StdioServerParameters(command=FUNREASON, args=["serve", "filesystem", "--transport", "stdio"])
        async with Client(params) as client:
            await _round_trip(client)
            state = json.loads((await client.read_resource("sandbox://filesystem/state")).contents[0].text)
            assert "/home/alex/inbox" in state["nodes"]

    anyio.run(main)


def test_http_sandbox_and_default_endpoint():
    with http_server(create_app(["filesystem"])) as base:
        created = httpx2.post(f"{base}/sandboxes", json={"env": "filesystem", "seed": 1})
        assert created.status_code == 201
        sandbox = created.json()

        async def main() -> None:
            async with Client(base + sandbox["mcp"]) as client:
                await _round_trip(client)
            async with Client(f"{base}/mcp") as client:
                await _round_trip(client)

        anyio.run(main)
        state = httpx2.get(f"{base}/sandboxes/{sandbox['id']}/state").json()
        assert "/home/alex/inbox" in state["filesystem"]["nodes"]
