"""Helpdesk worlds: other agents, teams and customers, tickets at every step of their lifecycle, from the seed."""

from datetime import datetime, timedelta
from typing import Any

from servers.worlds._framework import Draw, World, generator

__all__ = ["generate"]

_TEAMS = ("Billing", "Technical", "Accounts", "Shipping", "General")


@generator("tickets")
def generate(draw: Draw) -> World:
    """3-7 agents in teams, 4-14 customers, 4-30 tickets (open to closed) with comments and their audit log."""
    agents_count = draw.between(3, 7)
    people = draw.people(agents_count + draw.between(4, 14))
    names = draw.unique([draw.handle(person) for person in people])
    company = draw.pick(draw.vocab("companies")).split()[0].lower()
    users = {}
    for number, (person, username) in enumerate(zip(people, names, strict=True)):
        agent = number < agents_count
        domain = f"helpdesk.{company}.example.com" if agent else draw.pick(["example.com", "mail.example.org"])
        users[username] = {
            "username": username,
            "password": draw.password(person),
            "full_name": person.full,
            "email": f"{username}@{domain}",
            "role": "agent" if agent else "customer",
            "team": draw.pick(_TEAMS) if agent else None,
        }
    agents, customers = names[:agents_count], names[agents_count:]
    clock = draw.clock()
    book = _Book()
    for number, created in enumerate(draw.moments(clock, 10, draw.between(4, 30)), 1):
        _ticket(draw, book, f"TKT-{number:04d}", created, clock, draw.pick(customers), agents)
    logged_in = None  # logged out, as the shipped default: a walk that logs out first prunes badly
    state = {
        "users": users,
        "tickets": book.tickets,
        "comments": book.comments,
        "events": book.events,
        "current_user": logged_in,
        "next_ticket_number": len(book.tickets) + 1,
        "next_comment_number": len(book.comments) + 1,
        "next_event_number": len(book.events) + 1,
        "clock": clock,
    }
    credentials = [{"username": name, "password": users[name]["password"]} for name in names]
    pools = {
        "username": names,
        "password": [entry["password"] for entry in credentials],
        "tickets_log_in": credentials,
        "agent_username": agents,
        "owner": agents,
        "customer_username": customers,
        "customer": customers,
        "ticket_id": list(book.tickets),
        **({"comment_id": list(book.comments)} if book.comments else {}),
    }
    who = f"{logged_in} is logged in" if logged_in else "nobody is logged in"
    summary = f"{len(agents)} agents, {len(customers)} customers, {len(book.tickets)} tickets; {who}."
    return World(state, pools, summary)


class _Book:
    """The tables a ticket's life writes to, with the ids numbered as the helpdesk would."""

    def __init__(self) -> None:
        self.tickets: dict[str, Any] = {}
        self.comments: dict[str, Any] = {}
        self.events: dict[str, Any] = {}

    def event(self, ticket_id: str, actor: str, action: str, detail: str, at: str, internal: bool = False) -> None:
        event_id = f"EVT-{len(self.events) + 1:05d}"
        self.events[event_id] = {
            "event_id": event_id,
            "ticket_id": ticket_id,
            "actor": actor,
            "action": action,
            "detail": detail,
            "internal": internal,
            "at": at,
        }

    def comment(self, ticket_id: str, author: str, body: str, at: str, internal: bool) -> None:
        comment_id = f"CMT-{len(self.comments) + 1:04d}"
        self.comments[comment_id] = {
            "comment_id": comment_id,
            "ticket_id": ticket_id,
            "author": author,
            "body": body,
            "internal": internal,
            "created_at": at,
        }
        self.event(ticket_id, author, "internal_note" if internal else "commented", f"{comment_id} added", at, internal)


def _ticket(
    draw: Draw, book: _Book, ticket_id: str, created: str, clock: str, customer: str, agents: list[str]
) -> None:
    """One ticket taken some way along open -> in_progress -> resolved -> closed, logging every step."""
    issue = draw.pick(draw.vocab("ticket_issues"))
    status = draw.pick(["open", "in_progress", "in_progress", "resolved", "closed"])
    times = iter(_after(draw, created, clock, 6))
    priority = draw.pick(["low", "medium", "medium", "high", "urgent"])
    book.event(ticket_id, customer, "created", f"{issue['category']} ticket created with {priority} priority", created)
    owner, resolution, resolved_at, closed_at, updated = None, None, None, None, created
    escalated = False
    if status != "open":
        owner = draw.pick(agents)
        updated = next(times)
        book.event(ticket_id, owner, "assigned", f"assigned to {owner}", updated)
        for _ in range(draw.between(0, 2)):
            updated = next(times)
            internal = draw.chance(0.3)
            book.comment(ticket_id, owner if internal or draw.chance(0.5) else customer, _body(draw), updated, internal)
        if draw.chance(0.15):
            escalated, updated = True, next(times)
            book.event(ticket_id, owner, "escalated", draw.pick(draw.pool("reason") or ["Escalated."]), updated)
    if status in ("resolved", "closed"):
        resolution, resolved_at = issue["resolution"], next(times)
        updated = resolved_at
        book.event(ticket_id, owner or customer, "resolved", resolution, resolved_at)
    if status == "closed":
        closed_at = updated = next(times)
        book.event(ticket_id, customer, "closed", "ticket closed", closed_at)
    book.tickets[ticket_id] = {
        "ticket_id": ticket_id,
        "title": issue["title"],
        "description": issue["description"],
        "priority": priority,
        "category": issue["category"],
        "status": status,
        "customer": customer,
        "owner": owner,
        "escalated": escalated,
        "resolution": resolution,
        "created_at": created,
        "updated_at": updated,
        "resolved_at": resolved_at,
        "closed_at": closed_at,
    }


def _body(draw: Draw) -> str:
    return draw.pick(draw.pool("body") or ["Thanks, looking into it."])


def _after(draw: Draw, start: str, end: str, count: int) -> list[str]:
    """`count` increasing times between `start` and `end` (equal to `end` when there is no room)."""
    first, last = datetime.fromisoformat(start), datetime.fromisoformat(end)
    room = max(0, int((last - first).total_seconds() // 60))
    minutes = sorted(draw.between(1, max(1, room)) for _ in range(count))
    return [min(last, first + timedelta(minutes=minute)).isoformat() for minute in minutes]
