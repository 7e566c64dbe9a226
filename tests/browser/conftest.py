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

from tests.browser.reading import Watched
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
RUN = ["--envs", "travel,filesystem", "--trajectories", "40", "--turns", "4-5"]
"""Two environments, long dialogues: samples of every variant and a reject with the dialogue it got to.

Story dialogues ask less alike than the old planner did: 10 trajectories left one reject (a walk too short
to plan, no dialogue); 20 gave near-duplicates, whose dialogue the report shows, until standalone requests
became chains (issue 23); 26 left one near-duplicate until requests were reworded before a cut (issue 29).
At 40, one stops at a second request no user could make."""


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


@pytest.fixture
def watched(chromium: Any) -> Iterator[Watched]:
    watched = Watched(chromium)
    yield watched
    watched.page.close()
