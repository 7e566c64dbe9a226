"""report.html read as a person reads it: opened from disk in chromium, filtered, a sample opened, a call
expanded, a permalink followed, a value searched; nothing leaves the page."""

import re

import orjson

from synthesizer.browser import browser_section, store_views
from tests.browser.reading import every_one_reachable, select, shown, store

ARROWS_INSIDE = """(() => {
  const chat = document.querySelector('#fr-detail .fr-chat');
  const paths = chat.querySelectorAll('.fr-arrows path[class]');
  const ends = Array.from(paths, p => Number(p.getAttribute('d').split(' ').pop()));
  return ends.every(y => y <= chat.scrollHeight);
})()"""
"""Every dependency arrow ends inside the chat as laid out (none points at content folded away)."""


def test_every_sample_and_reject_is_reachable_through_the_filters(run_dir, watched):
    every_one_reachable(run_dir, watched)


def test_filter_open_a_sample_and_expand_a_call(run_dir, watched, tmp_path):
    page = watched.open(run_dir / "report.html")
    views = [view for view in store_views(run_dir / "store.db") if view["env"] == "travel"]
    plain = [view for view in views if "plain" in view["variants"]]
    assert select(page, "env", "travel") == len(views)
    assert select(page, "variant", "plain") == len(plain)
    rows = page.locator(".fr-row")
    assert all("travel" in text for text in rows.all_inner_texts())
    rows.first.click()
    view = plain[0]
    assert page.inner_text("#fr-detail h3") == view["id"]
    assert page.url.endswith("#sample=" + view["id"].replace(":", "%3A"))
    turns = page.locator(".fr-turn-label")
    assert turns.count() == len(view["turns"])
    assert f"variant {view['turns'][0]['variant']}" in turns.first.inner_text()
    assert f"target {view['turns'][0]['target']}" in turns.first.inner_text()
    assert page.locator(".fr-msg.fr-user").first.inner_text().endswith(view["turns"][0]["messages"][0]["content"])
    reasoning = page.locator(".fr-think").first
    assert not reasoning.locator(".fr-reasoning").is_visible()  # folded until asked for
    reasoning.locator("summary").click()
    assert reasoning.locator(".fr-reasoning").is_visible()
    call_id, call = next(iter(view["calls"].items()))
    card = page.locator(f"[id='c-{call_id}']")
    assert call["tool"] in card.locator("summary").inner_text()
    assert not card.locator("table.fr-args, .fr-diff").first.is_visible()
    card.locator("summary").click()
    assert card.locator(".fr-diff").is_visible()
    assert "state diff" in card.locator(".fr-diff").inner_text()
    for name in call["origins"]:
        assert name in card.locator("table.fr-args").inner_text()
    result = page.locator(f"[id='r-{call_id}']")
    assert not result.locator("pre").is_visible()
    result.locator("summary").click()
    assert result.locator("pre").is_visible()
    assert "\n  " in result.locator("pre").inner_text() or "{" not in result.locator("pre").inner_text()
    page.screenshot(path=tmp_path / "sample.png", full_page=False)
    assert (tmp_path / "sample.png").stat().st_size > 10_000
    permalink = page.evaluate("document.querySelector('#fr-detail .fr-permalink').href")
    assert permalink.startswith((run_dir / "report.html").as_uri() + "#sample=")
    page.goto("about:blank")
    page.goto(permalink)  # followed in a fresh load: the same sample opens
    page.wait_for_function("id => document.querySelector('#fr-detail h3')?.textContent === id", arg=view["id"])
    assert watched.errors == []
    assert watched.outside_requests() == []


def test_dependency_arrows_follow_the_recorded_origins(run_dir, watched, tmp_path):
    views = list(store_views(run_dir / "store.db"))
    linked = next(
        view
        for view in views
        if any(origin["kind"] == "result" for call in view["calls"].values() for origin in call["origins"].values())
    )
    page = watched.open(run_dir / "report.html", "#sample=" + linked["id"])
    page.wait_for_function("id => document.querySelector('#fr-detail h3')?.textContent === id", arg=linked["id"])
    assert int(page.get_attribute(".fr-arrows", "data-arrows")) > 0
    call_id, origin = next(
        (call_id, origin)
        for call_id, call in linked["calls"].items()
        for origin in call["origins"].values()
        if origin["kind"] == "result"
    )
    page.locator(f"[id='c-{call_id}'] summary").click()
    link = page.locator(f"[id='c-{call_id}'] .fr-origin[data-goto='r-{origin['call']}']").first
    assert f"result of {origin['tool']}" in link.inner_text()
    link.click()  # opens and scrolls to the result the value came from
    assert page.locator(f"[id='r-{origin['call']}'] pre").is_visible()
    page.screenshot(path=tmp_path / "arrows.png")
    assert watched.outside_requests() == []


def test_a_permalink_opens_a_reject_with_its_reason_dialogue_and_walk(run_dir, watched, tmp_path):
    db = store(run_dir)
    rows = db.execute("SELECT id, reason, trajectory_id, data FROM rejects ORDER BY id").fetchall()
    for reject_id, reason, trajectory, data in rows:
        page = watched.open(run_dir / "report.html", "#sample=" + reject_id)
        page.wait_for_function("id => document.querySelector('#fr-detail h3')?.textContent === id", arg=reject_id)
        box = page.locator("#fr-detail .fr-head + .fr-reason")
        assert box.inner_text().startswith("Rejected")
        assert reason in box.inner_text()
        kept = orjson.loads(data)
        assert page.locator("#fr-detail .fr-turn[data-turn]").count() == len(kept["turns"])
        steps = db.execute("SELECT count(*) FROM steps WHERE trajectory_id = ?", [trajectory]).fetchone()[0]
        walk = page.locator("#fr-detail .fr-walk")
        if kept["messages"]:  # the dialogue as far as it got, the walk folded below it
            first = next(m["content"] for m in kept["messages"] if m["role"] == "user")
            assert first in page.locator("#fr-detail .fr-msg.fr-user").first.inner_text()
            assert walk.get_attribute("open") is None
            assert page.evaluate(ARROWS_INSIDE)  # none drawn to calls folded away in the walk
            walk.locator("summary").first.click()
        page.wait_for_function(ARROWS_INSIDE)
        assert walk.locator(".fr-call").count() == steps
        assert walk.locator(".fr-call").first.is_visible()
        page.screenshot(path=tmp_path / f"reject-{reject_id.replace(':', '_')}.png")
    assert any(orjson.loads(data)["messages"] for *_, data in rows)
    assert watched.errors == []
    assert watched.outside_requests() == []


def test_search_finds_a_value(run_dir, watched):
    views = list(store_views(run_dir / "store.db"))
    value = next(
        str(call["arguments"][name])
        for view in views
        for turn in view["turns"]
        for message in turn["messages"]
        for call in [tool_call["function"] for tool_call in message.get("tool_calls") or []]
        for name in call["arguments"]
        if isinstance(call["arguments"][name], str) and len(call["arguments"][name]) > 8
    )
    having = [view["id"] for view in views if value.lower() in orjson.dumps(view).decode().lower()]
    page = watched.open(run_dir / "report.html")
    page.fill("#fr-search", value.upper())  # the search ignores case
    page.wait_for_function("n => document.getElementById('fr-count').dataset.shown === String(n)", arg=len(having))
    assert shown(page) == len(having)
    shown_ids = [row.get_attribute("data-id") for row in page.locator(".fr-row").all()]
    assert shown_ids == having[: len(shown_ids)]
    page.locator(".fr-row").first.click()  # the chat renders once its chunk is unpacked: wait for it
    page.wait_for_function("v => document.getElementById('fr-detail').innerText.includes(v)", arg=value)
    assert value in page.inner_text("#fr-detail")
    page.fill("#fr-search", "no sample says zqxjv")
    page.wait_for_function("document.getElementById('fr-count').dataset.shown === '0'")
    assert watched.outside_requests() == []


def test_the_report_is_one_file_that_asks_nothing_of_the_network(run_dir):
    text = (run_dir / "report.html").read_text()
    markup = re.sub(r"<script type='application/(json|gzip)'[^>]*>[^<]*</script>", "", text)  # the page, not its data
    assert "class='fr-chunk'" in text and "class='fr-chunk'" not in markup and "id='fr-data'" not in markup
    for outside in ("http://", "https://", "src='/", 'src="/', "<link", "@import", "fetch(", "XMLHttpRequest"):
        assert outside not in markup, outside


def test_views_in_many_chunks_open_and_search_across_them(run_dir, tmp_path, watched):
    views = list(store_views(run_dir / "store.db"))
    page_path = tmp_path / "chunks.html"
    section = browser_section(views, chunk=3)  # a chunk per three views, as 20,000 views have 79 of 256
    page_path.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>{section}</body></html>")
    assert section.count("class='fr-chunk'") == -(-len(views) // 3)
    page = watched.open(page_path)
    assert shown(page) == len(views)
    for view in (views[0], views[4], views[-1]):  # the first, a middle and the last chunk
        page.evaluate("id => { location.hash = 'sample=' + encodeURIComponent(id); }", view["id"])
        page.wait_for_function("id => document.querySelector('#fr-detail h3')?.textContent === id", arg=view["id"])
    word = views[-1]["turns"][0]["messages"][0]["content"] if views[-1]["turns"] else views[-1]["reason"]
    word = word.split('"')[0].strip()  # up to a quoted phrase, which a view's JSON writes escaped
    having = [view["id"] for view in views if word.lower() in orjson.dumps(view).decode().lower()]
    page.fill("#fr-search", word)
    page.wait_for_function("n => document.getElementById('fr-count').dataset.shown === String(n)", arg=len(having))
    assert views[-1]["id"] in having
    assert watched.errors == []
    assert watched.outside_requests() == []
