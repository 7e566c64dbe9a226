"""The sample browser: samples, rejects and evaluation attempts read as chats, in report.html and the terminal."""

from synthesizer.browser.page import browser_section
from synthesizer.browser.terminal import print_view
from synthesizer.browser.views import (
    dialogue_turns,
    reason_kind,
    record_view,
    sample_view,
    store_view,
    store_views,
    view_to_show,
)

__all__ = [
    "browser_section",
    "dialogue_turns",
    "print_view",
    "reason_kind",
    "record_view",
    "sample_view",
    "store_view",
    "store_views",
    "view_to_show",
]
