"""The browser as one HTML section: its style, its script and the views, embedded compactly.

The index the filters read (`[id, kind, env, scenario, status, variants, reason_kind, title]` per view) is
one gzip stream in base64 inside `<script type="application/json" id="fr-data">`, unpacked at load; the views
follow in chunks of `CHUNK` (gzip, base64, one view per line, each in a `<script class="fr-chunk">`), which the
page unpacks only when it opens one of theirs or a text search reaches them, so a large run loads in the time
its index takes.  Same views, same bytes (gzip with no time stamp); the page asks nothing of the network.
"""

import base64
import gzip
import html
from collections.abc import Iterable
from importlib import resources
from typing import Any

import orjson

__all__ = ["CHUNK", "browser_section"]

CHUNK = 256
"""Views per packed chunk: one is unpacked in a few milliseconds, so opening a view never waits long."""


def browser_section(
    views: Iterable[dict[str, Any]], title: str = "Samples", what: str = "samples", chunk: int = CHUNK
) -> str:
    """The browser over `views` (see `synthesizer.browser.views`), as HTML to put inside a page's body."""
    index, lines, chunks = [], [], []  # each chunk packed once full: a large run never holds its views unpacked
    for view in views:
        index.append(
            [
                view["id"],
                view["kind"],
                view["env"],
                view["scenario"],
                view["status"],
                view["variants"],
                view.get("reason_kind") or "",
                _title(view),
            ]
        )
        lines.append(orjson.dumps(view, option=orjson.OPT_NON_STR_KEYS))
        if len(lines) == chunk:
            chunks.append(_chunk(lines))
            lines = []
    if lines:
        chunks.append(_chunk(lines))
    filters = "".join(
        f"<select id='fr-{name}' aria-label='{label}'><option value=''>every {label}</option></select>"
        for name, label in _FILTERS
    )
    return (
        f"<style>{_asset('browser.css')}</style>"
        f"<section id='fr-browser'><h2>{html.escape(title)}</h2>"
        f"<p>Every one of the {len(index)} {html.escape(what)}; pick one to read it as a chat. A link to one is "
        "<code>#sample=ID</code>.</p>"
        f"<div class='fr-filters'>{filters}"
        "<input id='fr-search' type='search' placeholder='search the text' aria-label='search'>"
        "<span id='fr-count' class='fr-count'>loading...</span></div>"
        "<div class='fr-main'><div id='fr-list' class='fr-list'><div class='fr-spacer'></div></div>"
        "<div id='fr-detail' class='fr-detail'><p class='fr-empty'>Pick one on the left.</p></div></div>"
        f"<script type='application/json' id='fr-data' data-chunk-size='{chunk}'>{_packed(orjson.dumps(index))}"
        f"</script>{''.join(chunks)}"
        f"<script>{_asset('browser.js')}</script></section>"
    )


_FILTERS = (
    ("env", "environment"),
    ("scenario", "scenario"),
    ("variant", "variant"),
    ("status", "status"),
    ("reason", "reason"),
)


_NEWLINE = b"\n"


def _chunk(lines: list[bytes]) -> str:
    return f"<script type='application/gzip' class='fr-chunk'>{_packed(_NEWLINE.join(lines))}</script>"


def _title(view: dict[str, Any]) -> str:
    """The row's one line: the first thing the user says, or why the reject was rejected."""
    for turn in view["turns"]:
        for message in turn["messages"]:
            if message["role"] == "user":
                return str(message.get("content") or "")[:120]
    return str(view.get("reason") or "")[:120]


def _packed(data: bytes) -> str:
    return base64.b64encode(gzip.compress(data, compresslevel=6, mtime=0)).decode()


def _asset(name: str) -> str:
    return resources.files("synthesizer.browser").joinpath(name).read_text(encoding="utf-8")
