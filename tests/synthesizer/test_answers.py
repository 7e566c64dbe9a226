"""An answer covers every part the user asked about: each computed value a request spelled out, then the target.

The calls are really executed on the math (or messaging) server over MCP (in-process); its tools' own phrasing words the
request and the answer.
"""

import random

import anyio
import pytest

from simulator import ServerTarget, Trajectory, replay
from synthesizer.chat_flow import appears
from synthesizer.plan import Call, TurnPlan, Variants, plan_dialogue
from synthesizer.wording import answer_for, askable, known_as, request_for


def _computed(step, tool):
    return {"source": "result", "step": step, "tool": tool, "field": "result"}


POOL = {"source": "pool"}


def _replayed_walk(calls, env="math", scenario=None):
    async def execute():
        async with ServerTarget(envs=(env,), scenario=scenario).connect() as connection:
            tools = {tool.name: tool for tool in connection.tools}
            return tools, await replay(connection, [(tool, arguments) for tool, arguments, _ in calls], seed=0)

    tools, (steps, final_hash) = anyio.run(execute)
    for step, (_, _, provenance) in zip(steps, calls, strict=True):
        step.provenance = provenance
    trajectory = Trajectory(
        "run-answers-0", "run-answers", 0, env, "default", 0, calls[-1][0], reached=True, steps=steps
    )
    trajectory.final_state_hash = final_hash
    return trajectory, tools


def _one_turn(walk, tools):
    """The walk planned as a one-turn dialogue, plain variant: the turn whose request and answer a test reads."""
    return plan_dialogue(walk, tools, (1, 1), Variants(0, 0, 0), random.Random(0), askable=askable).turns[0]


def _worded(turn, tools, seeds=6):
    """(request, answer) of the turn under each of `seeds` random generators, the request set on the turn first."""
    for seed in range(seeds):
        rng = random.Random(seed)
        turn.query = request_for(turn, tools, rng)
        yield turn.query, answer_for(turn, tools, rng)


def test_a_nested_computation_is_answered_step_by_step():
    """Default run: "What's the logarithm of 85.68 divided by 32.91 to base 1.07 mod 5?" was answered with the
    remainder only; the quotient and the logarithm the request spelled out were never told."""
    walk, tools = _replayed_walk(
        [
            ("divide", {"a": 85.68, "b": 32.91}, {"a": POOL, "b": POOL}),
            ("logarithm", {"number": 2.60346399270738, "base": 1.07}, {"number": _computed(0, "divide"), "base": POOL}),
            ("modulo", {"dividend": 14.142210711681, "divisor": 5}, {"dividend": _computed(1, "logarithm")}),
        ]
    )
    assert not any(step.is_error for step in walk.steps)
    turn = _one_turn(walk, tools)
    assert [call.tool for call in turn.calls] == ["divide", "logarithm", "modulo"]
    rng = random.Random(0)
    turn.query = request_for(turn, tools, rng)
    assert "divided by" in turn.query.lower() or "over" in turn.query.lower()
    answer = answer_for(turn, tools, rng)
    quotient, logarithm = (walk.steps[0].result["result"], walk.steps[1].result["result"])
    # each spelled-out value is said as the next call took it, and in the order the calls gave them
    assert appears(answer.lower(), repr(quotient)) and appears(answer.lower(), repr(logarithm)), answer
    assert answer.lower().index(repr(quotient)) < answer.lower().index(repr(logarithm))
    assert "4.14" in answer  # the target's own result, as its answer reports it


def test_a_computation_that_gives_back_its_input_is_no_request():
    """Default run: "the absolute value of the standard deviation of ..." is the standard deviation again; no
    answer could tell the target's result from its input, and nobody asks it."""
    walk, tools = _replayed_walk(
        [
            ("calculate_standard_deviation", {"numbers": [2.0, 9.5]}, {"numbers": POOL}),
            ("absolute_value", {"number": 3.75}, {"number": _computed(0, "calculate_standard_deviation")}),
        ]
    )
    assert [call.tool for call in _one_turn(walk, tools).calls] == ["calculate_standard_deviation"]


def test_a_change_that_returns_nothing_is_answered_as_done():
    """BFCL's `mkdir` returns None when it made the folder: its answers read "Nothing came back" (46 of 1,402
    file-system answers on the BFCL run)."""
    pytest.importorskip("bfcl_eval")

    async def execute():
        async with ServerTarget(envs=("bfcl:GorillaFileSystem",)).connect() as connection:
            tools = {tool.name: tool for tool in connection.tools}
            return tools, await replay(connection, [("mkdir", {"dir_name": "drafts"})], seed=0)

    tools, (steps, _) = anyio.run(execute)
    assert steps[0].result is None and not steps[0].is_error
    steps[0].provenance = {"dir_name": POOL}
    walk = Trajectory(
        "run-fs-0", "run-fs", 0, "bfcl:GorillaFileSystem", "default", 0, "mkdir", reached=True, steps=steps
    )
    turn = _one_turn(walk, tools)
    answer = answer_for(turn, tools, random.Random(0))
    assert "drafts" in answer and "nothing" not in answer.lower(), answer


def test_the_users_own_id_looked_up_for_their_login_is_who_they_are_not_a_question():
    """Default run: "Please find out Karim's user id for me. Search for every message containing 'review'." then
    logged in as the Karim it looked up; the user is Karim: "I'm Karim", and no answer reports their own id."""
    walk, tools = _replayed_walk(
        [
            ("get_user_id", {"user_name": "Farah"}, {"user_name": POOL}),
            ("log_in", {"user_id": "USR006"}, {"user_id": {**_computed(0, "get_user_id"), "field": "user_id"}}),
            ("search_messages", {"keyword": "review"}, {"keyword": POOL}),
        ],
        env="messaging",
    )
    assert not any(step.is_error for step in walk.steps)
    turn = _one_turn(walk, tools)
    assert [call.tool for call in turn.calls] == ["get_user_id", "log_in", "search_messages"]
    for seed in range(8):
        request = request_for(turn, tools, random.Random(seed))
        assert "I'm Farah" in request and "user id" not in request.lower(), request
        assert not turn.asked


def test_a_later_turn_is_no_computation_that_gives_back_its_input_either():
    """Default run: "the sum of the standard deviation of 89.42 and 59.76 and 1.17 without its sign" after an earlier
    turn: |16| is the sum's 16 again, and the answer could not tell the result from its input."""
    walk, tools = _replayed_walk(
        [
            ("sum_numbers", {"numbers": [3.5, 4.5]}, {"numbers": POOL}),
            ("add", {"a": 8.0, "b": 8.0}, {"a": _computed(0, "sum_numbers"), "b": POOL}),
            ("absolute_value", {"number": 16.0}, {"number": _computed(1, "add")}),
        ]
    )
    plan = plan_dialogue(walk, tools, (2, 2), Variants(0, 0, 0), random.Random(0), askable=askable)
    assert [turn.target.tool for turn in plan.turns] == ["sum_numbers", "add"]


def test_zero_over_a_number_is_no_request():
    """Default run: "Give me the ratio of 0 to percentile 73 of 28.69 and 2.2.": 0 over anything is the 0 again."""
    walk, tools = _replayed_walk(
        [
            (
                "calculate_percentile",
                {"numbers": [28.69, 2.2], "percentile": 73},
                {"numbers": POOL, "percentile": POOL},
            ),
            ("divide", {"a": 0.0, "b": 21.5377}, {"a": POOL, "b": _computed(0, "calculate_percentile")}),
            ("factorial", {"n": 5}, {"n": POOL}),
        ]
    )
    assert walk.steps[1].result["result"] == 0
    plan = plan_dialogue(walk, tools, (1, 3), Variants(0, 0, 0), random.Random(0), askable=askable)
    assert "divide" not in [call.tool for turn in plan.turns for call in turn.calls]


def test_an_answer_about_an_account_found_by_name_says_its_handle():
    """Default run: "Pull up the profile of Tomas" looked the handle up by the name; "The account belongs to Tomas,
    who joined on ..." never told the user which account that was."""
    walk, tools = _replayed_walk(
        [
            ("search_accounts", {"query": "Tomas"}, {"query": POOL}),
            (
                "get_social_profile",
                {"username": "tomas_silva51"},
                {"username": {"source": "result", "step": 0, "tool": "search_accounts", "field": "usernames"}},
            ),
        ],
        env="social",
        scenario="generated:18",
    )
    assert not any(step.is_error for step in walk.steps)
    turn = _one_turn(walk, tools)
    assert [call.tool for call in turn.calls] == ["search_accounts", "get_social_profile"]
    for _, answer in _worded(turn, tools):
        assert "tomas_silva51" in answer, answer


def test_a_one_digit_id_is_not_known_because_some_text_holds_the_digit():
    """BFCL run: "Create a ticket called "Account access problem". Pull up the details of ticket 1.": the user could
    not know the id before the ticket was made; a "1" in the card number they gave is no sight of it."""
    created = Call(
        0,
        "create_ticket",
        {"title": "Account access problem"},
        {"id": 1, "title": "Account access problem"},
        {"title": POOL},
    )
    fetched = Call(
        1, "get_ticket", {"ticket_id": 1}, {"id": 1}, {"ticket_id": {**_computed(0, "create_ticket"), "field": "id"}}
    )
    turn = TurnPlan(0, [created, fetched], {}, shown="my card is 4111 1111 1111 1111, priority 1")
    assert known_as(turn, fetched, "ticket_id") == '"Account access problem"'


def test_a_later_request_points_back_at_a_named_id_even_once_its_value_was_shown():
    """BFCL run: after "Posted! The tweet's id is 2." every later request said "Share tweet 2 on my timeline."; the
    hints name the id by its text, and a person goes on about "that tweet", leaving the 2 in the history."""
    posted = Call(
        0,
        "post_tweet",
        {"content": "Hello all"},
        {"id": 2, "content": "Hello all"},
        {"content": POOL},
        result_names={"id": '"{content}"'},
    )
    shared = Call(
        1,
        "retweet",
        {"tweet_id": 2},
        {"retweet_status": "ok"},
        {"tweet_id": {**_computed(0, "post_tweet"), "field": "id"}},
    )
    turn = TurnPlan(1, [shared], {}, shown="posted! the tweet's id is 2.", earlier_calls=[posted])
    assert known_as(turn, shared, "tweet_id", refer=True) in ("that tweet", "this tweet", "the same tweet")
    assert known_as(turn, shared, "tweet_id") == "2"  # an answer still says which


def test_that_post_is_never_another_post_than_the_one_the_user_named():
    """A repost's comments are its original's: after "read me the replies to POST0002", the post those comments
    are on is POST0001, and "open the same post" would mean POST0002 to anyone reading it."""
    replies = Call(
        0,
        "list_post_comments",
        {"post_id": "POST0002"},
        {"comments": [{"comment_id": "CMT0001", "post_id": "POST0001"}], "comment_ids": ["CMT0001"]},
        {"post_id": POOL},
    )
    origin = {**_computed(0, "list_post_comments"), "field": "post_id"}
    opened = Call(1, "get_post", {"post_id": "POST0001"}, {"post_id": "POST0001"}, {"post_id": origin})
    turn = TurnPlan(1, [opened], {}, shown="comments on post0002: cmt0001.", earlier_calls=[replies])
    assert known_as(turn, opened, "post_id", refer=True) not in ("that post", "this post", "the same post")


def test_navigating_to_the_nearest_fuel_station_is_a_chain_the_user_asks_by_its_goal():
    """Default run: the walk found the nearest fuel station and set it as the destination, and the turn read "Set a
    route to Shell Market Square.": a name the user could not know, and the look-up dropped as nobody's need."""
    found = {"source": "result", "step": 0, "tool": "find_nearest_fuel_station", "field": "destination"}
    walk, tools = _replayed_walk(
        [
            ("find_nearest_fuel_station", {}, {}),
            ("set_navigation_destination", {"destination": "Shell Market Square"}, {"destination": found}),
        ],
        env="vehicle",
    )
    assert not any(step.is_error for step in walk.steps)
    turn = _one_turn(walk, tools)
    assert [call.tool for call in turn.calls] == ["find_nearest_fuel_station", "set_navigation_destination"]
    for request, answer in _worded(turn, tools):
        assert "nearest fuel station" in request and "Shell" not in request, request
        assert "Shell Market Square" in answer


def test_a_username_in_an_answer_keeps_its_underscore():
    """Default run: "Post POST0010 is by @karim khan.": a status reads as words (`in_progress`), a name never."""
    walk, tools = _replayed_walk([("get_post", {"post_id": "POST0001"}, {"post_id": POOL})], "social", "community")
    assert walk.steps[0].result["author"] == "yusuf_d"
    turn = _one_turn(walk, tools)
    answers = {answer_for(turn, tools, random.Random(seed)) for seed in range(8)}
    assert any("yusuf_d" in answer for answer in answers) and not any("yusuf d" in answer for answer in answers)


def test_a_computed_float_of_machine_digits_the_user_was_shown_is_not_said_back():
    """Default run: "Hey, what percentage of 101.96 is 2.71440931780366?": an answer showed the quotient in full, but
    nobody types fifteen digits back; 2.5 they would."""

    def said(quotient):
        divided = Call(0, "divide", {"a": 5.0, "b": 2.0}, {"result": quotient}, {"a": POOL, "b": POOL})
        divided.result_names = {"result": "{a} divided by {b}"}
        part = Call(1, "calculate_percentage", {"part": quotient, "whole": 101.96}, {"result": 1.0}, {})
        part.provenance = {"part": _computed(0, "divide"), "whole": POOL}
        turn = TurnPlan(1, [part], {}, shown=f"the quotient is {quotient}.", earlier_calls=[divided])
        return known_as(turn, part, "part", refer=True)

    assert said(2.5) == "2.5"
    assert said(2.71440931780366) is None
