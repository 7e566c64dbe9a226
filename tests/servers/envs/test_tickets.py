"""Tickets: every tool's behaviour, failure modes, lifecycle and dependency chains."""

import pytest

from servers import InvalidArgument, NotFound, PreconditionFailed, create_sandbox, scenario_names
from tests.conftest import refused, run


@pytest.fixture
def box(sandbox_of):
    return sandbox_of("tickets", "default")


@pytest.fixture
def agent(box):
    run(box, "tickets_log_in", username="maria.lopez", password="Maria!2026")
    return box


@pytest.fixture
def alice(box):
    run(box, "tickets_log_in", username="alice.chen", password="Alice!2026")
    return box


def tickets_of(box):
    return box.state()["tickets"]["tickets"]


def test_every_scenario_loads():
    assert {"default", "busy_helpdesk", "fresh_system", "customer_logged_in"} <= set(scenario_names("tickets"))
    busy = create_sandbox("tickets", "busy_helpdesk").state()["tickets"]
    assert len(busy["tickets"]) == 60
    assert {t["status"] for t in busy["tickets"].values()} == {"open", "in_progress", "resolved", "closed"}
    assert create_sandbox("tickets", "fresh_system").state()["tickets"]["tickets"] == {}
    logged = create_sandbox("tickets", "customer_logged_in")
    assert run(logged, "tickets_get_login_status").username == "alice.chen"


def test_bad_scenario_fails_clearly():
    from servers.envs.tickets import TicketsState

    state = create_sandbox("tickets", "default").state()["tickets"]
    state["tickets"]["TKT-0003"]["owner"] = "alice.chen"
    with pytest.raises(ValueError, match="is not an agent"):
        TicketsState.model_validate(state)


def test_login_status_and_logout(box):
    assert run(box, "tickets_get_login_status").logged_in is False
    status = run(box, "tickets_log_in", username="maria.lopez", password="Maria!2026")
    assert (status.logged_in, status.username, status.role) == (True, "maria.lopez", "agent")
    assert box.state()["tickets"]["current_user"] == "maria.lopez"
    assert run(box, "tickets_get_login_status").role == "agent"
    assert run(box, "tickets_log_out").logged_in is False
    assert box.state()["tickets"]["current_user"] is None
    refused(box, "tickets_log_out", PreconditionFailed)


def test_login_failures(box):
    refused(box, "tickets_log_in", NotFound, username="nobody", password="x")
    assert "wrong password" in refused(box, "tickets_log_in", InvalidArgument, username="alice.chen", password="nope")
    run(box, "tickets_log_in", username="alice.chen", password="Alice!2026")
    refused(box, "tickets_log_in", PreconditionFailed, username="maria.lopez", password="Maria!2026")


def test_every_ticket_tool_needs_login(box):
    for tool_name, arguments in [
        ("create_ticket", {"title": "Broken", "description": "It broke."}),
        ("get_ticket", {"ticket_id": "TKT-0001"}),
        ("list_tickets", {}),
        ("edit_ticket", {"ticket_id": "TKT-0003", "title": "New title"}),
        ("assign_ticket", {"ticket_id": "TKT-0005", "agent_username": "sam.okafor"}),
        ("add_ticket_comment", {"ticket_id": "TKT-0003", "body": "hi"}),
        ("list_ticket_comments", {"ticket_id": "TKT-0003"}),
        ("delete_ticket_comment", {"comment_id": "CMT-0004"}),
        ("escalate_ticket", {"ticket_id": "TKT-0005", "reason": "waiting"}),
        ("resolve_ticket", {"ticket_id": "TKT-0003", "resolution": "Fixed."}),
        ("reopen_ticket", {"ticket_id": "TKT-0002", "reason": "Broken again"}),
        ("close_ticket", {"ticket_id": "TKT-0002"}),
        ("list_agents", {}),
        ("get_ticket_history", {"ticket_id": "TKT-0001"}),
        ("get_ticket_stats", {}),
    ]:
        assert "tickets_log_in" in refused(box, tool_name, PreconditionFailed, **arguments)


def test_customer_creates_ticket_and_its_id_feeds_get_list_and_history(alice):
    ticket = run(alice, "create_ticket", title="Promo code rejected", description="SPRING26 fails.", category="billing")
    assert (ticket.ticket_id, ticket.status, ticket.priority, ticket.owner) == ("TKT-0009", "open", "medium", None)
    stored = tickets_of(alice)["TKT-0009"]
    assert stored["customer"] == "alice.chen" and stored["created_at"] == alice.state()["tickets"]["clock"]
    assert alice.state()["tickets"]["next_ticket_number"] == 10
    assert run(alice, "get_ticket", ticket_id=ticket.ticket_id).title == "Promo code rejected"
    assert run(alice, "list_tickets").ticket_ids == ["TKT-0001", "TKT-0004", "TKT-0009"]
    events = run(alice, "get_ticket_history", ticket_id=ticket.ticket_id).events
    assert [(e.action, e.actor) for e in events] == [("created", "alice.chen")]


def test_create_failures(alice):
    refused(alice, "create_ticket", InvalidArgument, title="Help", description="x", customer_username="bob.martin")
    run(alice, "tickets_log_out")
    run(alice, "tickets_log_in", username="maria.lopez", password="Maria!2026")
    refused(alice, "create_ticket", InvalidArgument, title="Help", description="x")
    refused(alice, "create_ticket", NotFound, title="Help", description="x", customer_username="zed")
    refused(alice, "create_ticket", InvalidArgument, title="Help", description="x", customer_username="sam.okafor")


def test_agent_files_for_customer_from_login_status(box):
    run(box, "tickets_log_in", username="bob.martin", password="Bob!2026")
    customer = run(box, "tickets_get_login_status").username
    run(box, "tickets_log_out")
    run(box, "tickets_log_in", username="tom.becker", password="Tom!2026")
    ticket = run(box, "create_ticket", title="Phone call: refund", description="x", customer_username=customer)
    assert tickets_of(box)[ticket.ticket_id]["customer"] == "bob.martin"


def test_customers_only_see_their_own_tickets(alice):
    refused(alice, "get_ticket", NotFound, ticket_id="TKT-0003")
    refused(alice, "get_ticket", NotFound, ticket_id="TKT-9999")
    refused(alice, "list_ticket_comments", NotFound, ticket_id="TKT-0003")
    assert run(alice, "list_tickets", customer="bob.martin").ticket_ids == []
    stats = run(alice, "get_ticket_stats")
    assert (stats.total, stats.by_status["closed"], stats.by_priority["urgent"], stats.unassigned) == (2, 1, 1, 1)


def test_list_tickets_filters(agent):
    assert run(agent, "list_tickets").total == 8
    assert run(agent, "list_tickets", status="open").ticket_ids == ["TKT-0004", "TKT-0005", "TKT-0008"]
    assert run(agent, "list_tickets", priority="urgent").ticket_ids == ["TKT-0004", "TKT-0006"]
    assert run(agent, "list_tickets", category="shipping").ticket_ids == ["TKT-0004", "TKT-0008"]
    assert run(agent, "list_tickets", owner="maria.lopez").ticket_ids == ["TKT-0001", "TKT-0007"]
    assert run(agent, "list_tickets", customer="dev.patel").ticket_ids == ["TKT-0005", "TKT-0008"]
    assert run(agent, "list_tickets", unassigned_only=True, status="open").total == 3
    limited = run(agent, "list_tickets", limit=2)
    assert (limited.ticket_ids, limited.total) == (["TKT-0001", "TKT-0002"], 8)
    refused(agent, "list_tickets", NotFound, owner="ghost")
    refused(agent, "list_tickets", InvalidArgument, owner="alice.chen")
    refused(agent, "list_tickets", InvalidArgument, owner="maria.lopez", unassigned_only=True)
    refused(agent, "list_tickets", NotFound, customer="ghost")


def test_ticket_owner_feeds_list_filter(agent):
    owner = run(agent, "get_ticket", ticket_id="TKT-0003").owner
    assert run(agent, "list_tickets", owner=owner).ticket_ids == ["TKT-0003"]


def test_edit_ticket(alice):
    edited = run(alice, "edit_ticket", ticket_id="TKT-0004", title="Parcel for order #55120 missing", priority="high")
    assert (edited.title, edited.priority) == ("Parcel for order #55120 missing", "high")
    assert tickets_of(alice)["TKT-0004"]["updated_at"] == alice.state()["tickets"]["clock"]
    assert run(alice, "get_ticket_history", ticket_id="TKT-0004").events[-1].detail == "changed priority, title"
    refused(alice, "edit_ticket", InvalidArgument, ticket_id="TKT-0004", priority="high")
    refused(alice, "edit_ticket", InvalidArgument, ticket_id="TKT-0004")
    assert "closed" in refused(alice, "edit_ticket", PreconditionFailed, ticket_id="TKT-0001", title="Reword")


def test_list_agents_feeds_assign(agent):
    agents = run(agent, "list_agents")
    assert agents.agent_usernames == ["maria.lopez", "priya.nair", "sam.okafor", "tom.becker"]
    assert {a.username: a.active_tickets for a in agents.agents} == {
        "maria.lopez": 1,
        "priya.nair": 1,
        "sam.okafor": 1,
        "tom.becker": 0,
    }
    ticket = run(agent, "assign_ticket", ticket_id="TKT-0005", agent_username=agents.agent_usernames[3])
    assert (ticket.owner, ticket.status) == ("tom.becker", "in_progress")
    assert tickets_of(agent)["TKT-0005"]["owner"] == "tom.becker"
    again = run(agent, "assign_ticket", ticket_id="TKT-0005", agent_username="sam.okafor")
    assert (again.owner, again.status) == ("sam.okafor", "in_progress")


def test_auto_assign_picks_least_loaded_agent(agent):
    assert run(agent, "assign_ticket", ticket_id="TKT-0008").owner == "tom.becker"


def test_assign_failures(agent, sandbox_of):
    refused(agent, "assign_ticket", PreconditionFailed, ticket_id="TKT-0002", agent_username="sam.okafor")
    refused(agent, "assign_ticket", InvalidArgument, ticket_id="TKT-0003", agent_username="sam.okafor")
    refused(agent, "assign_ticket", NotFound, ticket_id="TKT-0005", agent_username="ghost")
    refused(agent, "assign_ticket", InvalidArgument, ticket_id="TKT-0005", agent_username="dev.patel")
    refused(agent, "assign_ticket", NotFound, ticket_id="TKT-0999", agent_username="sam.okafor")
    customer = sandbox_of("tickets", "customer_logged_in")
    assert "agents" in refused(
        customer, "assign_ticket", PreconditionFailed, ticket_id="TKT-0004", agent_username="sam.okafor"
    )


def test_comments_feed_delete_and_hide_internal_notes(box):
    run(box, "tickets_log_in", username="carla.diaz", password="Carla!2026")
    assert run(box, "list_ticket_comments", ticket_id="TKT-0003").comment_ids == ["CMT-0004", "CMT-0005"]
    comment = run(box, "add_ticket_comment", ticket_id="TKT-0003", body="Also happens on my laptop.")
    assert (comment.comment_id, comment.author, comment.internal) == ("CMT-0008", "carla.diaz", False)
    assert box.state()["tickets"]["comments"]["CMT-0008"]["body"] == "Also happens on my laptop."
    refused(box, "add_ticket_comment", PreconditionFailed, ticket_id="TKT-0003", body="x", internal=True)
    refused(box, "delete_ticket_comment", NotFound, comment_id="CMT-0006")  # an internal note
    refused(box, "delete_ticket_comment", PreconditionFailed, comment_id="CMT-0004")  # written by the agent
    refused(box, "delete_ticket_comment", NotFound, comment_id="CMT-0007")  # on someone else's ticket
    deleted = run(box, "delete_ticket_comment", comment_id=comment.comment_id)
    assert deleted.deleted_comment_id == "CMT-0008" and "CMT-0008" not in box.state()["tickets"]["comments"]
    refused(box, "delete_ticket_comment", NotFound, comment_id="CMT-0008")
    actions = [e.action for e in run(box, "get_ticket_history", ticket_id="TKT-0003").events]
    assert "internal_note" not in actions and actions[-2:] == ["commented", "comment_deleted"]


def test_agent_internal_note_and_closed_ticket_comments(agent):
    note = run(agent, "add_ticket_comment", ticket_id="TKT-0003", body="Check BUG-3391.", internal=True)
    listed = run(agent, "list_ticket_comments", ticket_id="TKT-0003").comment_ids
    assert listed[-1] == note.comment_id and "CMT-0006" in listed
    assert run(agent, "get_ticket_history", ticket_id="TKT-0003").events[-1].internal is True
    refused(agent, "add_ticket_comment", PreconditionFailed, ticket_id="TKT-0001", body="late reply")
    refused(agent, "delete_ticket_comment", PreconditionFailed, comment_id="CMT-0001")  # ticket closed


def test_escalate_ticket(agent):
    escalated = run(agent, "escalate_ticket", ticket_id="TKT-0005", reason="Customer's trial ends today.")
    assert (escalated.priority, escalated.escalated) == ("medium", True)
    assert tickets_of(agent)["TKT-0005"]["priority"] == "medium"
    assert "low -> medium" in run(agent, "get_ticket_history", ticket_id="TKT-0005").events[-1].detail
    assert "urgent" in refused(agent, "escalate_ticket", PreconditionFailed, ticket_id="TKT-0006", reason="asap")
    refused(agent, "escalate_ticket", PreconditionFailed, ticket_id="TKT-0002", reason="asap")


def test_resolve_reopen_close(agent):
    resolved = run(agent, "resolve_ticket", ticket_id="TKT-0003", resolution="Fixed in release 4.2.1.")
    assert (resolved.status, resolved.resolution) == ("resolved", "Fixed in release 4.2.1.")
    assert tickets_of(agent)["TKT-0003"]["resolved_at"] == agent.state()["tickets"]["clock"]
    reopened = run(agent, "reopen_ticket", ticket_id="TKT-0003", reason="Still crashes with large charts.")
    assert (reopened.status, reopened.owner, reopened.resolution) == ("in_progress", "sam.okafor", None)
    closed = run(agent, "close_ticket", ticket_id="TKT-0002")
    assert closed.status == "closed" and tickets_of(agent)["TKT-0002"]["closed_at"] == closed.closed_at
    assert [e.action for e in run(agent, "get_ticket_history", ticket_id="TKT-0002").events][-1] == "closed"


def test_lifecycle_failures(agent):
    assert "assign it first" in refused(
        agent, "resolve_ticket", PreconditionFailed, ticket_id="TKT-0005", resolution="Done"
    )
    refused(agent, "resolve_ticket", PreconditionFailed, ticket_id="TKT-0002", resolution="Done")
    refused(agent, "reopen_ticket", PreconditionFailed, ticket_id="TKT-0001", reason="Broken again")
    refused(agent, "reopen_ticket", PreconditionFailed, ticket_id="TKT-0003", reason="Broken again")
    refused(agent, "close_ticket", PreconditionFailed, ticket_id="TKT-0003")
    refused(agent, "close_ticket", PreconditionFailed, ticket_id="TKT-0001")


def test_customer_cannot_resolve_but_can_reopen_and_close(box):
    run(box, "tickets_log_in", username="bob.martin", password="Bob!2026")
    refused(box, "resolve_ticket", PreconditionFailed, ticket_id="TKT-0007", resolution="Done")
    assert run(box, "reopen_ticket", ticket_id="TKT-0002", reason="Link expired.").status == "in_progress"
    run(box, "tickets_log_out")
    run(box, "tickets_log_in", username="tom.becker", password="Tom!2026")
    run(box, "resolve_ticket", ticket_id="TKT-0002", resolution="New link sent.")
    run(box, "tickets_log_out")
    run(box, "tickets_log_in", username="bob.martin", password="Bob!2026")
    assert run(box, "close_ticket", ticket_id="TKT-0002").status == "closed"


def test_full_lifecycle_on_a_fresh_system(sandbox_of):
    box = sandbox_of("tickets", "fresh_system")
    run(box, "tickets_log_in", username="carla.diaz", password="Carla!2026")
    ticket_id = run(box, "create_ticket", title="Locked out", description="2FA lost.", category="account").ticket_id
    assert ticket_id == "TKT-0001"
    run(box, "tickets_log_out")
    run(box, "tickets_log_in", username="priya.nair", password="Priya!2026")
    assert run(box, "get_ticket_stats").unassigned == 1
    run(box, "assign_ticket", ticket_id=ticket_id, agent_username="priya.nair")
    run(box, "resolve_ticket", ticket_id=ticket_id, resolution="2FA reset after identity check.")
    run(box, "close_ticket", ticket_id=ticket_id)
    history = run(box, "get_ticket_history", ticket_id=ticket_id).events
    assert [e.action for e in history] == ["created", "assigned", "resolved", "closed"]
    assert tickets_of(box)[ticket_id]["status"] == "closed"
    stats = run(box, "get_ticket_stats")
    assert (stats.total, stats.by_status["closed"], stats.unassigned) == (1, 1, 0)


def test_busy_helpdesk_stats_and_limit(sandbox_of):
    box = sandbox_of("tickets", "busy_helpdesk")
    run(box, "tickets_log_in", username="maria.lopez", password="Maria!2026")
    stats = run(box, "get_ticket_stats")
    assert stats.total == 60 and sum(stats.by_status.values()) == 60
    page = run(box, "list_tickets", limit=10)
    assert len(page.ticket_ids) == 10 and page.total == 60


def _session(seed):
    box = create_sandbox("tickets", "fresh_system", seed)
    run(box, "tickets_log_in", username="alice.chen", password="Alice!2026")
    ids = [run(box, "create_ticket", title=f"Issue {n}", description="x").ticket_id for n in range(6)]
    run(box, "tickets_log_out")
    run(box, "tickets_log_in", username="sam.okafor", password="Sam!2026")
    owners = [run(box, "assign_ticket", ticket_id=ticket_id).owner for ticket_id in ids[:1]]
    return box, owners


def test_same_seed_same_state_and_seed_changes_auto_assignment():
    first, owners = _session(5)
    second, again = _session(5)
    assert owners == again and first.state_hash() == second.state_hash()
    picks = {_session(seed)[1][0] for seed in range(12)}
    assert len(picks) > 1 and picks <= {"maria.lopez", "priya.nair", "sam.okafor"}


def test_listed_ids_feed_get_filters_and_delete(agent):
    ticket_id = run(agent, "list_tickets", status="in_progress", priority="urgent").ticket_ids[0]
    customer = run(agent, "get_ticket", ticket_id=ticket_id).customer
    assert run(agent, "list_tickets", customer=customer).ticket_ids == [ticket_id]
    comment_id = run(agent, "list_ticket_comments", ticket_id="TKT-0001").comment_ids[0]
    run(agent, "tickets_log_out")
    run(agent, "tickets_log_in", username="priya.nair", password="Priya!2026")
    own = run(agent, "list_ticket_comments", ticket_id=ticket_id).comment_ids[-1]
    assert run(agent, "delete_ticket_comment", comment_id=own).ticket_id == ticket_id
    assert own not in agent.state()["tickets"]["comments"] and comment_id in agent.state()["tickets"]["comments"]
    refused(agent, "get_ticket_history", NotFound, ticket_id="TKT-0404")
