"""Travel: every tool's behaviour, failure modes and dependency chains."""

import pytest

from servers import InvalidArgument, NotFound, PreconditionFailed, create_sandbox, scenario_names
from tests.conftest import refused, run

TRIP = {"origin_airport": "JFK", "destination_airport": "BOS", "travel_date": "2026-03-18", "travel_class": "economy"}


@pytest.fixture
def box(sandbox_of):
    return sandbox_of("travel", "default")


def log_in(box, user_id="TRV001", password="Sunset#2026"):
    return run(box, "travel_log_in", user_id=user_id, password=password).access_token


def travel(box):
    return box.state()["travel"]


@pytest.mark.parametrize("scenario", scenario_names("travel"))
def test_every_scenario_loads(scenario):
    assert travel(create_sandbox("travel", scenario))["airports"]["JFK"]["city"] == "New York"


def test_scenarios_cover_the_edge_cases():
    assert {"default", "frequent_flyer", "new_user", "tight_budget", "nearly_broke"} <= set(scenario_names("travel"))
    assert travel(create_sandbox("travel", "new_user"))["cards"] == {}
    assert len(travel(create_sandbox("travel", "frequent_flyer"))["bookings"]) >= 12


def test_login_token_feeds_booking_tools_and_logout(box):
    status = run(box, "travel_get_login_status")
    assert (status.logged_in, status.user_id) == (False, None)
    login = run(box, "travel_log_in", user_id="TRV001", password="Sunset#2026")
    assert login.access_token.startswith("tok_") and login.expires_at == "2026-03-02T17:02:00"
    assert travel(box)["session"]["access_token"] == login.access_token
    assert run(box, "travel_get_login_status").user_id == "TRV001"
    profile = run(box, "get_travel_user_profile", access_token=login.access_token)
    assert (profile.full_name, profile.loyalty_tier, profile.card_count, profile.confirmed_booking_count) == (
        "Maya Patel",
        "gold",
        2,
        2,
    )
    assert run(box, "travel_log_out").logged_in is False
    assert travel(box)["session"] is None
    assert "travel_log_in" in refused(box, "list_travel_cards", PreconditionFailed, access_token=login.access_token)
    refused(box, "travel_log_out", PreconditionFailed)


def test_status_user_feeds_login_and_booking_ids_feed_lookups(sandbox_of):
    box = sandbox_of("travel", "tight_budget")
    user_id = run(box, "travel_get_login_status").user_id
    token = log_in(box, user_id, "Budget-Wise-5")
    origin = run(box, "get_airport_by_city", city="Providence").airport_code
    destination = run(box, "list_airports", country="Canada").airport_codes[0]
    trip = {**TRIP, "origin_airport": origin, "destination_airport": destination}
    booking_id = run(box, "book_flight", access_token=token, card_id="CARD001", **trip).booking_id
    assert travel(box)["bookings"][booking_id]["destination_airport"] == "YYZ"
    booking = run(box, "get_flight_booking", access_token=token, booking_id=booking_id)
    policy = run(
        box,
        "purchase_travel_insurance",
        access_token=token,
        booking_id=booking_id,
        card_id=booking.card_id,
        plan="comprehensive",
    )
    booking = run(box, "get_flight_booking", access_token=token, booking_id=booking_id)
    shown = run(box, "get_travel_insurance", access_token=token, insurance_id=booking.insurance_id)
    assert (shown.insurance_id, shown.plan) == (policy.insurance_id, "comprehensive")
    run(box, "email_flight_invoice", access_token=token, invoice_id=booking.invoice_id)
    assert travel(box)["invoices"][booking.invoice_id]["emailed_to"] == ["hannah.kim@example.com"]


def test_login_failures(box):
    refused(box, "travel_log_in", NotFound, user_id="TRV999", password="x")
    assert "incorrect password" in refused(box, "travel_log_in", InvalidArgument, user_id="TRV001", password="wrong")


def test_invalid_and_expired_tokens(box, sandbox_of):
    old = log_in(box)
    new = log_in(box)
    assert old != new
    assert "not valid" in refused(box, "get_travel_user_profile", InvalidArgument, access_token=old)
    stale = sandbox_of("travel", "tight_budget")
    token = travel(stale)["session"]["access_token"]
    assert run(stale, "travel_get_login_status").token_expired is True
    assert "expired" in refused(stale, "list_flight_bookings", PreconditionFailed, access_token=token)
    fresh = log_in(stale, "TRV301", "Budget-Wise-5")
    assert run(stale, "travel_get_login_status").token_expired is False
    assert len(run(stale, "list_flight_bookings", access_token=fresh).booking_ids) == 2


def test_airports_feed_the_estimate(box):
    assert run(box, "list_airports", country="united states").airport_codes == [
        "BOS",
        "JFK",
        "LAX",
        "MIA",
        "ORD",
        "SEA",
        "SFO",
    ]
    assert len(run(box, "list_airports").airport_codes) == 17
    boston = run(box, "get_airport_by_city", city="Boston")
    assert (boston.airport_code, boston.distance_km) == ("BOS", 0.0)
    oxford = run(box, "get_airport_by_city", city="oxford")
    assert oxford.airport_code == "LHR" and 50 < oxford.distance_km < 80
    refused(box, "get_airport_by_city", NotFound, city="Atlantis")
    estimate = run(
        box,
        "get_flight_cost_estimate",
        origin_airport=boston.airport_code,
        destination_airport=oxford.airport_code,
        travel_date="2026-04-15",
        travel_class="business",
        travellers=2,
        currency="GBP",
    )
    assert estimate.destination_airport == "LHR" and 5000 < estimate.distance_km < 5500
    assert estimate.total_price == pytest.approx(estimate.total_price_usd * 0.79, abs=0.01)
    assert estimate.price_per_traveller == pytest.approx(estimate.total_price / 2, abs=0.01)


def test_estimate_failures(box):
    refused(box, "get_flight_cost_estimate", NotFound, **{**TRIP, "destination_airport": "XXX"})
    refused(box, "get_flight_cost_estimate", InvalidArgument, **{**TRIP, "destination_airport": "JFK"})
    refused(box, "get_flight_cost_estimate", InvalidArgument, **{**TRIP, "travel_date": "2026-02-30"})
    refused(box, "get_flight_cost_estimate", InvalidArgument, **{**TRIP, "travel_date": "2026-03-02"})
    refused(box, "get_flight_cost_estimate", InvalidArgument, **{**TRIP, "travel_date": "2027-06-01"})
    refused(box, "get_flight_cost_estimate", NotFound, **TRIP, currency="XYZ")


def test_class_and_weekend_change_the_price(box):
    economy = run(box, "get_flight_cost_estimate", **TRIP).total_price_usd
    first = run(box, "get_flight_cost_estimate", **{**TRIP, "travel_class": "first"}).total_price_usd
    assert 4 * economy < first < 6 * economy
    friday = run(box, "get_flight_cost_estimate", **{**TRIP, "travel_date": "2026-03-20"}).total_price_usd
    assert friday > economy  # Friday and Sunday departures carry a 10% peak surcharge


def test_currency_conversion(box):
    result = run(box, "convert_travel_currency", amount=100.0, from_currency="eur", to_currency="GBP")
    assert (result.from_currency, result.to_currency) == ("EUR", "GBP")
    assert result.converted_amount == pytest.approx(100 * 0.79 / 0.92, abs=0.01)
    refused(box, "convert_travel_currency", NotFound, amount=1.0, from_currency="USD", to_currency="BTC")


def test_budget_limit(box):
    token = log_in(box)
    result = run(box, "set_travel_budget_limit", access_token=token, budget_limit=150.0)
    assert (result.previous_budget_limit, result.budget_limit) == (3000.0, 150.0)
    assert travel(box)["users"]["TRV001"]["budget_limit"] == 150.0
    trip = {**TRIP, "destination_airport": "ORD"}
    assert "budget limit" in refused(
        box, "book_flight", PreconditionFailed, access_token=token, card_id="CARD001", **trip
    )
    run(box, "set_travel_budget_limit", access_token=token, budget_limit=None)
    assert run(box, "get_travel_user_profile", access_token=token).budget_limit is None
    run(box, "book_flight", access_token=token, card_id="CARD001", **trip)


def test_tight_budget_allows_only_cheap_trips(sandbox_of):
    box = sandbox_of("travel", "tight_budget")
    token = log_in(box, "TRV301", "Budget-Wise-5")
    trip = {**TRIP, "destination_airport": "LAX"}
    refused(box, "book_flight", PreconditionFailed, access_token=token, card_id="CARD001", **trip)
    booked = run(box, "book_flight", access_token=token, card_id="CARD001", **TRIP)
    assert booked.total_cost <= 350.0


def test_register_list_and_balance_cards(sandbox_of):
    box = sandbox_of("travel", "new_user")
    token = log_in(box, "TRV201", "first-Trip-2026")
    assert run(box, "list_travel_cards", access_token=token).card_ids == []
    card = run(
        box,
        "register_travel_card",
        access_token=token,
        card_number="4111 1111 1111 1111",
        cardholder_name="Priya Raman",
        expiry_date="08/27",
        cvv="123",
        credit_limit=1500.0,
    )
    assert (card.card_id, card.brand, card.last4) == ("CARD001", "visa", "1111")
    assert travel(box)["cards"]["CARD001"]["user_id"] == "TRV201"
    assert run(box, "list_travel_cards", access_token=token).card_ids == [card.card_id]
    assert run(box, "get_travel_card_balance", access_token=token, card_id=card.card_id).balance == 1500.0
    booking = run(box, "book_flight", access_token=token, card_id=card.card_id, **TRIP)
    assert booking.card_balance_after == pytest.approx(1500.0 - booking.total_cost)


def test_register_card_failures(sandbox_of):
    box = sandbox_of("travel", "new_user")
    token = log_in(box, "TRV201", "first-Trip-2026")
    card = {"cardholder_name": "Priya Raman", "expiry_date": "08/27", "cvv": "123", "credit_limit": 900.0}
    refused(box, "register_travel_card", InvalidArgument, access_token=token, card_number="4111111111111112", **card)
    refused(box, "register_travel_card", InvalidArgument, access_token=token, card_number="9999999999999995", **card)
    amex = {**card, "card_number": "378282246310005"}
    refused(box, "register_travel_card", InvalidArgument, access_token=token, **amex)
    old = {**card, "card_number": "4111111111111111", "expiry_date": "01/26"}
    refused(box, "register_travel_card", InvalidArgument, access_token=token, **old)
    run(box, "register_travel_card", access_token=token, card_number="5555-5555-5555-4444", **card)
    dup = {**card, "card_number": "5555555555554444"}
    assert "already registered" in refused(box, "register_travel_card", InvalidArgument, access_token=token, **dup)


def test_card_lookup_failures(box):
    token = log_in(box)
    refused(box, "get_travel_card_balance", NotFound, access_token=token, card_id="CARD003")  # Daniel's card
    refused(box, "book_flight", NotFound, access_token=token, card_id="CARD999", **TRIP)


def test_booking_chain_invoice_insurance_support_and_cancel(box):
    token = log_in(box)
    card_id = run(box, "list_travel_cards", access_token=token).card_ids[1]
    balance = run(box, "get_travel_card_balance", access_token=token, card_id=card_id).balance
    booked = run(box, "book_flight", access_token=token, card_id=card_id, **TRIP, travellers=2)
    assert booked.booking_id == "BKG0004" and booked.status == "confirmed"
    state = travel(box)
    assert state["cards"][card_id]["balance"] == pytest.approx(balance - booked.total_cost)
    assert state["users"]["TRV001"]["loyalty_points"] == 4120 + int(booked.total_cost)
    assert booked.booking_id in run(box, "list_flight_bookings", access_token=token, status="confirmed").booking_ids

    booking = run(box, "get_flight_booking", access_token=token, booking_id=booked.booking_id)
    assert (booking.travellers, booking.invoice_id, booking.insurance_id) == (2, "INV0004", None)
    invoice = run(box, "retrieve_flight_invoice", access_token=token, booking_id=booked.booking_id)
    assert invoice.amount_due == pytest.approx(invoice.fare_total + invoice.taxes_total)
    sent = run(box, "email_flight_invoice", access_token=token, invoice_id=invoice.invoice_id)
    assert sent.sent_to == "maya.patel@example.com"
    run(box, "email_flight_invoice", access_token=token, invoice_id=invoice.invoice_id, email="ap@acme.example.com")
    assert travel(box)["invoices"]["INV0004"]["emailed_to"] == ["maya.patel@example.com", "ap@acme.example.com"]

    policy = run(
        box,
        "purchase_travel_insurance",
        access_token=token,
        booking_id=booked.booking_id,
        card_id="CARD001",
        plan="basic",
    )
    assert policy.premium == pytest.approx(booked.total_cost * 0.04, abs=0.01)
    assert travel(box)["bookings"]["BKG0004"]["insurance_id"] == policy.insurance_id == "INS0002"
    shown = run(box, "get_travel_insurance", access_token=token, insurance_id=policy.insurance_id)
    assert shown.coverage_amount == booked.total_cost

    request = run(box, "contact_travel_support", access_token=token, booking_id=booked.booking_id, message="Seat 12A?")
    assert (request.request_id, request.priority, request.status) == ("SUP0002", "high", "open")
    assert request.response_due_by > request.created_at
    assert (
        run(box, "get_travel_support_request", access_token=token, request_id=request.request_id).message == "Seat 12A?"
    )

    cancelled = run(box, "cancel_flight_booking", access_token=token, booking_id=booked.booking_id)
    assert cancelled.refunded_amount == booked.total_cost and cancelled.card_balance_after == pytest.approx(balance)
    state = travel(box)
    assert state["bookings"]["BKG0004"]["status"] == "cancelled"
    assert state["invoices"]["INV0004"]["refunded_amount"] == booked.total_cost
    assert state["users"]["TRV001"]["loyalty_points"] == 4120
    assert run(box, "list_flight_bookings", access_token=token, status="cancelled").booking_ids == ["BKG0004"]
    assert "already cancelled" in refused(
        box, "cancel_flight_booking", PreconditionFailed, access_token=token, booking_id=booked.booking_id
    )


def test_insurance_failures(box):
    token = log_in(box)
    booked = run(box, "book_flight", access_token=token, card_id="CARD001", **TRIP).booking_id
    run(box, "cancel_flight_booking", access_token=token, booking_id=booked)
    args = {"access_token": token, "card_id": "CARD001", "plan": "comprehensive"}
    assert "cancelled" in refused(box, "purchase_travel_insurance", PreconditionFailed, booking_id=booked, **args)
    assert "already insured" in refused(
        box, "purchase_travel_insurance", PreconditionFailed, booking_id="BKG0001", **args
    )
    refused(box, "purchase_travel_insurance", PreconditionFailed, booking_id="BKG0002", **args)  # already flown
    refused(box, "purchase_travel_insurance", NotFound, booking_id="BKG0003", **args)  # Daniel's booking
    refused(box, "get_travel_insurance", NotFound, access_token=token, insurance_id="INS0099")


def test_cancel_after_travel_date_and_unknown_booking(box):
    token = log_in(box)
    assert "no longer" in refused(
        box, "cancel_flight_booking", PreconditionFailed, access_token=token, booking_id="BKG0002"
    )
    refused(box, "cancel_flight_booking", NotFound, access_token=token, booking_id="BKG0003")
    refused(box, "get_flight_booking", NotFound, access_token=token, booking_id="BKG0999")
    refused(box, "retrieve_flight_invoice", NotFound, access_token=token, booking_id="BKG0003")


def test_invoice_email_and_support_failures(box):
    token = log_in(box)
    refused(box, "email_flight_invoice", NotFound, access_token=token, invoice_id="INV0003")  # Daniel's
    refused(box, "email_flight_invoice", InvalidArgument, access_token=token, invoice_id="INV0001", email="nope")
    refused(box, "contact_travel_support", InvalidArgument, access_token=token, booking_id="BKG0001", message="     ")
    refused(box, "get_travel_support_request", NotFound, access_token=token, request_id="SUP0001")  # Daniel's
    assert run(box, "retrieve_flight_invoice", access_token=token, booking_id="BKG0001").emailed_to


def test_nearly_empty_card_refused_until_a_refund(sandbox_of):
    box = sandbox_of("travel", "nearly_broke")
    token = log_in(box, "TRV401", "rainy-Day-404")
    assert "available" in refused(box, "book_flight", PreconditionFailed, access_token=token, card_id="CARD001", **TRIP)
    refused(box, "book_flight", PreconditionFailed, access_token=token, card_id="CARD002", **TRIP)
    assert "expired" in refused(box, "book_flight", PreconditionFailed, access_token=token, card_id="CARD003", **TRIP)
    refused(
        box,
        "purchase_travel_insurance",
        PreconditionFailed,
        access_token=token,
        booking_id="BKG0001",
        card_id="CARD002",
        plan="basic",
    )
    refund = run(box, "cancel_flight_booking", access_token=token, booking_id="BKG0001")
    assert refund.card_id == "CARD001" and refund.card_balance_after > 84.6
    assert run(box, "book_flight", access_token=token, card_id="CARD001", **TRIP).booking_id == "BKG0002"


def test_every_account_tool_needs_login(box):
    token = "tok_000000000000000000000000"
    for tool_name, arguments in [
        ("get_travel_user_profile", {}),
        ("set_travel_budget_limit", {"budget_limit": 10.0}),
        (
            "register_travel_card",
            {
                "card_number": "4111111111111111",
                "cardholder_name": "X",
                "expiry_date": "01/30",
                "cvv": "123",
                "credit_limit": 10.0,
            },
        ),
        ("list_travel_cards", {}),
        ("get_travel_card_balance", {"card_id": "CARD001"}),
        ("book_flight", {"card_id": "CARD001", **TRIP}),
        ("get_flight_booking", {"booking_id": "BKG0001"}),
        ("list_flight_bookings", {}),
        ("cancel_flight_booking", {"booking_id": "BKG0001"}),
        ("retrieve_flight_invoice", {"booking_id": "BKG0001"}),
        ("email_flight_invoice", {"invoice_id": "INV0001"}),
        ("purchase_travel_insurance", {"booking_id": "BKG0001", "card_id": "CARD001", "plan": "basic"}),
        ("get_travel_insurance", {"insurance_id": "INS0001"}),
        ("contact_travel_support", {"booking_id": "BKG0001", "message": "Hello there"}),
        ("get_travel_support_request", {"request_id": "SUP0001"}),
    ]:
        assert "travel_log_in" in refused(box, tool_name, PreconditionFailed, access_token=token, **arguments)


def _session(seed):
    box = create_sandbox("travel", "default", seed)
    token = log_in(box)
    estimate = run(box, "get_flight_cost_estimate", **{**TRIP, "destination_airport": "LHR"}).total_price_usd
    run(box, "book_flight", access_token=token, card_id="CARD001", **TRIP)
    return box.state_hash(), token, estimate


def test_deterministic_per_seed_and_seed_varies_token_and_fares():
    assert _session(7) == _session(7)
    first, second = _session(7), _session(8)
    assert first[1] != second[1]
    assert first[2] != second[2] and first[2] == pytest.approx(second[2], rel=0.09)
