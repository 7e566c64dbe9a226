"""A small real run, and Debian's chromium driven by playwright: the browser a person would open the report in.

Without /usr/bin/chromium (or without the playwright package) the browser tests skip with the reason; .ci/run
installs chromium where it can.  Chromium starts headless with a fresh profile and no background traffic, so any
request the page makes is the page's own.
"""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import funreason

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 900}
RUN = ["--envs", "travel,filesystem", "--trajectories", "10", "--turns", "4-5"]
"""Two environments, long dialogues: samples of every variant and a few rejects (near-duplicates, a replay)."""


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser-run")
    outcome = funreason("run", "--out", str(out), *RUN)
    assert outcome.returncode == 0, outcome.stderr
    return out


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A persistent context of Debian's chromium (fresh user-data-dir), shared by one module's tests.

    Playwright's sync API keeps an asyncio loop running in this thread while it is open, so no `anyio.run`
    can happen meanwhile: it closes with its module, and a module asks for what needs a loop (the run, an
    evaluation) before it asks for a page."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    profile = tempfile.mkdtemp(prefix="funreason-chromium-")
    with sync_api.sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, viewport=VIEWPORT
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


class Watched:
    """A page with every request it made and every error it raised."""

    def __init__(self, context: Any) -> None:
        self.page = context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))

    def open(self, report: Path, fragment: str = "") -> Any:
        self.page.goto(report.as_uri() + fragment)
        self.page.wait_for_selector("#fr-browser[data-ready='1']", state="attached")
        return self.page

    def outside_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith("file://")]


@pytest.fixture
def watched(chromium: Any) -> Iterator[Watched]:
    watched = Watched(chromium)
    yield watched
    watched.page.close()
