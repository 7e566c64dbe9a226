"""Reading report pages in chromium as a person does: a watched page, the filters' counts, every sample opened."""

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from synthesizer.browser import reason_kind

__all__ = ["Watched", "every_one_reachable", "select", "shown", "store"]


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


def select(page: Any, name: str, value: str) -> int:
    page.select_option(f"#fr-{name}", value)
    return shown(page)


def shown(page: Any) -> int:
    page.wait_for_function("!document.getElementById('fr-count').textContent.startsWith('searching')")
    return int(page.get_attribute("#fr-count", "data-shown"))


def store(run_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(run_dir / "store.db")


def every_one_reachable(run_dir: Path, watched: Any) -> None:
    """The counts the filters show equal the store's, and every id opens from its permalink."""
    page = watched.open(run_dir / "report.html")
    db = store(run_dir)
    verified = db.execute("SELECT count(*) FROM samples WHERE verified").fetchone()[0]
    rejected = db.execute("SELECT count(*) FROM rejects").fetchone()[0]
    assert rejected > 0, "the run should have rejects to browse"
    assert shown(page) == verified + rejected
    assert select(page, "status", "verified") == verified
    assert select(page, "status", "rejected") == rejected
    reasons = Counter(reason_kind(reason) for (reason,) in db.execute("SELECT reason FROM rejects"))
    for reason, count in reasons.items():
        assert select(page, "reason", reason) == count
    select(page, "reason", "")
    select(page, "status", "")
    per_env = dict(db.execute("SELECT env, count(*) FROM samples GROUP BY env").fetchall())
    rejects_per_env = db.execute("SELECT t.env FROM rejects r JOIN trajectories t ON t.id = r.trajectory_id")
    for (env,) in rejects_per_env:
        per_env[env] = per_env.get(env, 0) + 1
    for env, count in per_env.items():
        assert select(page, "env", env) == count
    ids = [row[0] for row in db.execute("SELECT id FROM samples UNION ALL SELECT id FROM rejects")]
    for sample_id in ids:  # each one opens from its permalink
        page.evaluate("id => { location.hash = 'sample=' + encodeURIComponent(id); }", sample_id)
        page.wait_for_function("id => document.querySelector('#fr-detail h3')?.textContent === id", arg=sample_id)
    assert watched.errors == []
    assert watched.outside_requests() == []
