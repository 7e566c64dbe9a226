"""What every benchmark section shares: free ports, servers in subprocesses, side-by-side timing."""

import contextlib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx2

__all__ = ["BENCH", "FUNREASON", "ROOT", "alternate", "free_port", "median", "serving"]

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
FUNREASON = str(Path(sys.executable).parent / "funreason")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(command: list[str], ready_url: str, *, timeout_s: float = 30.0) -> Iterator[subprocess.Popen]:
    """Run a server in a subprocess until `ready_url` answers (any HTTP status), then stop it."""
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited: {process.stderr.read().decode()[-2000:]}")
            try:
                httpx2.get(ready_url, timeout=1.0)
                break
            except httpx2.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(command)} did not answer at {ready_url}") from None
                time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def median(values: list[float]) -> float:
    return statistics.median(values)


async def alternate(
    ours: Callable[[int], Awaitable[None]], theirs: Callable[[int], Awaitable[None]], *, rounds: int, batch: int
) -> tuple[float, float]:
    """Median seconds per call of two callables measured in alternating batches (ours first on even rounds).

    Each callable gets the call number, so it can vary its arguments.  One warm-up batch each is discarded.
    """
    times: dict[str, list[float]] = {"ours": [], "theirs": []}

    async def timed(name: str, call: Callable[[int], Awaitable[None]], round_number: int) -> None:
        started = time.perf_counter()
        for number in range(batch):
            await call(round_number * batch + number)
        times[name].append((time.perf_counter() - started) / batch)

    for round_number in range(rounds + 1):
        order = [("ours", ours), ("theirs", theirs)]
        for name, call in order if round_number % 2 == 0 else reversed(order):
            await timed(name, call, round_number)
    return median(times["ours"][1:]), median(times["theirs"][1:])
