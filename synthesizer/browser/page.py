"""The browser as one HTML section: its style, its script and the views, embedded compactly.

The views travel as one gzip stream in base64 inside `<script type="application/json">`: a first line with
the index the filters read (`[id, kind, env, scenario, status, variants, reason_kind, title]` per view),
then one view per line, which the page parses only when it is opened.  Same views, same bytes (gzip with no
time stamp), so a report is reproducible; the page asks nothing of the network.
"""

import base64
import gzip
import html
from collections.abc import Iterable
from importlib import resources
from typing import Any

import orjson

__all__ = ["browser_section"]


def browser_section(views: Iterable[dict[str, Any]], title: str = "Samples", what: str = "samples") -> str:
    """The browser over `views` (see `synthesizer.browser.views`), as HTML to put inside a page's body."""
    index, lines = [], []
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
    data = b"\n".join([orjson.dumps(index), *lines])
    packed = base64.b64encode(gzip.compress(data, compresslevel=6, mtime=0)).decode()
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
        f"<script type='application/json' id='fr-data'>{packed}</script>"
        f"<script>{_asset('browser.js')}</script></section>"
    )


_FILTERS = (
    ("env", "environment"),
    ("scenario", "scenario"),
    ("variant", "variant"),
    ("status", "status"),
    ("reason", "reason"),
)


def _title(view: dict[str, Any]) -> str:
    """The row's one line: the first thing the user says, or why the reject was rejected."""
    for turn in view["turns"]:
        for message in turn["messages"]:
            if message["role"] == "user":
                return str(message.get("content") or "")[:120]
    return str(view.get("reason") or "")[:120]


def _asset(name: str) -> str:
    return resources.files("synthesizer.browser").joinpath(name).read_text(encoding="utf-8")
