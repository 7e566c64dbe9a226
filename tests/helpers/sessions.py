"""Scripted client sessions: what a person does in a sandbox, goal after goal, as data any MCP client can play.

A session is a list of `(tool, arguments)`; an argument written `{"$ref": [k, "field"]}` is the
`field` of call k's structured result, so a later goal acts on what an earlier one made (the
message just sent, the ticket just filed) exactly as a client reading its results would.  The
same JSON drives the official Python client here and the TypeScript SDK's client in
`ts_client.mjs`.
"""

import json
from pathlib import Path
from typing import Any

from mcp import Client

__all__ = ["SESSIONS", "TS_CLIENT", "play", "resolve"]

TS_CLIENT = Path(__file__).with_name("ts_client.mjs")

SESSIONS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "messaging": [
        ("log_in", {"user_id": "USR001"}),
        ("get_user_id", {"user_name": "Bob"}),
        ("send_message", {"receiver_id": {"$ref": [1, "user_id"]}, "message": "Lunch at noon?"}),
        ("view_sent_messages", {}),
        ("add_contact", {"user_name": "Eve"}),
        ("delete_message", {"message_id": {"$ref": [2, "message_id"]}}),
        ("get_message_stats", {}),
    ],
    "filesystem": [
        ("ls", {}),
        ("mkdir", {"dir_name": "archive"}),
        ("touch", {"file_name": "call.txt"}),
        ("echo", {"content": "call the bank", "file_name": "call.txt"}),
        ("mv", {"source": "call.txt", "destination": "archive"}),
        ("cd", {"folder": "archive"}),
        ("cat", {"file_name": "call.txt"}),
    ],
    "tickets": [
        ("tickets_log_in", {"username": "maria.lopez", "password": "Maria!2026"}),
        (
            "create_ticket",
            {
                "title": "Printer on floor 3 jams",
                "description": "The printer by the kitchen jams on every second page.",
                "priority": "high",
                "category": "technical",
                "customer_username": "alice.chen",
            },
        ),
        ("add_ticket_comment", {"ticket_id": {"$ref": [1, "ticket_id"]}, "body": "Replaced the roller, testing now."}),
        ("close_ticket", {"ticket_id": {"$ref": [1, "ticket_id"]}}),  # refused: an open ticket is resolved first
        ("assign_ticket", {"ticket_id": {"$ref": [1, "ticket_id"]}, "agent_username": "sam.okafor"}),
        ("resolve_ticket", {"ticket_id": {"$ref": [1, "ticket_id"]}, "resolution": "Replaced the worn roller."}),
        ("get_ticket", {"ticket_id": {"$ref": [1, "ticket_id"]}}),
    ],
    "travel": [
        ("travel_log_in", {"user_id": "TRV001", "password": "Sunset#2026"}),
        ("list_travel_cards", {"access_token": {"$ref": [0, "access_token"]}}),
        (
            "book_flight",
            {
                "access_token": {"$ref": [0, "access_token"]},
                "card_id": "CARD001",
                "origin_airport": "JFK",
                "destination_airport": "LAX",
                "travel_date": "2026-03-14",
                "travel_class": "economy",
            },
        ),
        (
            "retrieve_flight_invoice",
            {"access_token": {"$ref": [0, "access_token"]}, "booking_id": {"$ref": [2, "booking_id"]}},
        ),
        (
            "purchase_travel_insurance",
            {
                "access_token": {"$ref": [0, "access_token"]},
                "booking_id": {"$ref": [2, "booking_id"]},
                "card_id": "CARD001",
                "plan": "basic",
            },
        ),
        (
            "cancel_flight_booking",
            {"access_token": {"$ref": [0, "access_token"]}, "booking_id": {"$ref": [2, "booking_id"]}},
        ),
    ],
}


def resolve(arguments: dict[str, Any], results: list[Any]) -> dict[str, Any]:
    """The arguments with every `{"$ref": [k, field]}` replaced by that field of call k's result."""

    def value(item: Any) -> Any:
        if isinstance(item, dict) and set(item) == {"$ref"}:
            step, field = item["$ref"]
            return results[step][field]
        return item

    return {name: value(item) for name, item in arguments.items()}


async def play(client: Client, session: list[tuple[str, dict[str, Any]]]) -> list[bool]:
    """Play a session through a connected official client; returns each call's is_error."""
    results: list[Any] = []
    errors = []
    for tool, arguments in session:
        result = await client.call_tool(tool, resolve(arguments, results))
        results.append(result.structured_content or {})
        errors.append(bool(result.is_error))
    return errors


def session_json(env: str) -> str:
    """The session as the TypeScript client reads it."""
    return json.dumps([{"tool": tool, "arguments": arguments} for tool, arguments in SESSIONS[env]])
