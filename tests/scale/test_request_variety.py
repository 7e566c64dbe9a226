"""Requests at scale: a run of thousands of samples asks each tool hundreds of times, so each tool must be
askable in many ways, and the requests a run draws must spread over them rather than repeat a few."""

import inspect
import random
import re

import pytest

from servers import environment_names, get_environment
from simulator.connection import ToolInfo
from synthesizer.quality import _frame
from synthesizer.wording import tool_request

_MOST_ASKED = [  # (env, tool, slot values): argument-free look-ups a story makes again and again, and two with values
    ("travel", "list_airports", {}),
    ("vehicle", "get_navigation_route", {}),
    ("messaging", "list_contacts", {}),
    ("trading", "get_watchlist", {}),
    ("social", "list_following", {"username": "ravi_k"}),
    ("messaging", "send_message", {"receiver_id": "Chiara", "message": "See you at 7."}),
]


@pytest.mark.parametrize(("env", "name", "values"), _MOST_ASKED)
def test_a_much_asked_tool_is_asked_a_hundred_times_in_mostly_different_frames(env, name, values):
    """A hundred trajectories asking the same tool: at least 80 distinct frames (the `funreason quality` measure)."""
    spec = get_environment(env).tool_specs()[name]
    tool = ToolInfo(name, "", {}, None, spec.read_only, spec.hints())
    said = [tool_request(tool, values, random.Random(f"0:{seed}")) for seed in range(100)]
    assert all(said)
    frames = {_frame(text, frozenset(str(value).lower() for value in values.values())) for text in said}
    assert len(frames) >= 80, sorted(frames)[:10]


@pytest.mark.parametrize("env", environment_names())
def test_no_request_pastes_its_tools_description(env):
    """`synthesizer.filters` rejects a request holding its tool's first description sentence: none may be declared."""
    environment = get_environment(env)
    for name, spec in environment.tool_specs().items():
        first = re.split(r"(?<=[.!?])\s", (inspect.getdoc(getattr(environment, name)) or "").split("\n")[0])[0]
        first = first.rstrip(".!? ").lower()
        if len(first.split()) >= 3:
            assert not [text for text in spec.asks if first in text.lower()], f"{env}.{name}: {first!r}"
