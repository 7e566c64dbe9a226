"""HTTP safety figures: how much a long tool call delays an unrelated request, and `diff` on large files.

`python -m bench.http_safety [--seconds 20] [--json PATH]`.  A real `funreason serve
--transport http` runs in its own process (so the client's interpreter does not share the
server's); one client keeps a tool call busy for `--seconds` (pure-Python CPU work, which
holds the interpreter lock as much as Python lets it, and a sleep, which does not), while
another times unrelated requests (a `tools/call` on another sandbox and its `GET /state`),
before and during.  The delay is the median (and p95, max) during minus the median before.
"""

import argparse
import json
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx2

from bench.common import FUNREASON, ROOT, free_port, serving
from servers import create_sandbox

__all__ = ["Kiln", "main"]

HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2025-06-18",
}


class Kiln:
    """A tool that takes as long as it is told to (served with `--class bench.http_safety:Kiln`)."""

    def __init__(self):
        self.fired = 0

    def burn(self, seconds: float) -> dict:
        """Keep the CPU busy in pure Python for `seconds`.

        Args:
            seconds: How long.
        """
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            pass
        self.fired += 1
        return {"fired": self.fired}

    def rest(self, seconds: float) -> dict:
        """Sleep for `seconds`.

        Args:
            seconds: How long.
        """
        time.sleep(seconds)
        self.fired += 1
        return {"fired": self.fired}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures = {"delay": {tool: _delay(tool, args.seconds) for tool in ("burn", "rest")}, "diff": _diff_times()}
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


def _delay(tool: str, seconds: float) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [FUNREASON, "serve", "filesystem", "--transport", "http", "--port", str(port)]
    command += ["--class", "bench.http_safety:Kiln", "--call-timeout", str(seconds + 30)]
    with serving(command, f"{base}/mcp", timeout_s=120), httpx2.Client(timeout=seconds + 60) as http:
        kiln = http.post(f"{base}/sandboxes", json={"env": "kiln"}).json()["mcp"]
        files = http.post(f"{base}/sandboxes", json={"env": "filesystem"}).json()["id"]
        before = _sample(http, base, files, 40)
        slow = threading.Thread(target=_call, args=(base + kiln, tool, {"seconds": seconds}, seconds + 60))
        slow.start()
        time.sleep(0.5)
        during = []
        while slow.is_alive() and len(during) < 400:
            during += _sample(http, base, files, 1)
        slow.join()
    baseline = statistics.median(before)
    delays = sorted(value - baseline for value in during)
    return {
        "baseline_ms": round(baseline, 2),
        "samples_during": len(delays),
        "delay_median_ms": round(statistics.median(delays), 2),
        "delay_p95_ms": round(delays[int(0.95 * (len(delays) - 1))], 2),
        "delay_max_ms": round(delays[-1], 2),
    }


def _sample(http: httpx2.Client, base: str, sandbox: str, count: int) -> list[float]:
    """Milliseconds of one unrelated `tools/call` plus one `GET /state`, `count` times."""
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "pwd", "arguments": {}}}
    times = []
    for _ in range(count):
        started = time.perf_counter()
        assert http.post(f"{base}/sandboxes/{sandbox}/mcp", json=call, headers=HEADERS).status_code == 200
        assert http.get(f"{base}/sandboxes/{sandbox}/state").status_code == 200
        times.append((time.perf_counter() - started) * 1000 / 2)
    return times


def _call(url: str, tool: str, arguments: dict, timeout: float) -> None:
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    response = httpx2.post(url, json=call, headers=HEADERS, timeout=timeout)
    assert response.status_code == 200 and '"isError":true' not in response.text, response.text[:300]


def _diff_times() -> dict[str, float]:
    """Seconds of the filesystem `diff` tool on files of n lines with a change every 500 lines."""
    times = {}
    for lines in (1_000, 14_000, 20_000, 100_000):
        box = create_sandbox("filesystem")
        first = "\n".join(f"line {number}: {'x' * (number % 40)}" for number in range(lines))
        second = "\n".join(
            f"line {number}: changed" if number % 500 == 7 else f"line {number}: {'x' * (number % 40)}"
            for number in range(lines)
        )
        box.execute("echo", {"content": first, "file_name": "/a.txt"})
        box.execute("echo", {"content": second, "file_name": "/b.txt"})
        started = time.perf_counter()
        box.execute("diff", {"file_name1": "/a.txt", "file_name2": "/b.txt"})
        times[f"{lines}_lines_s"] = round(time.perf_counter() - started, 3)
    return times


if __name__ == "__main__":
    import os

    os.chdir(ROOT)  # `--class bench.http_safety:Kiln` imports from the current directory
    main()
