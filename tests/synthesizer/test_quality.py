"""`funreason quality` on hand-built OpenAI chat records: a clean dialogue meets every goal, and each bad case
quoted in issues 11 and 13, rebuilt, makes its figure fail; the command and the run report show the figures."""

import html
import json
from typing import Any

import pytest

from synthesizer.quality import QUALITY_FIGURES, _told, measure_quality, read_records
from synthesizer.query_text import appears
from synthesizer.report import collect_figures
from tests.conftest import funreason


def tool(name: str, description: str, *parameters: str, enums: dict[str, list[str]] | None = None) -> dict[str, Any]:
    properties = {p: {"type": "string", "description": p.replace("_", " ")} for p in parameters}
    for parameter, values in (enums or {}).items():
        properties[parameter]["enum"] = values
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": list(parameters)},
        },
    }


TOOLS = [
    tool("get_user_id", "Look up a user's id from their display name.", "user_name"),
    tool("send_message", "Send a message from the logged-in user to another user.", "receiver_id", "message"),
    tool("delete_message", "Delete a message the logged-in user sent.", "message_id"),
    tool("get_zip_code", "Look up the zip code of a city.", "city"),
    tool("estimate_distance", "Estimate the road distance between two zip codes.", "zip_a", "zip_b"),
    tool("cancel_flight_booking", "Cancel a flight booking and refund it.", "booking_id"),
    tool("log_out", "End the current session."),
    tool("travel_log_in", "Log in to the travel service.", "user_id"),
    tool("list_travel_cards", "List the payment cards of the logged-in traveller.", "access_token"),
    tool("find_nearest_fuel_station", "Find the fuel station nearest to the car."),
    tool("estimate_drive_feasibility", "Estimate whether the car can reach a place on its fuel.", "place"),
    tool("lock_all_doors", "Lock every door of the car."),
    tool("tickets_log_in", "Log in to the helpdesk as an agent or a customer.", "username", "password"),
    tool("create_ticket", "Open a new support ticket.", "title"),
    tool("assign_ticket", "Assign a ticket to the logged-in agent.", "ticket_id"),
    tool("pwd", "Print the absolute path of the current working directory."),
    tool(
        "list_messages",
        "List the messages of the logged-in user.",
        "unread_only",
        enums={"unread_only": ["true", "false"]},
    ),
]
READ_ONLY = [
    "get_user_id",
    "get_zip_code",
    "estimate_distance",
    "list_travel_cards",
    "find_nearest_fuel_station",
    "estimate_drive_feasibility",
    "pwd",
    "list_messages",
]


class Chat:
    """A dialogue built message by message, as an OpenAI chat export holds it."""

    def __init__(self, name: str) -> None:
        self.name, self.messages, self.turns, self.number = name, [], [], 0

    def user(self, text: str, variant: str = "plain", target: str | None = None) -> "Chat":
        self.messages.append({"role": "user", "content": text})
        self.turns.append({"query": text, "variant": variant, "target": target})
        return self

    def calls(self, *calls: tuple[str, dict[str, Any], Any], reasoning: str = "") -> "Chat":
        """One assistant message holding `calls` (parallel), then one tool message per call, in order."""
        ids = [f"call_{self.number + i}" for i in range(len(calls))]
        self.number += len(calls)
        self.messages.append(
            {
                "role": "assistant",
                "content": "",
                "reasoning": reasoning,
                "tool_calls": [
                    {"id": i, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
                    for i, (name, arguments, _) in zip(ids, calls, strict=True)
                ],
            }
        )
        for i, (name, _, result) in zip(ids, calls, strict=True):
            content = result if isinstance(result, str) else json.dumps(result)
            self.messages.append({"role": "tool", "tool_call_id": i, "name": name, "content": content})
        return self

    def answer(self, text: str) -> "Chat":
        self.messages.append({"role": "assistant", "content": text})
        return self

    def record(self) -> dict[str, Any]:
        metadata = {"sample_id": self.name, "read_only_tools": READ_ONLY, "turns": self.turns}
        return {"messages": self.messages, "tools": TOOLS, "metadata": metadata}


def clean() -> Chat:
    """What issues 11, 13 and 23 ask for: a goal per turn, its prerequisites, parallel look-ups, answers in
    words, and later turns that take what they need from the history ("delete that message")."""
    return (
        Chat("clean")
        .user("Send Bob a message saying the build is green.", target="send_message")
        .calls(
            ("get_user_id", {"user_name": "Bob"}, {"user_id": "USR002"}),
            reasoning="Bob is named, his id is not: get_user_id finds it first.",
        )
        .calls(
            ("send_message", {"receiver_id": "USR002", "message": "the build is green"}, {"message_id": "MSG0001"}),
            reasoning="send_message needs its receiver id from get_user_id, which gave USR002.",
        )
        .answer("I sent Bob your message (MSG0001).")
        .user("How far apart are Rivermist and Stonebrook by road?", target="estimate_distance")
        .calls(
            ("get_zip_code", {"city": "Rivermist"}, {"zip": "83214"}),
            ("get_zip_code", {"city": "Stonebrook"}, {"zip": "74532"}),
        )
        .calls(("estimate_distance", {"zip_a": "83214", "zip_b": "74532"}, {"distance_km": 412.5}))
        .answer("Rivermist and Stonebrook are about 412.5 km apart by road.")
        .user("Actually, delete that message to Bob.", target="delete_message")
        .calls(
            ("delete_message", {"message_id": "MSG0001"}, {"deleted": True}),
            reasoning="delete_message takes the message id MSG0001 that send_message returned earlier.",
        )
        .answer("The message to Bob is deleted.")
        .user("Tell him the build is red now.", target="send_message")
        .calls(
            ("send_message", {"receiver_id": "USR002", "message": "the build is red now"}, {"message_id": "MSG0002"}),
            reasoning="Bob's id USR002 is already known: get_user_id gave it earlier, so one call does it.",
        )
        .answer("I told Bob the build is red now (MSG0002).")
    )


def figures(*chats: Chat) -> dict[str, dict[str, Any]]:
    return measure_quality(chat.record() for chat in chats)["figures"]


def test_a_clean_dialogue_meets_every_goal():
    quality = measure_quality([clean().record()])
    missed = {key: figure["examples"] for key, figure in quality["figures"].items() if not figure["ok"]}
    assert missed == {}
    assert quality["counts"] == {
        "samples": 1,
        "turns": 4,
        "task_turns": 4,
        "calls": 7,
        "queries": 4,
        "answers": 4,
        "reasoning_blocks": 4,
    }
    result = quality["figures"]
    assert result["calls_per_task_turn"]["mean"] == 2.5  # the two follow-ups build on the history: one call each
    assert (result["chained_task_turns"]["count"], result["chained_task_turns"]["total"]) == (2, 2)
    assert (result["parallel_independent_calls"]["count"], result["parallel_independent_calls"]["total"]) == (1, 1)
    assert result["ungrounded_values"]["total"] == 10
    assert set(result) == set(QUALITY_FIGURES)
    assert (result["dependent_later_turns"]["count"], result["dependent_later_turns"]["total"]) == (2, 3)
    assert result["unsaid_value_dialogues"]["count"] == 1 and result["unlinked_dialogues"]["count"] == 0


def test_a_state_change_nobody_asked_for():
    """Issue 11: "end the current session; the booking id is BKG0001" -> cancel_flight_booking, then log_out."""
    chat = (
        Chat("cancel")
        .user("End the current session; the booking id is BKG0001.", target="log_out")
        .calls(("cancel_flight_booking", {"booking_id": "BKG0001"}, {"refunded": 1250.0}))
        .calls(("log_out", {}, {"logged_out": True}))
        .answer("You are logged out.")
    )
    result = figures(chat)["unneeded_state_changes"]
    assert (result["count"], result["total"], result["ok"]) == (1, 1, False)
    assert "cancel_flight_booking not needed by the target log_out" in result["examples"][0]


def test_an_id_of_0_a_change_made_is_a_link():
    """BFCL run: `post_tweet` made tweet `id` 0 and `comment` took `tweet_id=0`; a 0 is too short to follow as text,
    so the tweet counted as a change nobody needed (9 of 519 turns)."""
    chat = (
        Chat("tweet")
        .user('Tweet "Big thanks to everyone". Comment "Count me in." on it.', target="comment")
        .calls(("post_tweet", {"content": "Big thanks to everyone"}, {"id": 0, "content": "Big thanks to everyone"}))
        .calls(("comment", {"tweet_id": 0, "comment_content": "Count me in."}, {"comment_status": "added"}))
        .answer('I added "Count me in." to your new tweet.')
    )
    result = figures(chat)
    assert result["unneeded_state_changes"]["count"] == 0
    assert result["unused_intermediate_calls"]["count"] == 0


def test_intermediate_calls_whose_results_nothing_uses():
    """Issue 11: "Please lock every door." -> find_nearest_fuel_station, estimate_drive_feasibility, lock_all_doors."""
    chat = (
        Chat("doors")
        .user("Please lock every door.", target="lock_all_doors")
        .calls(("find_nearest_fuel_station", {}, {"station": "Shell Ringstrasse", "distance_km": 3.2}))
        .calls(("estimate_drive_feasibility", {"place": "Shell Ringstrasse"}, {"feasible": True}))
        .calls(("lock_all_doors", {}, {"locked": True}))
        .answer("All doors are locked.")
    )
    result = figures(chat)
    unused = result["unused_intermediate_calls"]
    assert (unused["count"], unused["total"]) == (1, 2)  # the station feeds the feasibility check, which feeds nothing
    assert "estimate_drive_feasibility" in unused["examples"][0]
    assert result["chained_task_turns"]["count"] == 0


def test_values_from_the_future_and_from_nowhere():
    """Issue 11: a travel token used before travel_log_in issues it; a title no one has said."""
    chat = (
        Chat("token")
        .user("Show my travel cards; my traveller id is TRV001.", target="list_travel_cards")
        .calls(("list_travel_cards", {"access_token": "tok_1c2e64663f8d"}, {"cards": ["CARD01"]}))
        .calls(("travel_log_in", {"user_id": "TRV001"}, {"access_token": "tok_1c2e64663f8d"}))
        .answer("You have one card, CARD01.")
        .user("Open a ticket about it.", target="create_ticket")
        .calls(("create_ticket", {"title": "App crashes when exporting to PDF"}, {"ticket_id": "TKT-0009"}))
        .answer("I opened ticket TKT-0009.")
    )
    result = figures(chat)["ungrounded_values"]
    assert (result["count"], result["total"]) == (2, 3)
    assert "list_travel_cards.access_token='tok_1c2e64663f8d' appears only later" in result["examples"][0]
    assert "appears nowhere" in result["examples"][1]


def test_error_recovery_that_changes_the_users_value():
    """Issue 11: the user says "Emma!2026", the call sends "Emma!2120", fails, and is retried."""
    chat = (
        Chat("password")
        .user('Log me in to the helpdesk as emma.wilson, password "Emma!2026".', "error_recovery", "tickets_log_in")
        .calls(
            (
                "tickets_log_in",
                {"username": "emma.wilson", "password": "Emma!2120"},
                "Error executing tool tickets_log_in: wrong password for 'emma.wilson'",
            )
        )
        .calls(("tickets_log_in", {"username": "emma.wilson", "password": "Emma!2026"}, {"logged_in": True}))
        .answer("You are logged in as emma.wilson.")
    )
    result = figures(chat)["altered_user_values"]
    assert (result["count"], result["total"]) == (1, 1)
    assert "'emma!2120' where the user gave 'emma!2026'" in result["examples"][0]
    fair = (
        Chat("fair")
        .user("Open a ticket titled Printer jam.", "error_recovery", "create_ticket")
        .calls(("create_ticket", {"title": "Printer jam"}, "Error executing tool create_ticket: log in first"))
        .calls(("tickets_log_in", {"username": "emma.wilson", "password": "Emma!2026"}, {"logged_in": True}))
        .calls(("create_ticket", {"title": "Printer jam"}, {"ticket_id": "TKT-0010"}))
        .answer("I opened ticket TKT-0010.")
    )
    assert figures(fair)["altered_user_values"]["count"] == 0


def test_single_calls_and_look_ups_made_one_after_the_other():
    """Issue 11: 65% of turns are one call and no assistant message ever holds two."""
    chat = (
        Chat("apart")
        .user("How far apart are Rivermist and Stonebrook by road?", target="estimate_distance")
        .calls(("get_zip_code", {"city": "Rivermist"}, {"zip": "83214"}))
        .calls(("get_zip_code", {"city": "Stonebrook"}, {"zip": "74532"}))
        .calls(("estimate_distance", {"zip_a": "83214", "zip_b": "74532"}, {"distance_km": 412.5}))
        .answer("They are about 412.5 km apart.")
        .user("Which zip code does Rivermist have?", target="get_zip_code")
        .calls(("get_zip_code", {"city": "Rivermist"}, {"zip": "83214"}))
        .answer("Rivermist's zip code is 83214.")
        .user("And Stonebrook's?", target="get_zip_code")
        .calls(("get_zip_code", {"city": "Stonebrook"}, {"zip": "74532"}))
        .answer("Stonebrook's is 74532.")
    )
    result = figures(chat)
    assert result["calls_per_task_turn"]["mean"] == pytest.approx(5 / 3, abs=0.001)
    assert not result["calls_per_task_turn"]["ok"]
    assert (result["chained_task_turns"]["count"], result["chained_task_turns"]["total"]) == (1, 3)
    parallel = result["parallel_independent_calls"]
    assert (parallel["count"], parallel["total"], parallel["ok"]) == (0, 1, False)


def test_a_call_sharing_a_message_with_the_call_it_needs():
    chat = (
        Chat("together")
        .user("Send Bob a message saying hi.", target="send_message")
        .calls(
            ("get_user_id", {"user_name": "Bob"}, {"user_id": "USR002"}),
            ("send_message", {"receiver_id": "USR002", "message": "hi"}, {"sent": True}),
        )
        .answer("I sent Bob your message.")
    )
    result = figures(chat)["dependent_calls_sharing_a_message"]
    assert (result["count"], result["total"]) == (1, 1)
    assert "send_message needs get_user_id" in result["examples"][0]


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        (
            "Now, I'd like you to print the absolute path of the current working directory; "
            "the dir name is reports_2026.",
            "description sentence",
        ),
        ("Please show my messages; unread only: false.", "name: value"),
        ("Could you look up the user_id of Bob?", "snake_case"),
        ("Use send_message to tell Bob hi.", "tool name"),
    ],
)
def test_tool_text_in_a_query(query, kind):
    """Issue 13: descriptions pasted word for word, "name: value" slots, identifiers and tool names."""
    chat = Chat("tool-text").user(query).calls(("pwd", {}, {"current_working_directory": "/home/alex"}))
    result = figures(chat.answer("You are in /home/alex."))["tool_text_in_queries"]
    assert (result["count"], result["total"]) == (1, 1)
    assert result["by_kind"][kind] == 1
    user_value = Chat("value").user("Create the folder reports_2026 for me.")
    user_value.calls(("pwd", {"dir_name": "reports_2026"}, {"current_working_directory": "/home/alex"}))
    assert figures(user_value.answer("Done, it is there."))["tool_text_in_queries"]["count"] == 0


def test_a_reference_to_a_value_the_user_never_saw():
    """Issue 13: "the user id from before", when only a tool result ever held it."""
    chat = (
        Chat("reference")
        .user("Is Bob on the system?", target="get_user_id")
        .calls(("get_user_id", {"user_name": "Bob"}, {"user_id": "USR002"}))
        .answer("Yes, Bob has an account.")
        .user("Send a message saying hi to the user id from before.", target="send_message")
        .calls(("send_message", {"receiver_id": "USR002", "message": "hi"}, {"sent": True}))
        .answer("I sent it.")
        .user("Also send USR002 a message saying bye.", target="send_message")
        .calls(("send_message", {"receiver_id": "USR002", "message": "bye"}, {"sent": True}))
        .answer("Sent as well.")
    )
    result = figures(chat)["unshown_references"]
    assert (result["count"], result["total"], result["phrase_references"]) == (2, 3, 1)
    assert "never shown" in result["examples"][0] and "only a hidden result" in result["examples"][1]
    shown = Chat("shown").user("What is Bob's user id?", target="get_user_id")
    shown.calls(("get_user_id", {"user_name": "Bob"}, {"user_id": "USR002"})).answer("Bob's id is USR002.")
    shown.user("Send a message saying hi to the user id from before.", target="send_message")
    shown.calls(("send_message", {"receiver_id": "USR002", "message": "hi"}, {"sent": True})).answer("I sent it.")
    assert figures(shown)["unshown_references"]["count"] == 0


def test_templated_raw_and_cut_answers():
    """Issue 13: "Done: I did what you asked (<tool> returned <raw JSON>)", sometimes cut mid-token."""
    chat = Chat("answers")
    for number, answer in enumerate(
        [
            'Done: I did what you asked (pwd returned {"current_working_directory": "/home/alex"}).',
            'Done: I did what you asked (pwd returned {"current_working_directory": "/home/al).',
            "You are in /home/alex, and the folder hol",
            "You are in /home/alex.",
        ]
    ):
        chat.user(f"Where am I now, take {number}?").calls(("pwd", {}, {"current_working_directory": "/home/alex"}))
        chat.answer(answer)
    result = figures(chat)
    assert (result["templated_answers"]["count"], result["templated_answers"]["total"]) == (2, 4)
    raw = result["raw_or_cut_answers"]
    assert (raw["count"], raw["total"], raw["raw_json"], raw["cut"]) == (3, 4, 2, 2)


def test_near_duplicate_queries_and_repeated_openings():
    """Issue 13: 23% of queries in a near-duplicate pair; 220 distinct three-word openings in 1,018 queries."""
    chats = []
    for number, city in enumerate(["Rivermist", "Stonebrook", "Lakeview", "Oakridge", "Pinecrest"]):
        chat = Chat(f"dup-{number}").user(f"Now, I'd like you to look up the zip code of the city; the city is {city}.")
        chats.append(chat.calls(("get_zip_code", {"city": city}, {"zip": f"8321{number}"})).answer("It is 8321."))
    chats.append(
        Chat("other")
        .user("Which zip code does Rivermist have, and is it in the north of the county?")
        .calls(("get_zip_code", {"city": "Rivermist"}, {"zip": "83214"}))
        .answer("It is 83214.")
    )
    result = figures(*chats)
    duplicates = result["near_duplicate_queries"]
    assert (duplicates["count"], duplicates["total"], duplicates["ok"]) == (5, 6, False)
    frames = result["distinct_query_frames"]
    assert (frames["count"], frames["total"], frames["ok"]) == (2, 6, False)
    frame = "now, i'd like you to look up the zip code of the city; the city is <name>."
    assert frames["examples"] == [f"5 queries: {frame!r}"]


def test_reasoning_that_invents_a_dependency():
    """Issue 13: "create_ticket needs its title from assign_ticket", with no value of one in the other."""
    chat = (
        Chat("invented")
        .user("Take ticket TKT-0003 and open a ticket titled Printer jam.", target="create_ticket")
        .calls(("assign_ticket", {"ticket_id": "TKT-0003"}, {"ticket_id": "TKT-0003", "owner": "tom.becker"}))
        .calls(
            ("create_ticket", {"title": "Printer jam"}, {"ticket_id": "TKT-0009"}),
            reasoning="Then assign_ticket first, because create_ticket needs its title. Now create_ticket.",
        )
        .answer("I took TKT-0003 and opened TKT-0009.")
    )
    result = figures(chat)["invented_dependencies"]
    assert (result["count"], result["total"]) == (1, 1)
    assert "says create_ticket needs assign_ticket" in result["examples"][0]


def test_a_value_an_earlier_turn_gave_is_sourced_and_one_a_call_of_the_same_turn_gave_is_its_own():
    """An earlier turn's result may hold the value a call of a later turn returns too (an earlier "... * 100", a
    later round_number's 100): the later call takes it from its own turn's call, which its reasoning says."""

    def chat(name: str, *second: tuple[str, dict[str, Any], Any], reasoning: str) -> Chat:
        last, *first = reversed(second)
        turn = (
            Chat(name)
            .user("What is Bob's user id?", target="get_user_id")
            .calls(("get_user_id", {"user_name": "Bob"}, {"user_id": "USR002", "messages": 100}))
            .answer("Bob's id is USR002; he has 100 messages.")
            .user("How far is Stonebrook from 83214?", target="estimate_distance")
        )
        for call in first:
            turn = turn.calls(call)
        return turn.calls(last, reasoning=reasoning).answer("About 4.5 km.")

    looked_up = ("get_zip_code", {"city": "Stonebrook"}, {"zip": "100"})
    distance = ("estimate_distance", {"zip_a": "100", "zip_b": "83214"}, {"distance_km": 4.5})
    own = chat("own", looked_up, distance, reasoning="get_zip_code returned 100: that is the zip_a.")
    unsaid = chat("unsaid", distance, reasoning="One call does it.")
    assert figures(own)["unsourced_history_values"]["count"] == 0
    assert figures(unsaid)["unsourced_history_values"]["count"] == 1, "100 comes from turn 1, and is not said"


def test_the_command_prints_figures_and_json(tmp_path):
    path = tmp_path / "data.jsonl"
    records = [
        clean().record(),
        Chat("single")
        .user("Which zip code does Oakridge have?")
        .calls(("get_zip_code", {"city": "Oakridge"}, {"zip": "55012"}))
        .answer("Done: 55012")
        .record(),
    ]
    path.write_text("".join(json.dumps(record) + "\n" for record in records) + "\n")
    table = funreason("quality", str(path))
    assert table.returncode == 0, table.stderr
    assert "2 samples, 5 turns, 5 task turns, 8 calls" in table.stdout
    assert "MISSED" in table.stdout and "single turn 0: 'Done: 55012'" in table.stdout
    printed = funreason("quality", str(path), "--json")
    assert printed.returncode == 0
    quality = json.loads(printed.stdout)
    assert quality == measure_quality(read_records(path)) == measure_quality(read_records(path))
    assert quality["figures"]["templated_answers"]["count"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"messages": []}\nnot json\n', "data.jsonl:2: not JSON"),
        ("[1, 2]\n", "data.jsonl:1: a JSON list, not an object"),
        ('{"conversations": []}\n', 'data.jsonl:1: no "messages" list'),
        ('{"messages": [{"role": "human", "content": "hi"}]}\n', "data.jsonl:1: message 0 has no role"),
        (b"\xff\xfe\n", "data.jsonl: not UTF-8 text"),
    ],
)
def test_bad_files_give_one_line(tmp_path, content, message):
    path = tmp_path / "data.jsonl"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    outcome = funreason("quality", str(path))
    assert outcome.returncode == 1
    assert message in outcome.stderr and outcome.stderr.count("\n") == 1 and "Traceback" not in outcome.stderr


def test_the_run_report_shows_the_figures_of_the_stores_samples(tmp_path):
    from synthesizer.offline import OfflineBackend
    from synthesizer.pipeline import RunConfig, run_pipeline

    config = RunConfig(out=tmp_path, envs=("messaging",), trajectories=3)
    figures_of_run = run_pipeline(config, OfflineBackend(), lambda name: lambda done, total, note="": None)
    quality = figures_of_run["quality"]
    assert quality["counts"]["samples"] == figures_of_run["totals"]["samples"] > 0
    assert quality["counts"]["reasoning_blocks"] > 0  # the store keeps the reasoning the openai export drops
    assert (
        json.loads((tmp_path / "report.json").read_text())["quality"]
        == quality
        == collect_figures(config.store_path)["quality"]
    )
    for page, escape in (("report.md", str), ("report.html", html.escape)):
        text = (tmp_path / page).read_text()
        assert "Data quality" in text
        assert all(escape(figure["what"]) in text for figure in quality["figures"].values())


def test_without_metadata_answers_and_go_aheads_stay_in_their_turn():
    """A reply to the assistant's question and the go-ahead after a tool is announced are no new requests."""
    chat = (
        Chat("follow-ups")
        .user("Send a message saying hi.")
        .answer("Who should get it? I cannot guess the name.")
        .user("Bob.")
        .calls(("get_user_id", {"user_name": "Bob"}, {"user_id": "USR002"}))
        .calls(("send_message", {"receiver_id": "USR002", "message": "hi"}, {"sent": True}))
        .answer("I sent Bob your message.")
        .user("How far is Rivermist from Stonebrook?")
        .answer("I cannot look up zip codes with the tools I have.")
    )
    chat.messages.append({"role": "system", "content": "A new tool is available: " + json.dumps(TOOLS[2]["function"])})
    chat.user("That tool is available now. Please go ahead.")
    chat.calls(
        ("get_zip_code", {"city": "Rivermist"}, {"zip": "83214"}),
        ("get_zip_code", {"city": "Stonebrook"}, {"zip": "74532"}),
    )
    chat.calls(("estimate_distance", {"zip_a": "83214", "zip_b": "74532"}, {"distance_km": 412.5}))
    chat.answer("They are about 412.5 km apart.")
    record = chat.record()
    del record["metadata"]
    quality = measure_quality([record])
    assert (quality["counts"]["turns"], quality["counts"]["task_turns"], quality["counts"]["queries"]) == (2, 2, 2)
    assert quality["figures"]["chained_task_turns"]["count"] == 2


def test_numbers_are_matched_as_numbers():
    """50 is in "50.0" but 0 is not in "0.001"; an integer past a float's precision matches the float a tool gave."""
    big = 3**200  # 2.65e95, shown by the tool as a float
    chat = (
        Chat("numbers")
        .user("Withdraw 50.0 and then 0.001 of it.")
        .calls(("get_zip_code", {"city": 50}, {"zip": float(big)}))
        .calls(("estimate_distance", {"zip_a": big, "zip_b": 0.001}, {"distance_km": 3.5}))
        .answer("It is 3.5 km.")
        .user("Now 0 please.")
        .calls(("get_zip_code", {"city": 0.0}, {"zip": "1"}))
        .answer("Nothing to do.")
    )
    result = figures(chat)["ungrounded_values"]
    assert (result["count"], result["total"]) == (0, 3)
    assert appears("take 50.0 of it", "50") and not appears("take 0.001 of it", "0")
    assert not appears("call usr0021", "usr002") and appears("call usr002.", "usr002")


def test_a_turn_that_logs_in_only_to_log_out_is_an_undo_and_a_dictated_step():
    """Issue 23: "sign me in as Farah. Log me out." does a thing and undoes it in one breath."""
    chat = (
        Chat("undo")
        .user("Sign me in to travel as TRV001. Then log me out.", target="log_out")
        .calls(("travel_log_in", {"user_id": "TRV001"}, {"access_token": "tok_1"}))
        .calls(("log_out", {}, {"logged_out": True}))
        .answer("You are signed out.")
    )
    result = figures(chat)
    assert (result["undo_in_one_turn"]["count"], result["undo_in_one_turn"]["total"]) == (1, 1)
    assert (result["login_only_to_log_out"]["count"], result["login_only_to_log_out"]["total"]) == (1, 1)
    assert (result["dictated_steps"]["count"], result["dictated_steps"]["total"]) == (1, 1)


def test_an_answer_after_a_refusal_must_say_so():
    """Issue 23 and 26: "It's done." after "User not authenticated" reads as success."""
    chat = (
        Chat("refused")
        .user("Send Bob a message saying hi.", target="send_message")
        .calls(("send_message", {"receiver_id": "USR002", "message": "hi"}, {"error": "User not authenticated"}))
        .answer("It's done.")
        .user("Send Bob a message saying hi again.", target="send_message")
        .calls(("send_message", {"receiver_id": "USR002", "message": "hi again"}, {"sent_status": False}))
        .answer("I couldn't send it: the service said no.")
    )
    result = figures(chat)["success_after_failure"]
    assert (result["count"], result["total"]) == (1, 2)
    assert "It's done." in result["examples"][0]


def test_bfcl_entries_are_measured_with_their_ground_truth_executed(tmp_path):
    """`funreason quality` on a BFCL question file: results come from BFCL's own classes."""
    pytest.importorskip("bfcl_eval")
    from synthesizer.bfcl_records import bfcl_question_file, read_bfcl_records

    source = bfcl_question_file()
    (tmp_path / "possible_answer").mkdir()
    for path, target in ((source, tmp_path / source.name), (source.parent / "possible_answer" / source.name, None)):
        lines = path.read_text(encoding="utf-8").splitlines()[:3]
        (target or tmp_path / "possible_answer" / source.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    records = list(read_bfcl_records(tmp_path / source.name))
    assert [record["metadata"]["sample_id"] for record in records] == [f"multi_turn_base_{n}" for n in range(3)]
    results = [m["content"] for m in records[0]["messages"] if m["role"] == "tool"]
    assert results and all(not text.startswith("Error") for text in results)
    quality = measure_quality(records)
    assert quality["counts"]["samples"] == 3 and quality["figures"]["user_turns_per_dialogue"]["mean"] > 2


def test_a_several_part_answer_gives_each_result_asked_for_rounded_or_not():
    """Issue 23: "tell me Bob's id and the distance" answered with the distance only drops a result; a number
    the answer rounds ("about 412.46 km" for 412.4637) is given, a number cut to one digit ("4") is not."""

    def asked(answer: str) -> Chat:
        return (
            Chat("parts")
            .user("Tell me the zip code of Rivermist. How far is it from 74532?", target="estimate_distance")
            .calls(("get_zip_code", {"city": "Rivermist"}, {"zip": "83214"}))
            .calls(("estimate_distance", {"zip_a": "83214", "zip_b": "74532"}, {"distance_km": 412.4637218}))
            .answer(answer)
        )

    given = figures(asked("Rivermist's zip is 83214, about 412.46 km from 74532."))
    assert (given["dropped_asked_results"]["count"], given["dropped_asked_results"]["total"]) == (0, 1)
    last_only = figures(asked("It is about 412.46 km away."))
    assert last_only["last_part_only_answers"]["count"] == last_only["dropped_asked_results"]["count"] == 1
    cut = figures(asked("Rivermist's zip is 83214, about 4 hundred km away."))
    assert (cut["dropped_asked_results"]["count"], cut["last_part_only_answers"]["count"]) == (1, 0)


@pytest.mark.parametrize(
    ("answer", "value", "told"),
    [
        ("The absolute value of 16 is 16.", "16.0", True),  # a whole float said as the whole number it is
        ("0 over 21.5377 is 0.", "0.0", True),
        ("That's 157.97.", "157.970036", True),  # rounded to what the answer shows, three digits at least
        ("That's about 2.", "2.4", False),
    ],
)
def test_a_result_counts_as_told_when_the_answer_writes_the_same_number(answer, value, told):
    assert _told(answer, value) is told
