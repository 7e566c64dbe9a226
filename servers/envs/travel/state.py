"""Travel state: users, airports, cities, cards, bookings, invoices, insurance, support and the session."""

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from servers.state import StateModel

__all__ = [
    "Airport",
    "City",
    "FlightBooking",
    "FlightInvoice",
    "InsurancePlan",
    "PaymentCard",
    "SupportRequest",
    "TravelClass",
    "TravelInsurance",
    "TravelSession",
    "TravelState",
    "TravelUser",
]

TravelClass = Literal["economy", "premium_economy", "business", "first"]
InsurancePlan = Literal["basic", "comprehensive"]


class TravelUser(StateModel):
    user_id: str = Field(description="Unique id, e.g. 'TRV001'.")
    full_name: str = Field(description="Name as printed on tickets.")
    email: str = Field(description="Contact e-mail address; invoices are sent here by default.")
    password: str = Field(description="Account password checked by travel_log_in.")
    loyalty_tier: Literal["standard", "silver", "gold", "platinum"] = Field(description="Frequent-flyer tier.")
    loyalty_points: int = Field(default=0, ge=0, description="Frequent-flyer points; one per USD of flights booked.")
    budget_limit: float | None = Field(default=None, ge=0, description="Most a single booking may cost in USD.")


class Airport(StateModel):
    code: str = Field(pattern=r"^[A-Z]{3}$", description="IATA airport code, e.g. 'JFK'.")
    name: str = Field(description="Airport name.")
    city: str = Field(description="City the airport serves.")
    country: str = Field(description="Country the airport is in.")
    latitude: float = Field(ge=-90, le=90, description="Latitude in degrees.")
    longitude: float = Field(ge=-180, le=180, description="Longitude in degrees.")


class City(StateModel):
    name: str = Field(description="City name.")
    country: str = Field(description="Country the city is in.")
    latitude: float = Field(ge=-90, le=90, description="Latitude in degrees.")
    longitude: float = Field(ge=-180, le=180, description="Longitude in degrees.")


class PaymentCard(StateModel):
    card_id: str = Field(description="Unique id, e.g. 'CARD001'.")
    user_id: str = Field(description="Id of the user who registered the card.")
    cardholder_name: str = Field(description="Name on the card.")
    brand: Literal["visa", "mastercard", "amex", "discover"] = Field(description="Card network.")
    last4: str = Field(pattern=r"^\d{4}$", description="Last four digits of the card number.")
    expiry_date: str = Field(pattern=r"^(0[1-9]|1[0-2])/\d{2}$", description="Expiry month as MM/YY.")
    balance: float = Field(ge=0, description="Available credit in USD.")


class FlightBooking(StateModel):
    booking_id: str = Field(description="Unique id, e.g. 'BKG0001'.")
    user_id: str = Field(description="Id of the user who booked.")
    card_id: str = Field(description="Card charged for the fare and refunded on cancellation.")
    origin_airport: str = Field(description="IATA code of the departure airport.")
    destination_airport: str = Field(description="IATA code of the arrival airport.")
    travel_date: str = Field(description="Departure date, YYYY-MM-DD.")
    travel_class: TravelClass = Field(description="Cabin class.")
    travellers: int = Field(ge=1, le=9, description="Number of passengers on the booking.")
    total_cost: float = Field(ge=0, description="Fare plus taxes for all passengers, in USD.")
    status: Literal["confirmed", "cancelled"] = Field(description="Whether the booking stands or was cancelled.")
    booked_at: str = Field(description="ISO 8601 time of booking.")
    cancelled_at: str | None = Field(default=None, description="ISO 8601 time of cancellation, or null.")
    invoice_id: str = Field(description="Id of the invoice issued for this booking.")
    insurance_id: str | None = Field(default=None, description="Id of the travel insurance bought for it, or null.")


class FlightInvoice(StateModel):
    invoice_id: str = Field(description="Unique id, e.g. 'INV0001'.")
    booking_id: str = Field(description="Booking the invoice is for.")
    issued_at: str = Field(description="ISO 8601 time the invoice was issued.")
    fare_total: float = Field(ge=0, description="Base fare for all passengers, USD.")
    taxes_total: float = Field(ge=0, description="Taxes and airport fees for all passengers, USD.")
    amount_due: float = Field(ge=0, description="Total charged, USD.")
    refunded_amount: float = Field(default=0, ge=0, description="Amount refunded to the card on cancellation, USD.")
    emailed_to: list[str] = Field(default_factory=list, description="Addresses the invoice was e-mailed to.")


class TravelInsurance(StateModel):
    insurance_id: str = Field(description="Unique id, e.g. 'INS0001'.")
    booking_id: str = Field(description="Booking the policy covers.")
    card_id: str = Field(description="Card the premium was charged to.")
    plan: InsurancePlan = Field(description="Policy level.")
    premium: float = Field(ge=0, description="Price paid for the policy, USD (not refundable).")
    coverage_amount: float = Field(ge=0, description="Most the policy pays out, USD.")
    purchased_at: str = Field(description="ISO 8601 time of purchase.")


class SupportRequest(StateModel):
    request_id: str = Field(description="Unique id, e.g. 'SUP0001'.")
    user_id: str = Field(description="User who opened the request.")
    booking_id: str = Field(description="Booking the request is about.")
    message: str = Field(description="What the user wrote to support.")
    priority: Literal["normal", "high"] = Field(description="High for gold and platinum members.")
    status: Literal["open", "resolved"] = Field(description="Whether support has answered.")
    created_at: str = Field(description="ISO 8601 time the request was opened.")
    response_due_by: str = Field(description="ISO 8601 time by which support promises an answer.")


class TravelSession(StateModel):
    access_token: str = Field(description="Bearer token that booking tools take as `access_token`.")
    user_id: str = Field(description="User the token belongs to.")
    expires_at: str = Field(description="ISO 8601 time after which the token is refused.")


class TravelState(StateModel):
    users: dict[str, TravelUser] = Field(description="Every account by user id.")
    airports: dict[str, Airport] = Field(description="Every served airport by IATA code.")
    cities: dict[str, City] = Field(default_factory=dict, description="Cities without an airport, by name.")
    exchange_rates: dict[str, float] = Field(description="Units of each currency per 1 USD; USD must be 1.")
    cards: dict[str, PaymentCard] = Field(default_factory=dict, description="Registered payment cards by card id.")
    bookings: dict[str, FlightBooking] = Field(default_factory=dict, description="Every booking by booking id.")
    invoices: dict[str, FlightInvoice] = Field(default_factory=dict, description="Every invoice by invoice id.")
    insurances: dict[str, TravelInsurance] = Field(default_factory=dict, description="Policies by insurance id.")
    support_requests: dict[str, SupportRequest] = Field(default_factory=dict, description="Requests by id.")
    session: TravelSession | None = Field(default=None, description="The current login session, or null.")
    next_card_number: int = Field(default=1, ge=1, description="Number used for the next card id.")
    next_booking_number: int = Field(default=1, ge=1, description="Number used for the next booking id.")
    next_invoice_number: int = Field(default=1, ge=1, description="Number used for the next invoice id.")
    next_insurance_number: int = Field(default=1, ge=1, description="Number used for the next insurance id.")
    next_request_number: int = Field(default=1, ge=1, description="Number used for the next support request id.")
    clock: str = Field(default="2026-03-02T09:00:00", description="Service time; each change advances it.")

    @model_validator(mode="after")
    def _check_references(self) -> "TravelState":
        for table, id_field in [
            ("users", "user_id"),
            ("airports", "code"),
            ("cities", "name"),
            ("cards", "card_id"),
            ("bookings", "booking_id"),
            ("invoices", "invoice_id"),
            ("insurances", "insurance_id"),
            ("support_requests", "request_id"),
        ]:
            for key, item in getattr(self, table).items():
                if getattr(item, id_field) != key:
                    raise ValueError(f"{table}: key {key!r} does not match {id_field} {getattr(item, id_field)!r}")
        if self.exchange_rates.get("USD") != 1.0 or any(rate <= 0 for rate in self.exchange_rates.values()):
            raise ValueError("exchange_rates: USD must be 1.0 and every rate positive")
        for card in self.cards.values():
            _known(card.user_id, self.users, f"card {card.card_id}: user")
        for booking in self.bookings.values():
            where = f"booking {booking.booking_id}"
            _known(booking.user_id, self.users, f"{where}: user")
            _known(booking.origin_airport, self.airports, f"{where}: airport")
            _known(booking.destination_airport, self.airports, f"{where}: airport")
            _known(booking.invoice_id, self.invoices, f"{where}: invoice")
            if booking.card_id not in self.cards or self.cards[booking.card_id].user_id != booking.user_id:
                raise ValueError(f"{where}: card {booking.card_id!r} is not one of the user's cards")
            if booking.insurance_id is not None:
                _known(booking.insurance_id, self.insurances, f"{where}: insurance")
            date.fromisoformat(booking.travel_date)
        for invoice in self.invoices.values():
            _known(invoice.booking_id, self.bookings, f"invoice {invoice.invoice_id}: booking")
        for policy in self.insurances.values():
            _known(policy.booking_id, self.bookings, f"insurance {policy.insurance_id}: booking")
            _known(policy.card_id, self.cards, f"insurance {policy.insurance_id}: card")
        for request in self.support_requests.values():
            _known(request.user_id, self.users, f"support request {request.request_id}: user")
            _known(request.booking_id, self.bookings, f"support request {request.request_id}: booking")
        if self.session is not None:
            _known(self.session.user_id, self.users, "session: user")
        for prefix, table, counter in [
            ("CARD", self.cards, self.next_card_number),
            ("BKG", self.bookings, self.next_booking_number),
            ("INV", self.invoices, self.next_invoice_number),
            ("INS", self.insurances, self.next_insurance_number),
            ("SUP", self.support_requests, self.next_request_number),
        ]:
            if _make_id(prefix, counter) in table:
                raise ValueError(f"next number for {prefix} ids would reuse {_make_id(prefix, counter)!r}")
        datetime.fromisoformat(self.clock)
        return self


def _make_id(prefix: str, number: int) -> str:
    return f"{prefix}{number:03d}" if prefix == "CARD" else f"{prefix}{number:04d}"


def _known(key: str, table: dict[str, Any], what: str) -> None:
    if key not in table:
        raise ValueError(f"{what} {key!r} does not exist")
