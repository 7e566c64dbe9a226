"""Messaging: every tool's behaviour, failure modes and dependency chains."""

import pytest

from servers import InvalidArgument, NotFound, PreconditionFailed
from tests.conftest import refused, run


@pytest.fixture
def box(sandbox_of):
    return sandbox_of("messaging", "default")


@pytest.fixture
def alice(box):
    run(box, "log_in", user_id="USR001")
    return box


def test_user_lookup_feeds_login_and_send(box):
    user_id = run(box, "get_user_id", user_name="bob").user_id
    assert user_id == "USR002"
    assert "USR006" in run(box, "list_users").user_ids
    me = run(box, "get_user_id", user_name="Alice").user_id
    status = run(box, "log_in", user_id=me)
    assert status.logged_in and status.user_id == "USR001"
    sent = run(box, "send_message", receiver_id=user_id, message="Lunch at noon?")
    assert sent.message_id == "MSG0005"
    assert box.state()["messaging"]["messages"]["MSG0005"]["receiver_id"] == "USR002"
    assert box.state()["messaging"]["clock"] == sent.sent_at


def test_login_status_and_logout(alice):
    assert run(alice, "get_login_status").user_id == "USR001"
    assert run(alice, "log_out").logged_in is False
    assert alice.state()["messaging"]["current_user"] is None
    refused(alice, "log_out", PreconditionFailed)


def test_login_failures(box):
    refused(box, "log_in", NotFound, user_id="USR999")
    run(box, "log_in", user_id="USR001")
    refused(box, "log_in", PreconditionFailed, user_id="USR002")


def test_every_logged_in_tool_needs_login(box):
    for tool_name, arguments in [
        ("add_contact", {"user_name": "Eve"}),
        ("remove_contact", {"user_id": "USR002"}),
        ("list_contacts", {}),
        ("send_message", {"receiver_id": "USR002", "message": "hi"}),
        ("view_inbox", {}),
        ("view_sent_messages", {}),
        ("read_message", {"message_id": "MSG0001"}),
        ("delete_message", {"message_id": "MSG0001"}),
        ("search_messages", {"keyword": "lunch"}),
        ("get_message_stats", {}),
    ]:
        assert "log_in" in refused(box, tool_name, PreconditionFailed, **arguments)


def test_contacts(alice):
    added = run(alice, "add_contact", user_name="Eve").user_id
    assert added == "USR005"
    assert run(alice, "list_contacts").contact_ids == ["USR002", "USR003", "USR005"]
    refused(alice, "add_contact", InvalidArgument, user_name="Eve")
    refused(alice, "add_contact", InvalidArgument, user_name="Alice")
    refused(alice, "add_contact", NotFound, user_name="Zed")
    assert run(alice, "remove_contact", user_id=added).user_id == "USR005"
    refused(alice, "remove_contact", NotFound, user_id="USR005")


def test_inbox_read_search_delete(alice):
    inbox = run(alice, "view_inbox")
    assert inbox.message_ids == ["MSG0001", "MSG0003"]
    assert run(alice, "view_inbox", unread_only=True).message_ids == ["MSG0003"]
    message = run(alice, "read_message", message_id="MSG0003")
    assert message.content.startswith("The budget") and message.read
    assert run(alice, "view_inbox", unread_only=True).message_ids == []
    assert run(alice, "view_sent_messages").message_ids == ["MSG0002"]
    assert run(alice, "search_messages", keyword="LUNCH").message_ids == ["MSG0001"]
    stats = run(alice, "get_message_stats")
    assert (stats.received, stats.unread, stats.sent, stats.contacts) == (2, 0, 1, 2)
    assert run(alice, "delete_message", message_id="MSG0001").deleted_message_id == "MSG0001"
    assert "MSG0001" not in alice.state()["messaging"]["messages"]
    refused(alice, "read_message", NotFound, message_id="MSG0001")
    refused(alice, "delete_message", NotFound, message_id="MSG0004")  # between two other users


def test_send_failures(alice):
    refused(alice, "send_message", NotFound, receiver_id="USR999", message="hi")
    refused(alice, "send_message", InvalidArgument, receiver_id="USR001", message="hi")


def test_sent_message_id_feeds_read_and_delete(alice):
    message_id = run(alice, "send_message", receiver_id="USR004", message="Slides attached").message_id
    assert run(alice, "read_message", message_id=message_id).read is False
    run(alice, "log_out")
    run(alice, "log_in", user_id="USR004")
    assert message_id in run(alice, "view_inbox", unread_only=True).message_ids
    assert run(alice, "read_message", message_id=message_id).read is True
    run(alice, "delete_message", message_id=message_id)
