"""The sample browser over a large run: report.html with 20,000 samples (and rejects) in Debian's chromium.

A small real offline run gives the seed samples and rejects; they are cloned with new ids (spread so that
neighbours in id order come from different seeds, as in a real run) until the store holds `--samples` of
them, 5% rejects.  Then: how long the report's browser section takes to build from the store, its size, and,
in headless chromium (playwright, `executable_path=/usr/bin/chromium`), the page load (navigation start to the
browser's `fr-ready` mark, Performance API) and the longest long task (PerformanceObserver `longtask`) and
longest frame (gap between animation frames) while filtering, searching, opening a sample and scrolling.

    python bench/browser.py [--samples 20000] [--json out.json]

Goals (BENCHMARKS.md): load <= 3 s, longest long task and frame while filtering <= 200 ms.  Figures, not
asserts.
"""

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from synthesizer.browser import browser_section, store_views

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WATCH = """
window.__longest = {load: 0, filtering: 0, frame: 0};
window.__phase = 'load';
new PerformanceObserver(list => {
  for (const entry of list.getEntries()) {
    const phase = window.__phase;
    window.__longest[phase] = Math.max(window.__longest[phase], entry.duration);
  }
}).observe({type: 'longtask', buffered: true});
let last = null;
function frame(now) {
  if (window.__phase === 'filtering' && last !== null) {
    window.__longest.frame = Math.max(window.__longest.frame, now - last);
  }
  last = now;
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as folder:
        figures = measure(options.samples, Path(folder))
    text = json.dumps(figures, indent=2)
    print(text)
    if options.json:
        options.json.write_text(text + "\n")


def measure(count: int, workdir: Path) -> dict[str, Any]:
    seed = workdir / "seed"
    subprocess.run(
        [str(Path(sys.executable).parent / "funreason"), "run", "--out", str(seed), "--trajectories", "8"],
        check=True,
        capture_output=True,
    )
    store = workdir / "store.db"
    shutil.copy(seed / "store.db", store)
    samples, rejects = _clone(store, count)
    started = time.perf_counter()
    section = browser_section(store_views(store), "Samples", "samples")
    build_s = time.perf_counter() - started
    page = workdir / "report.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{section}</body></html>")
    figures: dict[str, Any] = {
        "samples": samples,
        "rejects": rejects,
        "build_s": round(build_s, 2),
        "report_mb": round(page.stat().st_size / 2**20, 2),
    }
    with sqlite3.connect(store) as connection:
        (last_id,) = connection.execute("SELECT max(id) FROM rejects").fetchone()
    figures |= _in_chromium(page, last_id)
    figures["goals"] = {"load_s": "<= 3", "longest_task_filtering_ms": "<= 200", "longest_frame_ms": "<= 200"}
    return figures


def _clone(store: Path, count: int) -> tuple[int, int]:
    """Fill the store with `count` views: 95% samples cloned from its verified ones, 5% rejects from its rejects."""
    connection = sqlite3.connect(store)
    columns = [row[1] for row in connection.execute("PRAGMA table_info(samples)")]
    seeds = connection.execute("SELECT * FROM samples WHERE verified = 1 ORDER BY id").fetchall()
    reject_seeds = connection.execute("SELECT * FROM rejects ORDER BY id").fetchall()
    wanted_rejects = count // 20 if reject_seeds else 0
    id_at, data_at = columns.index("id"), columns.index("data")
    with connection:
        connection.execute("DELETE FROM samples")
        connection.execute("DELETE FROM rejects")
        rows = []
        for number in range(count - wanted_rejects):
            row = list(seeds[number % len(seeds)])
            new_id = f"{number:06d}-{row[id_at]}"  # id order walks through the seeds, as a real run's would
            row[data_at] = row[data_at].replace(json.dumps(row[id_at]), json.dumps(new_id), 1)
            row[id_at] = new_id
            rows.append(row)
        marks = ", ".join("?" * len(columns))
        connection.executemany(f"INSERT INTO samples ({', '.join(columns)}) VALUES ({marks})", rows)
        clones = [
            (f"{number:06d}-{row[0]}", *row[1:])
            for number, row in ((n, reject_seeds[n % len(reject_seeds)]) for n in range(wanted_rejects))
        ]
        reject_columns = [row[1] for row in connection.execute("PRAGMA table_info(rejects)")]
        marks = ", ".join("?" * len(reject_columns))
        connection.executemany(f"INSERT INTO rejects ({', '.join(reject_columns)}) VALUES ({marks})", clones)
    connection.close()
    return count - wanted_rejects, wanted_rejects


def _in_chromium(page_path: Path, last_id: str) -> dict[str, Any]:
    """Load, filter, search, open and scroll; `last_id` is the report's last view (in its last chunk)."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="bench-chromium-")
    try:
        with sync_playwright() as driver:
            context = driver.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=ARGS, headless=True, viewport={"width": 1400, "height": 900}
            )
            page = context.new_page()
            outside: list[str] = []
            page.on("request", lambda request: request.url.startswith("file://") or outside.append(request.url))
            page.add_init_script(WATCH)
            page.goto(page_path.as_uri(), timeout=120_000)
            page.wait_for_selector("#fr-browser[data-ready='1']", state="attached", timeout=120_000)
            load_ms = page.evaluate("performance.getEntriesByName('fr-ready')[0].startTime")
            names = ["fr-unpacked", "fr-parsed", "fr-ready"]
            marks = page.evaluate("names => names.map(n => performance.getEntriesByName(n)[0].startTime)", names)
            html_ms = page.evaluate("performance.getEntriesByType('navigation')[0].domInteractive")
            heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : null")
            page.evaluate("window.__phase = 'filtering'")
            steps = {}
            env = page.evaluate("document.querySelector('#fr-env option:nth-child(2)').value")
            for name, action in [
                ("environment", lambda: page.select_option("#fr-env", env)),
                ("variant", lambda: page.select_option("#fr-variant", "plain")),
                ("status", lambda: page.select_option("#fr-status", "verified")),
                ("reset", lambda: [page.select_option(f"#fr-{n}", "") for n in ("env", "variant", "status")]),
                ("search, first", lambda: page.fill("#fr-search", "airport")),
                ("search, again", lambda: page.fill("#fr-search", "password")),
                ("search, cleared", lambda: page.fill("#fr-search", "")),
            ]:
                started = time.perf_counter()
                generation = page.get_attribute("#fr-count", "data-generation")
                action()
                page.wait_for_function(
                    "g => document.getElementById('fr-count').dataset.generation !== g", arg=generation, timeout=60_000
                )
                steps[name] = round((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            page.locator(".fr-row").nth(3).click()
            page.wait_for_selector("#fr-detail .fr-chat")
            steps["open a sample"] = round((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            page.evaluate("id => { location.hash = 'sample=' + encodeURIComponent(id); }", last_id)
            page.wait_for_function("id => document.querySelector('#fr-detail h3')?.textContent === id", arg=last_id)
            steps["open the last sample by permalink"] = round((time.perf_counter() - started) * 1000)
            for top in range(0, 400_000, 40_000):
                page.evaluate("top => { document.getElementById('fr-list').scrollTop = top; }", top)
                page.wait_for_timeout(30)
            page.wait_for_timeout(300)
            longest = page.evaluate("window.__longest")
            context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return {
        "load_s": round(load_ms / 1000, 2),
        "load_phases_ms": {
            "html parsed": round(html_ms),
            "index unpacked": round(marks[0]),
            "index parsed": round(marks[1]),
            "listed": round(marks[2]),
        },
        "longest_task_load_ms": round(longest["load"]),
        "longest_task_filtering_ms": round(longest["filtering"]),
        "longest_frame_ms": round(longest["frame"]),
        "js_heap_mb": round(heap / 2**20) if heap else None,
        "step_ms": steps,
        "outside_requests": len(outside),
    }


if __name__ == "__main__":
    main()
