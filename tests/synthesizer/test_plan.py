"""A turn is a target and its prerequisite closure; arguments are grounded; variants teach the right lesson.

Trajectories are built by hand, including the walks that round 1 turned into bad turns.
"""

import dataclasses
import random

from simulator import Step, ToolInfo, Trajectory
from synthesizer.grounding import ungrounded_arguments
from synthesizer.offline import mistaken_call
from synthesizer.plan import Variants, plan_dialogue, successful_calls
from synthesizer.wording import askable, request_for


def _tool(name, *, read_only=False, requires=(), provides=(), params=(), asks=()):
    schema = {"type": "object", "properties": {p: {"type": "string"} for p in params}, "required": list(params)}
    hints = {"read_only": read_only, "requires": list(requires), "provides": list(provides)}
    hints |= {"asks": list(asks), "answers": []}
    return ToolInfo(name, f"{name} does its job.", schema, read_only=read_only, hints=hints)


def _walk(*steps):
    trajectory = Trajectory("t-1", "run", 0, "env", "default", 0, steps[-1][0])
    for index, (tool, arguments, result, provenance) in enumerate(steps):
        error = isinstance(result, str)
        trajectory.steps.append(
            Step(
                index, tool, arguments, None if error else result, result if error else "", error, provenance=provenance
            )
        )
    return trajectory


def _from(step, field):
    return {"source": "result", "step": step, "field": field}


POOL = {"source": "pool"}
TRAVEL = {
    tool.name: tool
    for tool in [
        _tool("travel_log_in", provides=["logged_in"], params=("user_id", "password")),
        _tool("cancel_flight_booking", requires=["logged_in"], params=("access_token", "booking_id")),
        _tool("travel_log_out", requires=["logged_in"]),
        _tool("list_flight_bookings", read_only=True, requires=["logged_in"], params=("access_token",)),
    ]
}


PLAIN = Variants(0, 0, 0)


def _plan(trajectory, tools, turns=(1, 5), variants=PLAIN, seed=0):
    return plan_dialogue(trajectory, tools, turns, variants, random.Random(seed))


def test_a_destructive_call_nobody_asked_for_is_not_in_the_log_out_turn():
    """Round 1: "end the current session; the booking id is BKG0001" -> cancel_flight_booking, then log_out."""
    walk = _walk(
        ("travel_log_in", {"user_id": "TRV001", "password": "pw!2026"}, {"access_token": "tok_1"}, {"user_id": POOL}),
        (
            "cancel_flight_booking",
            {"access_token": "tok_1", "booking_id": "BKG0001"},
            {"refund": 800},
            {"access_token": _from(0, "access_token"), "booking_id": POOL},
        ),
        ("travel_log_out", {}, {"logged_in": False}, {}),
    )
    plan = _plan(walk, TRAVEL, turns=(1, 1))
    assert [[call.tool for call in turn.calls] for turn in plan.turns] == [["travel_log_in", "cancel_flight_booking"]]
    plan = _plan(walk, TRAVEL, turns=(2, 2))
    tools_per_turn = [[call.tool for call in turn.calls] for turn in plan.turns]
    assert ["travel_log_out"] in tools_per_turn and all(
        "cancel_flight_booking" not in turn or turn[-1] == "cancel_flight_booking" for turn in tools_per_turn
    )


def test_look_ups_nothing_uses_are_left_out_of_lock_every_door():
    """Round 1: "Please lock every door." -> find_nearest_fuel_station, estimate_drive_feasibility, lock_all_doors."""
    tools = {
        tool.name: tool
        for tool in [
            _tool("find_nearest_fuel_station", read_only=True),
            _tool("estimate_drive_feasibility", read_only=True, params=("distance_km",)),
            _tool("lock_all_doors"),
        ]
    }
    walk = _walk(
        ("find_nearest_fuel_station", {}, {"station": "S1", "distance_km": 12.5}, {}),
        (
            "estimate_drive_feasibility",
            {"distance_km": "S1-12"},
            {"feasible": True},
            {"distance_km": _from(0, "station")},
        ),
        ("lock_all_doors", {}, {"locked": 4}, {}),
    )
    plan = _plan(walk, tools, turns=(1, 1))  # the walk was made for the lock: that is the one request
    assert [[call.tool for call in turn.calls] for turn in plan.turns] == [["lock_all_doors"]]
    walk.target = "estimate_drive_feasibility"
    plan = _plan(walk, tools, turns=(1, 1))
    assert [call.tool for call in plan.turns[0].calls] == ["find_nearest_fuel_station", "estimate_drive_feasibility"]
    plan = _plan(walk, tools, turns=(2, 2))  # a story: the estimate builds on the station the look-up found
    assert [[call.tool for call in turn.calls] for turn in plan.turns] == [
        ["find_nearest_fuel_station"],
        ["estimate_drive_feasibility"],
    ]
    plan = _plan(walk, tools, turns=(3, 3))  # the look-up as a request of its own, then the estimate
    assert [[call.tool for call in turn.calls] for turn in plan.turns] == [
        ["find_nearest_fuel_station"],
        ["estimate_drive_feasibility"],
        ["lock_all_doors"],
    ]


def test_an_audit_log_turn_holds_no_other_tickets_changes():
    """Round 1: "show a ticket's audit log" -> assign_ticket, create_ticket, then the history of another ticket."""
    tools = {
        tool.name: tool
        for tool in [
            _tool("assign_ticket", params=("ticket_id", "agent")),
            _tool("create_ticket", params=("title",)),
            _tool("get_ticket_history", read_only=True, params=("ticket_id",)),
        ]
    }
    walk = _walk(
        ("assign_ticket", {"ticket_id": "TCK1", "agent": "ana"}, {"ticket_id": "TCK1"}, {"ticket_id": POOL}),
        ("create_ticket", {"title": "Printer jam"}, {"ticket_id": "TCK7"}, {"title": POOL}),
        ("get_ticket_history", {"ticket_id": "TCK2"}, {"events": []}, {"ticket_id": POOL}),
    )
    for seed in range(5):
        plan = _plan(walk, tools, turns=(3, 3), seed=seed)
        assert all(len(turn.calls) == 1 for turn in plan.turns)


def test_independent_look_ups_share_a_message_and_a_dependent_call_waits():
    """The paper's two zip-code look-ups: parallel; the call that uses both: after them."""
    tools = {
        tool.name: tool
        for tool in [
            _tool("get_zipcode", read_only=True, params=("city",)),
            _tool("book_ticket", params=("from_zip", "to_zip")),
        ]
    }
    walk = _walk(
        ("get_zipcode", {"city": "Rivermist"}, {"zip": "83214"}, {"city": POOL}),
        ("get_zipcode", {"city": "Stonebrook"}, {"zip": "74532"}, {"city": POOL}),
        (
            "book_ticket",
            {"from_zip": "83214", "to_zip": "74532"},
            {"ticket": "T1"},
            {"from_zip": _from(0, "zip"), "to_zip": _from(1, "zip")},
        ),
    )
    turn = _plan(walk, tools, turns=(1, 1)).turns[0]
    assert turn.batches == [[0, 1], [2]]
    assert set(turn.free_inputs) == {"get_zipcode.city", "get_zipcode.city.2"}
    assert turn.free_input_of("get_zipcode.city.2")[0].arguments == {"city": "Stonebrook"}


def test_a_state_prerequisite_observed_in_the_walk_joins_the_closure():
    """No declared hints: the target failed, another call changed the state, then the target worked."""
    tools = {tool.name: tool for tool in [_tool("unlock"), _tool("open_door"), _tool("honk")]}
    walk = _walk(
        ("open_door", {}, "Error: the door is locked", {}),
        ("unlock", {}, {"ok": True}, {}),
        ("honk", {}, {"ok": True}, {}),
        ("open_door", {}, {"open": True}, {}),
    )
    plan = _plan(walk, tools, turns=(1, 1))
    assert [call.tool for call in plan.turns[0].calls][-1] == "open_door"
    assert "unlock" in [call.tool for call in plan.turns[0].calls]


def _dialogue(*messages):
    return [dict(message) for message in messages]


def _call(name, **arguments):
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": name, "type": "function", "function": {"name": name, "arguments": arguments}}],
    }


SCHEMAS = {
    "list_flight_bookings": {"properties": {"access_token": {}}},
    "create_ticket": {"properties": {"title": {}, "priority": {"enum": ["low", "high"]}}},
}


def test_a_token_used_before_the_log_in_that_issues_it_is_ungrounded():
    """Round 1: a travel token used before travel_log_in issues it."""
    messages = _dialogue(
        {"role": "user", "content": "Show my bookings."},
        _call("list_flight_bookings", access_token="tok_9"),
        {"role": "tool", "content": '{"bookings": []}'},
        _call("travel_log_in", user_id="TRV001"),
        {"role": "tool", "content": '{"access_token": "tok_9"}'},
    )
    problems = ungrounded_arguments(messages, SCHEMAS)
    assert problems and "tok_9" in problems[0] and "TRV001" in problems[1]


def test_a_title_only_a_later_result_returns_is_ungrounded_and_enums_are_implied():
    """Round 1: `create_ticket` already holding the title that a later call returns."""
    messages = _dialogue(
        {"role": "user", "content": "Open a high priority ticket."},
        _call("create_ticket", title="Printer jam", priority="high"),
        {"role": "tool", "content": '{"ticket_id": "T1"}'},
        _call("get_ticket", ticket_id="T1"),
        {"role": "tool", "content": '{"title": "Printer jam"}'},
    )
    assert ungrounded_arguments(messages, SCHEMAS) == [
        "create_ticket.title='Printer jam' appears nowhere before the call"
    ]


def test_numbers_are_grounded_by_their_value_not_their_spelling():
    messages = _dialogue(
        {"role": "user", "content": "Set my budget to 1500."},
        _call("set_budget", limit=1500.0),
        {"role": "tool", "content": '{"limit": 1500.0}'},
        _call("set_budget", limit=15.0),
    )
    assert ungrounded_arguments(messages, {}) == ["set_budget.limit=15.0 appears nowhere before the call"]


def test_the_mistake_of_an_error_recovery_turn_keeps_every_value_the_user_gave():
    """Round 1: the user says "Emma!2026", the call sends "Emma!2120". Now the mistake is a skipped step, and
    only one no description declares (issue 23): the walk saw the engine refused until the brake was pressed."""
    tools = {
        tool.name: tool
        for tool in [_tool("press_brake_pedal", params=("force",)), _tool("start_engine", params=("mode",))]
    }
    walk = _walk(
        ("start_engine", {"mode": "START"}, "press the brake first", {"mode": POOL}),
        ("press_brake_pedal", {"force": "300"}, {"pressed": True}, {"force": POOL}),
        ("start_engine", {"mode": "START"}, {"running": True}, {"mode": POOL}),
    )
    turn = _plan(walk, tools, turns=(1, 1)).turns[0]
    mistake = mistaken_call(turn, tools, random.Random(0))
    assert mistake is not None and mistake.tool_calls == [{"name": "start_engine", "arguments": {"mode": "START"}}]
    walk = _walk(
        (
            "travel_log_in",
            {"user_id": "TRV001", "password": "Emma!2026"},
            {"access_token": "tok_1"},
            {"user_id": POOL, "password": POOL},
        ),
        ("travel_log_out", {}, {"logged_in": False}, {}),
    )
    assert _plan(walk, TRAVEL, turns=(1, 1)) is None  # a login only to log out again is no request to make
    walk = _walk(
        (
            "travel_log_in",
            {"user_id": "TRV001", "password": "Emma!2026"},
            {"access_token": "tok_1"},
            {"user_id": POOL, "password": POOL},
        ),
        (
            "list_flight_bookings",
            {"access_token": "tok_1"},
            {"bookings": []},
            {"access_token": _from(0, "access_token")},
        ),
    )
    turn = _plan(walk, TRAVEL, turns=(1, 1)).turns[0]
    assert mistaken_call(turn, TRAVEL, random.Random(0)) is None  # its token would come from nowhere


def test_the_missing_parameter_is_one_only_the_user_could_know():
    walk = _walk(
        (
            "travel_log_in",
            {"user_id": "TRV001", "password": "Emma!2026"},
            {"access_token": "tok_1"},
            {"user_id": POOL, "password": POOL},
        ),
        (
            "list_flight_bookings",
            {"access_token": "tok_1"},
            {"bookings": []},
            {"access_token": _from(0, "access_token")},
        ),
    )
    for seed in range(10):
        turn = _plan(walk, TRAVEL, turns=(1, 1), variants=Variants(1, 0, 0), seed=seed).turns[0]
        assert turn.variant == "missing_parameter" and turn.withheld in {
            "travel_log_in.user_id",
            "travel_log_in.password",
        }


def _calculator(name, params, *, asks, names):
    schema = {"type": "object", "properties": {p: {"type": "number"} for p in params}, "required": list(params)}
    hints = {"read_only": True, "asks": asks, "answers": [], "names": {"result": names}}
    return ToolInfo(name, f"{name} computes.", schema, read_only=True, hints=hints)


def _computed(step, tool):
    return {"source": "result", "step": step, "tool": tool, "field": "result"}


CALCULATOR = {
    "add": _calculator("add", ("a", "b"), asks=["What is {a} plus {b}?"], names="the sum of {a} and {b}"),
    "square_root": _calculator(
        "square_root", ("number",), asks=["What's the square root of {number}?"], names="the square root of {number}"
    ),
    "calculate_median": _calculator(
        "calculate_median", ("numbers",), asks=["What's the median of {numbers}?"], names="the median of {numbers}"
    ),
}


def test_a_computed_value_keeps_its_call_in_the_chain_and_is_said_as_what_computes_it():
    """Nobody knows 17 before adding 13 and 4: "the square root of the sum of 13 and 4" is a chain of calls."""
    walk = _walk(
        ("add", {"a": 13, "b": 4}, {"result": 17.0}, {"a": POOL, "b": POOL}),
        ("square_root", {"number": 17.0}, {"result": 2.6457513110645907}, {"number": _computed(0, "add")}),
        (
            "add",
            {"a": 2.6457513110645907, "b": 1},
            {"result": 3.6457513110645907},
            {"a": _computed(1, "square_root"), "b": POOL},
        ),
    )
    plan = _plan(walk, CALCULATOR, turns=(1, 1))
    assert [call.tool for call in plan.turns[0].calls] == ["add", "square_root", "add"]
    assert plan.turns[0].batches == [[0], [1], [2]]
    request = request_for(plan.turns[0], CALCULATOR, random.Random(0))
    assert request == "What is the square root of the sum of 13 and 4 plus 1?"


def test_computed_values_nest_two_deep_at_most():
    """A request that spells out four computations reads as noise: such a target is not askable."""
    walk = _walk(
        ("add", {"a": 13, "b": 4}, {"result": 17.0}, {"a": POOL, "b": POOL}),
        ("square_root", {"number": 17.0}, {"result": 2.5}, {"number": _computed(0, "add")}),
        ("square_root", {"number": 2.5}, {"result": 1.58}, {"number": _computed(1, "square_root")}),
        ("square_root", {"number": 1.58}, {"result": 1.26}, {"number": _computed(2, "square_root")}),
    )
    plan = plan_dialogue(walk, CALCULATOR, (1, 1), PLAIN, random.Random(0), askable=askable)
    assert [call.tool for call in plan.turns[0].calls] == ["add", "square_root", "square_root"]


def test_a_computed_value_the_user_already_said_is_the_users_value():
    """The median of 2, 19 and 15 is 15, which the user said: the next call takes it from the user, not the median."""
    walk = _walk(
        ("calculate_median", {"numbers": [2, 19, 15]}, {"result": 15.0}, {"numbers": POOL}),
        ("square_root", {"number": 15.0}, {"result": 3.87}, {"number": _computed(0, "calculate_median")}),
    )
    plan = _plan(walk, CALCULATOR, turns=(2, 2))
    assert [[call.tool for call in turn.calls] for turn in plan.turns] == [["calculate_median"], ["square_root"]]


def test_a_one_digit_computed_value_is_the_users():
    """A sum of 9 could come from anywhere: "the square root of 9" needs no sum first (a root of 0 would be the 0
    again, which is no request at all)."""
    walk = _walk(
        ("add", {"a": 4.5, "b": 4.5}, {"result": 9.0}, {"a": POOL, "b": POOL}),
        ("square_root", {"number": 9.0}, {"result": 3.0}, {"number": _computed(0, "add")}),
    )
    plan = _plan(walk, CALCULATOR, turns=(2, 2))
    assert [[call.tool for call in turn.calls] for turn in plan.turns] == [["add"], ["square_root"]]


def test_a_refusal_its_declared_needs_explain_brings_no_other_change_into_the_turn():
    """Refused, then a route set and the parking brake engaged, then done: only the route was needed."""
    tools = {
        tool.name: tool
        for tool in [
            _tool("set_navigation_destination", provides=["route_set"], params=("destination",)),
            _tool("engage_parking_brake"),
            _tool("clear_navigation_destination", requires=["route_set"]),
        ]
    }
    walk = _walk(
        ("clear_navigation_destination", {}, "no route is set", {}),
        ("set_navigation_destination", {"destination": "Market Square"}, {"eta": 4}, {"destination": POOL}),
        ("engage_parking_brake", {}, {"engaged": True}, {}),
        ("clear_navigation_destination", {}, {"cleared": "Market Square"}, {}),
    )
    plan = _plan(walk, tools, turns=(2, 2))  # set, then clear in a later turn: never both in one (issue 23)
    assert [[call.tool for call in turn.calls] for turn in plan.turns] == [
        ["set_navigation_destination"],
        ["clear_navigation_destination"],
    ]


def test_a_turn_never_undoes_what_an_earlier_call_of_its_own_did():
    """Default run after the story merge: "Step on the brake ... start my car. Take my foot off the brake. I want
    to go 0 km/h": the brake pressed and released in one turn.  The start becomes a turn of its own."""
    tools = {
        tool.name: tool
        for tool in [
            _tool("press_brake_pedal", provides=["brake_pressed"]),
            _tool("start_engine", requires=["brake_pressed"], provides=["engine_running"]),
            _tool("release_brake_pedal", provides=["brake_free"]),
            _tool("set_vehicle_speed", requires=["engine_running", "brake_free"]),
        ]
    }
    walk = _walk(
        ("press_brake_pedal", {}, {"brake_pressed": True}, {}),
        ("start_engine", {}, {"engine_running": True}, {}),
        ("release_brake_pedal", {}, {"brake_pressed": False}, {}),
        ("set_vehicle_speed", {}, {"speed_kmh": 30}, {}),
    )
    for seed in range(5):
        for count in (1, 2):
            plan = _plan(walk, tools, turns=(count, count), seed=seed)
            turns = [[call.tool for call in turn.calls] for turn in plan.turns]
            assert not any("press_brake_pedal" in turn and "release_brake_pedal" in turn for turn in turns), turns
        assert turns == [["press_brake_pedal", "start_engine"], ["release_brake_pedal", "set_vehicle_speed"]]


def test_a_declared_step_with_no_value_of_the_users_stays_implicit():
    """Issue 23 item 3: start_engine declares that it needs the doors locked, and locking needs nothing only the
    user knows: "Lock all the doors. Start the car." dictates a step the tools' descriptions make discoverable."""

    tools = {
        tool.name: tool
        for tool in [
            _tool("lock_all_doors", provides=["doors_locked"], asks=["Lock all the doors."]),
            _tool("start_engine", requires=["doors_locked"], asks=["Start the car."]),
        ]
    }
    walk = _walk(("lock_all_doors", {}, {"locked": True}, {}), ("start_engine", {}, {"engine_running": True}, {}))
    turn = _plan(walk, tools, turns=(1, 1)).turns[0]
    assert [call.tool for call in turn.calls] == ["lock_all_doors", "start_engine"]
    assert request_for(turn, tools, random.Random(0)) == "Start the car."


def test_a_later_turn_may_point_back_at_what_an_earlier_turn_made():
    """Issue 23: "Read the message you sent" names a message only the history holds: no request could ask for
    read_message alone, but after the turn that sent it, one can, and it takes the id from that turn."""

    tools = {
        tool.name: tool
        for tool in [
            _tool("send_message", params=("receiver", "message"), asks=["Send {receiver} {message}."]),
            _tool("read_message", read_only=True, params=("message_id",), asks=["Read {message_id} to me."]),
        ]
    }
    walk = _walk(
        ("send_message", {"receiver": "Bob", "message": "hi"}, {"message_id": "MSG0007"}, {"receiver": POOL}),
        ("read_message", {"message_id": "MSG0007"}, {"content": "hi"}, {"message_id": _from(0, "message_id")}),
    )
    alone = plan_dialogue(walk, tools, (1, 1), PLAIN, random.Random(0), askable=askable)
    assert [call.tool for turn in alone.turns for call in turn.calls] == ["send_message"]
    plan = plan_dialogue(walk, tools, (2, 2), PLAIN, random.Random(0), askable=askable)
    assert [[call.tool for call in turn.calls] for turn in plan.turns] == [["send_message"], ["read_message"]]
    request = request_for(plan.turns[1], tools, random.Random(0))
    assert "message" in request and "MSG0007" not in request, request  # "Read this message to me."


def test_a_later_turn_does_not_pick_out_of_a_listing_it_makes_itself():
    """Default run: "Who follows grace_hansen? Can you follow Yara O. for me?" as one later request names a
    follower before the user has seen the list; the listing is a turn of its own and the pick follows it."""
    tools = {
        tool.name: tool
        for tool in [
            _tool("search_accounts", read_only=True, params=("query",)),
            _tool("mute_user", params=("username",)),
            _tool("list_followers", read_only=True, params=("username",)),
            _tool("follow_user", params=("username",)),
        ]
    }
    for tool in tools.values():  # tools that declare their phrasing: only values, not names, link calls
        tool.hints["asks"] = [f"{tool.name} {{{tool.parameters and next(iter(tool.parameters))}}}."]
    followers = {"followers": [{"username": "yara_o", "name": "Yara O."}, {"username": "tom_b", "name": "Tom B."}]}
    walk = _walk(
        ("search_accounts", {"query": "Grace"}, {"accounts": [{"username": "grace_h"}]}, {"query": POOL}),
        ("mute_user", {"username": "grace_h"}, {"muted": True}, {"username": _from(0, "username")}),
        ("list_followers", {"username": "grace_h"}, followers, {"username": _from(0, "username")}),
        ("follow_user", {"username": "yara_o"}, {"following": True}, {"username": _from(2, "username")}),
    )
    for seed in range(8):
        plan = _plan(walk, tools, turns=(2, 2), seed=seed)
        later = [[call.tool for call in turn.calls] for turn in plan.turns[1:]]
        assert ["list_followers", "follow_user"] not in later, later


MESSAGING = {
    tool.name: tool
    for tool in [
        _tool("get_user_id", read_only=True, params=("user_name",)),
        _tool("send_message", params=("receiver_id", "message")),
        _tool("read_message", read_only=True, params=("message_id",)),
        _tool("get_login_status", read_only=True),
    ]
}


def _sent_then_read():
    return _walk(
        ("get_login_status", {}, {"logged_in": True}, {}),
        ("get_user_id", {"user_name": "Bob"}, {"user_id": "USR002"}, {"user_name": POOL}),
        (
            "send_message",
            {"receiver_id": "USR002", "message": "Lunch at noon?"},
            {"message_id": "MSG0007", "sent_at": "2026-03-01T12:00:00"},
            {"receiver_id": _from(1, "user_id"), "message": POOL},
        ),
        ("read_message", {"message_id": "MSG0007"}, {"message_id": "MSG0007"}, {"message_id": _from(2, "message_id")}),
    )


def test_a_status_check_named_like_a_login_is_a_request_of_its_own():
    """`get_login_status` opens no session: "am I still signed in?" may be a turn (a login may not), even twice."""
    walk = _sent_then_read()
    walk.steps.append(dataclasses.replace(walk.steps[0], index=4))
    plan = plan_dialogue(walk, MESSAGING, (4, 4), PLAIN, random.Random(0), askable)
    targets = [turn.target.tool for turn in plan.turns]
    assert targets == ["get_login_status", "send_message", "read_message", "get_login_status"]


def test_a_turn_does_not_pick_out_of_what_a_change_of_its_own_listed():
    """Default run: "Track F in my watchlist. List pending orders for MA." took MA from the watchlist that
    add_to_watchlist returned: the user never saw that list, so the add is no step of the orders' request."""
    tools = {
        tool.name: tool
        for tool in [
            _tool("add_to_watchlist", params=("symbol",)),
            _tool("list_orders", read_only=True, params=("symbol",)),
        ]
    }
    walk = _walk(
        ("add_to_watchlist", {"symbol": "F"}, {"watchlist": ["MA", "F"]}, {"symbol": POOL}),
        ("list_orders", {"symbol": "MA"}, {"orders": []}, {"symbol": _from(0, "watchlist")}),
    )
    plan = _plan(walk, tools, turns=(1, 1))
    assert [[call.tool for call in turn.calls] for turn in plan.turns] == [["add_to_watchlist"]]
    plan = _plan(walk, tools, turns=(2, 2))  # once the list was shown, a pick from it is the user's next request
    assert [[call.tool for call in turn.calls] for turn in plan.turns] == [["add_to_watchlist"], ["list_orders"]]


def test_a_float_of_more_digits_than_a_person_types_stays_looked_up():
    """Anybody can say 1500 (a look-up made only to find it is no call anybody needs), nobody says 1.08234567891:
    the look-up that gave it stays in the turn."""
    tools = {
        "get_rate": _tool("get_rate", read_only=True, params=("currency",)),
        "convert": _tool("convert", read_only=True, params=("amount",)),
    }

    rate = {**_computed(0, "get_rate"), "field": "rate"}

    def tools_per_turn(found):
        walk = _walk(
            ("get_rate", {"currency": "EUR"}, {"rate": found}, {"currency": POOL}),
            ("convert", {"amount": found}, {"converted": 3.0}, {"amount": rate}),
        )
        return [[call.tool for call in turn.calls] for turn in _plan(walk, tools, turns=(1, 1)).turns]

    assert tools_per_turn(1500.0) == [["convert"]]
    assert tools_per_turn(1.08234567891) == [["get_rate", "convert"]]


def test_a_coverage_walks_story_takes_its_target_though_a_focus_would_pick_past_it():
    """A coverage walk pressed the brake, released the parking brake and engaged it, its target; then it locked
    the doors, a tool the model failed on.  The focus would pick that next ("Brake. Lock the doors."), which
    leaves the target no turn: the walk was made for that turn, so the focus picks nothing past it."""
    tools = {
        tool.name: tool
        for tool in [
            _tool("press_brake_pedal", provides=["brake_pressed"]),
            _tool("release_parking_brake", requires=["brake_pressed"]),
            _tool("engage_parking_brake"),
            _tool("lock_all_doors"),
        ]
    }
    walk = _walk(
        ("press_brake_pedal", {}, {"brake_pressed": True}, {}),
        ("release_parking_brake", {}, {"parking_brake_engaged": False}, {}),
        ("engage_parking_brake", {}, {"parking_brake_engaged": True}, {}),
        ("lock_all_doors", {}, {"all_locked": True}, {}),
    )
    walk.target = "engage_parking_brake"

    def the_failed_tool(by_step, closures, candidates, covered):
        return next((step for step in candidates if by_step[step].tool == "lock_all_doors"), None)

    for target_turn in (False, True):
        plan = plan_dialogue(
            walk, tools, (2, 4), PLAIN, random.Random(0), prefer=the_failed_tool, target_turn=target_turn
        )
        targets = [turn.target.tool for turn in plan.turns]
        assert ("engage_parking_brake" in targets) is target_turn, targets


def test_a_change_made_again_with_other_values_needs_no_undoing_first():
    """Focused vehicle data: "Quit braking now. Keep the brake pressed with 400 newtons.": pressing at 400 N after
    the brake was pressed at 700 N and let go needs no letting go (the brake takes any force at any time); the
    engine started again after it was stopped does need the stop."""
    tools = {
        tool.name: tool
        for tool in [
            _tool("press_brake_pedal", params=("force_newtons",)),
            _tool("release_brake_pedal"),
            _tool("start_engine"),
            _tool("stop_engine"),
        ]
    }
    walk = _walk(
        ("press_brake_pedal", {"force_newtons": 700.0}, {"brake_pressed": True}, {"force_newtons": POOL}),
        ("release_brake_pedal", {}, {"brake_pressed": False}, {}),
        ("press_brake_pedal", {"force_newtons": 400.0}, {"brake_pressed": True}, {"force_newtons": POOL}),
        ("start_engine", {}, {"engine_running": True}, {}),
        ("stop_engine", {}, {"engine_running": False}, {}),
        ("start_engine", {}, {"engine_running": True}, {}),
    )
    needs = {call.step: set(call.needs) for call in successful_calls(walk, tools)}
    assert 1 not in needs[2], "pressed again at another force: no letting go needed"
    assert 4 in needs[5], "started again: the stop is needed"


def test_a_focus_does_not_pick_past_a_call_a_coverage_walks_target_needs():
    """A coverage walk let off the handbrake, then the brake, drove and set cruise control, its target.  The focus
    would pick "let go of the brake" (a tool the model failed on) as the next turn, leaving the handbrake to the
    cruise-control turn: after the brake was let go, the handbrake no longer comes off, and that turn does not
    replay.  So the pick takes the handbrake with it, or waits."""
    tools = {
        tool.name: tool
        for tool in [
            _tool("press_brake_pedal", provides=["brake_pressed"]),
            _tool("release_parking_brake", requires=["brake_pressed"], provides=["handbrake_off"]),
            _tool("release_brake_pedal", requires=["brake_pressed"], provides=["brake_free"]),
            _tool("set_vehicle_speed", requires=["handbrake_off", "brake_free"], provides=["moving"]),
            _tool("activate_cruise_control", requires=["moving"]),
            _tool("lock_all_doors"),
        ]
    }
    walk = _walk(
        ("press_brake_pedal", {}, {"brake_pressed": True}, {}),
        ("release_parking_brake", {}, {"parking_brake_engaged": False}, {}),
        ("release_brake_pedal", {}, {"brake_pressed": False}, {}),
        ("set_vehicle_speed", {}, {"speed_kmh": 60}, {}),
        ("activate_cruise_control", {}, {"cruise_on": True}, {}),
        ("lock_all_doors", {}, {"all_locked": True}, {}),
    )
    walk.target = "activate_cruise_control"

    def the_failed_tool(by_step, closures, candidates, covered):
        return next((step for step in candidates if by_step[step].tool == "release_brake_pedal"), None)

    for seed in range(4):
        plan = plan_dialogue(walk, tools, (2, 4), PLAIN, random.Random(seed), prefer=the_failed_tool, target_turn=True)
        steps = [[call.step for call in turn.calls] for turn in plan.turns]
        assert any(4 in turn for turn in steps), steps
        assert all(max(earlier) < min(later) for earlier, later in zip(steps, steps[1:], strict=False)), steps


def test_a_nameless_item_of_a_listing_is_told_apart_by_a_detail_only_it_has():
    """Orders and bookings have no name: after "list my orders" (nine, of which an answer shows five), the
    cancel of ORD00009 was no request any user could make, so a coverage walk aimed at `cancel_order` gave it no
    turn.  A person says "the TSLA order": the first short detail no other listed order shares."""
    tools = {
        tool.name: tool
        for tool in [
            _tool("list_orders", read_only=True, asks=("Show me my orders.",)),
            _tool("cancel_order", params=("order_id",), asks=("Cancel {order_id}.",)),
        ]
    }
    orders = [
        {"order_id": "ORD00001", "owner": "jsmith", "symbol": "NVDA", "side": "buy", "status": "filled"},
        {"order_id": "ORD00008", "owner": "jsmith", "symbol": "NVDA", "side": "sell", "status": "filled"},
        {"order_id": "ORD00009", "owner": "jsmith", "symbol": "TSLA", "side": "buy", "status": "pending"},
    ]
    listing = {"orders": orders, "order_ids": [order["order_id"] for order in orders]}

    def cancel(order_id):
        return _walk(
            ("list_orders", {}, listing, {}),
            ("cancel_order", {"order_id": order_id}, {"status": "cancelled"}, {"order_id": _from(0, "order_ids")}),
        )

    requests = {}
    for order_id in ("ORD00009", "ORD00008"):
        plan = plan_dialogue(cancel(order_id), tools, (2, 2), PLAIN, random.Random(0), askable)
        assert [turn.target.tool for turn in plan.turns] == ["list_orders", "cancel_order"]
        requests[order_id] = request_for(plan.turns[1], tools, random.Random(0))
    assert "the TSLA order" in requests["ORD00009"] and "the sell order" in requests["ORD00008"], requests
    twins = {"orders": [orders[0], dict(orders[0], order_id="ORD00002")], "order_ids": ["ORD00001", "ORD00002"]}
    walk = _walk(
        ("list_orders", {}, twins, {}),
        ("cancel_order", {"order_id": "ORD00001"}, {"status": "cancelled"}, {"order_id": _from(0, "order_ids")}),
    )
    assert plan_dialogue(walk, tools, (2, 2), PLAIN, random.Random(0), askable) is None, (
        "two filled NVDA buys: nothing tells them apart"
    )
    tools |= {"search_posts": _tool("search_posts", read_only=True, asks=("Find posts about gardens.",))}
    tools |= {"like_post": _tool("like_post", params=("post_id",), asks=("Like {post_id} for me.",))}
    posts = {"posts": [{"post_id": "POST0003", "author": "arjun_n"}, {"post_id": "POST0007", "author": "dkhan"}]}
    walk = _walk(
        ("search_posts", {}, posts, {}),
        ("like_post", {"post_id": "POST0007"}, {"liked": True}, {"post_id": _from(0, "posts")}),
    )
    plan = plan_dialogue(walk, tools, (2, 2), PLAIN, random.Random(0), askable)
    assert "the post by dkhan" in request_for(plan.turns[1], tools, random.Random(0)), "its author, as spelt"
    walk.steps[1].arguments["post_id"] = "POST0003"
    assert plan_dialogue(walk, tools, (2, 2), PLAIN, random.Random(0), askable) is None, "arjun_n: an API's word"


def test_a_turn_does_not_set_again_what_it_just_made():
    """A coverage walk's dialogue: 'File a low-priority ticket named "Cannot log in". Let's correct "Cannot log
    in". Call it "Wrong VAT number" instead.'  Nobody renames in one message what they are filing: the filing is a
    turn, the rename a later one ("call that ticket ...").  Acting on what was made, without setting it again (a
    comment on the new ticket), stays one request."""
    tools = {
        tool.name: tool
        for tool in [
            _tool("create_ticket", params=("title", "priority")),
            _tool("edit_ticket", params=("ticket_id", "title")),
            _tool("add_ticket_comment", params=("ticket_id", "body")),
        ]
    }
    made = {"ticket_id": _from(0, "ticket_id")}
    walk = _walk(
        ("create_ticket", {"title": "Cannot log in", "priority": "low"}, {"ticket_id": "TKT-0009"}, {"title": POOL}),
        ("edit_ticket", {"ticket_id": "TKT-0009", "title": "Wrong VAT number"}, {"ok": True}, made | {"title": POOL}),
    )
    for seed in range(4):
        plan = _plan(walk, tools, turns=(1, 1), seed=seed)
        assert [[call.tool for call in turn.calls] for turn in plan.turns] == [["create_ticket"]]
    plan = _plan(walk, tools, turns=(2, 2))
    assert [[call.tool for call in turn.calls] for turn in plan.turns] == [["create_ticket"], ["edit_ticket"]]
    walk = _walk(
        ("create_ticket", {"title": "Cannot log in", "priority": "low"}, {"ticket_id": "TKT-0009"}, {"title": POOL}),
        ("add_ticket_comment", {"ticket_id": "TKT-0009", "body": "Any news?"}, {"ok": True}, made | {"body": POOL}),
    )
    plan = _plan(walk, tools, turns=(1, 1))
    assert [[call.tool for call in turn.calls] for turn in plan.turns] == [["create_ticket", "add_ticket_comment"]]
