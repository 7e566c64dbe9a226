"""The Travel environment: result models and tools to find airports, price, book, insure and cancel flights."""

import hashlib
import math
import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from servers.environment import Environment, tool
from servers.envs.travel.state import (
    Airport,
    FlightBooking,
    FlightInvoice,
    InsurancePlan,
    PaymentCard,
    SupportRequest,
    TravelClass,
    TravelInsurance,
    TravelSession,
    TravelState,
    TravelUser,
    _make_id,
)
from servers.errors import InvalidArgument, NotFound, PreconditionFailed
from servers.state import StateModel

__all__ = ["Travel"]

_CLASS_MULTIPLIER = {"economy": 1.0, "premium_economy": 1.6, "business": 3.2, "first": 5.0}
_INSURANCE_TERMS = {"basic": (0.04, 1.0), "comprehensive": (0.07, 2.0)}  # premium rate, coverage multiple
_SESSION_LENGTH = timedelta(hours=8)
_CLOCK_STEP = timedelta(minutes=2)


class LoginResult(BaseModel):
    access_token: str = Field(description="Token to pass as `access_token` to booking tools.")
    user_id: str = Field(description="The logged-in user's id.")
    expires_at: str = Field(description="ISO 8601 time the token stops working.")


class TravelLoginStatus(BaseModel):
    logged_in: bool = Field(description="Whether a session exists.")
    user_id: str | None = Field(description="The session's user id, or null.")
    expires_at: str | None = Field(description="When the session's token expires, or null.")
    token_expired: bool = Field(description="True when a session exists but its token has expired.")


class AirportList(BaseModel):
    airports: list[Airport] = Field(description="Airports, sorted by code.")
    airport_codes: list[str] = Field(description="The same airports' codes, in the same order.")


class NearestAirport(BaseModel):
    airport_code: str = Field(description="IATA code of the nearest airport.")
    airport_name: str = Field(description="Its name.")
    airport_city: str = Field(description="City the airport serves.")
    country: str = Field(description="Its country.")
    distance_km: float = Field(description="Distance from the city to the airport; 0 when the city has it.")


class FlightCostEstimate(BaseModel):
    origin_airport: str = Field(description="Departure airport code.")
    destination_airport: str = Field(description="Arrival airport code.")
    travel_date: str = Field(description="Departure date.")
    travel_class: str = Field(description="Cabin class.")
    travellers: int = Field(description="Passengers priced.")
    distance_km: float = Field(description="Great-circle distance between the airports.")
    price_per_traveller: float = Field(description="Fare plus taxes for one passenger, in `currency`.")
    total_price: float = Field(description="Price for all passengers, in `currency`.")
    currency: str = Field(description="Currency of the prices above.")
    total_price_usd: float = Field(description="Price for all passengers in USD, as book_flight charges it.")


class CurrencyConversion(BaseModel):
    amount: float = Field(description="Amount converted.")
    from_currency: str = Field(description="Currency of `amount`.")
    to_currency: str = Field(description="Currency converted into.")
    exchange_rate: float = Field(description="Units of `to_currency` per unit of `from_currency`.")
    converted_amount: float = Field(description="The result, rounded to cents.")


class TravelProfile(BaseModel):
    user_id: str = Field(description="The user's id.")
    full_name: str = Field(description="Name as printed on tickets.")
    email: str = Field(description="Contact e-mail.")
    loyalty_tier: str = Field(description="Frequent-flyer tier.")
    loyalty_points: int = Field(description="Frequent-flyer points.")
    budget_limit: float | None = Field(description="Most a single booking may cost in USD, or null for none.")
    card_count: int = Field(description="Number of registered cards.")
    confirmed_booking_count: int = Field(description="Number of bookings not cancelled.")


class BudgetResult(BaseModel):
    budget_limit: float | None = Field(description="The new limit in USD, or null for none.")
    previous_budget_limit: float | None = Field(description="The limit before this call.")


class CardList(BaseModel):
    cards: list[PaymentCard] = Field(description="The user's cards, sorted by id.")
    card_ids: list[str] = Field(description="The same cards' ids, in the same order.")


class CardBalance(BaseModel):
    card_id: str = Field(description="The card.")
    balance: float = Field(description="Available credit.")
    currency: str = Field(description="Always USD.")


class BookingResult(BaseModel):
    booking_id: str = Field(description="Id of the new booking.")
    status: str = Field(description="Always 'confirmed'.")
    total_cost: float = Field(description="Amount charged to the card, USD.")
    card_balance_after: float = Field(description="Card credit left after the charge.")


class BookingList(BaseModel):
    bookings: list[FlightBooking] = Field(description="Bookings, by travel date then id.")
    booking_ids: list[str] = Field(description="The same bookings' ids, in the same order.")


class CancellationResult(BaseModel):
    booking_id: str = Field(description="The cancelled booking.")
    status: str = Field(description="Always 'cancelled'.")
    refunded_amount: float = Field(description="Amount returned to the card, USD.")
    card_id: str = Field(description="Card refunded.")
    card_balance_after: float = Field(description="Card credit after the refund.")


class InvoiceEmailResult(BaseModel):
    invoice_id: str = Field(description="Invoice sent.")
    sent_to: str = Field(description="Address it was sent to.")


class InsuranceResult(BaseModel):
    insurance_id: str = Field(description="Id of the new policy.")
    booking_id: str = Field(description="Booking covered.")
    premium: float = Field(description="Amount charged, USD.")
    coverage_amount: float = Field(description="Most the policy pays out, USD.")
    card_balance_after: float = Field(description="Card credit left after the charge.")


AccessToken = Annotated[str, Field(description="Token returned by travel_log_in.", min_length=1)]
CardId = Annotated[str, Field(description="A card id such as 'CARD001' (see list_travel_cards).")]
BookingId = Annotated[str, Field(description="A booking id such as 'BKG0001' (see list_flight_bookings).")]
AirportCode = Annotated[str, Field(description="IATA airport code, e.g. 'JFK' (see get_airport_by_city).")]
TravelDate = Annotated[str, Field(description="Departure date as YYYY-MM-DD.", pattern=r"^\d{4}-\d{2}-\d{2}$")]
Currency = Annotated[str, Field(description="ISO 4217 currency code, e.g. 'EUR'.", pattern=r"^[A-Za-z]{3}$")]
ClassParam = Annotated[TravelClass, Field(description="Cabin class.")]


class Travel(Environment):
    name = "travel"
    description = "A flight booking service: find airports, price and book flights, pay by card, insure and cancel."
    state_model = TravelState
    state: TravelState

    def __init__(self, state: StateModel | dict[str, Any], seed: int = 0) -> None:
        super().__init__(state, seed)
        self._fare_salt = self.rng.getrandbits(32)  # seeded market variation, fixed for the sandbox's life

    @tool(
        consumes={"user_id": "travel_user_id"},
        produces={"access_token": "access_token"},
        provides=["travel_logged_in"],
        asks=[
            "Log me in to my travel account as {user_id}, my password is {password}.",
            "Can you sign me in? I'm {user_id} and the password is {password}.",
            "I need to log in to the travel service as {user_id} with the password {password}.",
            "Sign in as {user_id} using {password} as the password.",
            "Please get me logged in as {user_id}; the password is {password}.",
        ],
        answers=[
            "You're logged in as {user_id}; the session lasts until {expires_at}.",
            "Signed in to your travel account {user_id}, valid until {expires_at}.",
        ],
    )
    def travel_log_in(
        self,
        user_id: Annotated[str, Field(description="Account id, e.g. 'TRV001'.")],
        password: Annotated[str, Field(description="Account password.", min_length=1)],
    ) -> LoginResult:
        """Log in and get an access token valid for 8 hours. Any earlier token stops working."""
        user = self.state.users.get(user_id)
        if user is None:
            raise NotFound(f"no travel account with id {user_id!r}")
        if password != user.password:
            raise InvalidArgument(f"incorrect password for {user_id}; check it and try again")
        now = self._tick()
        token = f"tok_{self.rng.getrandbits(96):024x}"
        expires = (now + _SESSION_LENGTH).isoformat()
        self.state.session = TravelSession(access_token=token, user_id=user_id, expires_at=expires)
        return LoginResult(access_token=token, user_id=user_id, expires_at=expires)

    @tool(
        requires=["travel_logged_in"],
        asks=[
            "Log me out of the travel service.",
            "Can you sign me out of my travel account?",
            "I'm done with bookings for now, log me out.",
            "Please end my travel session.",
            "Sign out of the flight booking account.",
        ],
        answers=[
            "Done: you're logged out of the travel service.",
            "You're {logged_in?still logged in|signed out now}.",
        ],
    )
    def travel_log_out(self) -> TravelLoginStatus:
        """End the current session; its access token stops working."""
        if self.state.session is None:
            raise PreconditionFailed("nobody is logged in to the travel service")
        self.state.session = None
        self._tick()
        return TravelLoginStatus(logged_in=False, user_id=None, expires_at=None, token_expired=False)

    @tool(
        read_only=True,
        produces={"user_id": "travel_user_id"},
        asks=[
            "Am I logged in to the travel service?",
            "Who is signed in to the flight booking account right now?",
            "Can you check whether my travel session is still valid?",
            "I want to know if my login has expired.",
            "Tell me if I'm still signed in for bookings.",
        ],
        answers=[
            "{logged_in?You're logged in|Nobody is logged in}[ as {user_id}][, "
            "{token_expired?but the session expired at|and the session runs until} {expires_at}].",
            "{logged_in?There is a session|There is no session}[ for {user_id}]{token_expired?, but it has expired|}.",
        ],
    )
    def travel_get_login_status(self) -> TravelLoginStatus:
        """Tell whether someone is logged in to the travel service, as whom, and whether the token expired."""
        session = self.state.session
        if session is None:
            return TravelLoginStatus(logged_in=False, user_id=None, expires_at=None, token_expired=False)
        expired = self._now() >= datetime.fromisoformat(session.expires_at)
        return TravelLoginStatus(
            logged_in=True, user_id=session.user_id, expires_at=session.expires_at, token_expired=expired
        )

    @tool(
        read_only=True,
        produces={"airport_codes": "airport_code"},
        asks=[
            "Which airports do you fly to[ in {country}]?",
            "List the airports you serve[ in {country}].",
            "Can you show me the airports I can book flights from[ in {country}]?",
            "I'd like to see every airport on your network[ in {country}].",
            "What airports are there to choose from[ in {country}]?",
            "(Show me|List|Give me|Pull up) (all the|every one of the|the) airports (you fly to|you serve|on your "
            "network|I can book flights from)[ in {country}].",
            "(Which|What) airports (can I fly from|can I book|do you cover|are on your route map)[ in {country}]( "
            "with you| today|)?",
            "(Show me|List|Give me|Pull up) (all the|every one of the|the) airports (you fly to|you serve|on your "
            "network|I can book flights from)[ in {country}].",
            "(Which|What) airports (can I fly from|can I book|do you cover|are on your route map)[ in {country}]( "
            "with you| today|)?",
        ],
        answers=[
            "There are {airport_codes#} airports[ in {@country}]: {airport_codes}.",
            "You can fly from or to {airport_codes}[ in {@country}].",
        ],
    )
    def list_airports(
        self, country: Annotated[str | None, Field(description="Only airports in this country.")] = None
    ) -> AirportList:
        """List the airports the service flies between, optionally for one country."""
        airports = [
            a
            for a in sorted(self.state.airports.values(), key=lambda a: a.code)
            if country is None or a.country.lower() == country.lower()
        ]
        return AirportList(airports=airports, airport_codes=[a.code for a in airports])

    @tool(
        read_only=True,
        produces={"airport_code": "airport_code"},
        asks=[
            "Which airport serves {city}?",
            "What's the closest airport to {city}?",
            "Can you tell me the airport nearest to {city}?",
            "I need to fly out of {city}; which airport should I use?",
            "Look up the airport for {city}.",
            "(Find|Look up|Show me|Tell me) (the airport|the nearest airport|the main airport) (for|in|near) {city}( "
            "please| for me|).",
            "(Which|What) airport (should I use|do I fly from|is nearest) (for|in|near) {city}?",
        ],
        answers=[
            "The airport for {@city} is {airport_name} ({airport_code}) in {airport_city}, {country}.",
            "Use {airport_code} ({airport_name}) when flying to or from {@city}.",
        ],
    )
    def get_airport_by_city(
        self, city: Annotated[str, Field(description="City name, e.g. 'Boston' or 'Oxford'.", min_length=1)]
    ) -> NearestAirport:
        """Find the airport serving a city, or the nearest airport when the city has none."""
        for airport in sorted(self.state.airports.values(), key=lambda a: a.code):
            if airport.city.lower() == city.lower():
                return NearestAirport(
                    airport_code=airport.code,
                    airport_name=airport.name,
                    airport_city=airport.city,
                    country=airport.country,
                    distance_km=0.0,
                )
        place = next((c for c in self.state.cities.values() if c.name.lower() == city.lower()), None)
        if place is None:
            raise NotFound(f"no airport or known city named {city!r}; call list_airports to see served cities")
        airport = min(
            sorted(self.state.airports.values(), key=lambda a: a.code),
            key=lambda a: _distance_km(place.latitude, place.longitude, a.latitude, a.longitude),
        )
        distance = _distance_km(place.latitude, place.longitude, airport.latitude, airport.longitude)
        return NearestAirport(
            airport_code=airport.code,
            airport_name=airport.name,
            airport_city=airport.city,
            country=airport.country,
            distance_km=round(distance, 1),
        )

    @tool(
        read_only=True,
        consumes={"origin_airport": "airport_code", "destination_airport": "airport_code"},
        asks=[
            "How much is a flight from {origin_airport} to {destination_airport} on {travel_date} in "
            "{travel_class}[ for a party of {travellers}][, priced in {currency}]?",
            "Price a trip from {origin_airport} to {destination_airport} on {travel_date} in "
            "{travel_class} class[ with seats for {travellers}][, quoted in {currency}].",
            "Can you get me a quote to fly {origin_airport} to {destination_airport} on {travel_date}, "
            "{travel_class} class[, {travellers} travelling][, in {currency}]?",
            "I'm thinking of flying from {origin_airport} to {destination_airport} on {travel_date} in "
            "{travel_class}[ for a group of {travellers}]; what would it cost[ in {currency}]?",
            "What's the fare from {origin_airport} to {destination_airport} on {travel_date} in "
            "{travel_class} class[ for a party of {travellers}][, shown in {currency}]?",
        ],
        answers=[
            "The {travel_class} class fare from {origin_airport} to {destination_airport} on "
            "{travel_date} is {total_price} {currency} in total ({price_per_traveller} {currency} per "
            "traveller).",
            "That trip covers {distance_km} km and would cost {total_price} {currency} with seats for {travellers}.",
        ],
    )
    def get_flight_cost_estimate(
        self,
        origin_airport: AirportCode,
        destination_airport: AirportCode,
        travel_date: TravelDate,
        travel_class: ClassParam,
        travellers: Annotated[int, Field(description="Number of passengers.", ge=1, le=9)] = 1,
        currency: Currency = "USD",
    ) -> FlightCostEstimate:
        """Price a one-way flight. The USD total is exactly what book_flight charges for the same trip."""
        distance, _, _, total = self._quote(origin_airport, destination_airport, travel_date, travel_class, travellers)
        rate = self._rate("USD", currency)
        return FlightCostEstimate(
            origin_airport=origin_airport.upper(),
            destination_airport=destination_airport.upper(),
            travel_date=travel_date,
            travel_class=travel_class,
            travellers=travellers,
            distance_km=distance,
            price_per_traveller=round(total / travellers * rate, 2),
            total_price=round(total * rate, 2),
            currency=currency.upper(),
            total_price_usd=total,
        )

    @tool(
        read_only=True,
        asks=[
            "Convert {amount} {from_currency} to {to_currency}.",
            "How much is {amount} {from_currency} in {to_currency}?",
            "Can you tell me what {amount} {from_currency} comes to in {to_currency}?",
            "I need {amount} {from_currency} changed into {to_currency}.",
            "What would {amount} {from_currency} be worth in {to_currency}?",
            "(Convert|Change|Turn) {amount} {from_currency} (into|to) {to_currency}( for me| please|).",
            "(How much|What) (is|would be|are) {amount} {from_currency} (in|worth in|converted to) {to_currency}( "
            "today| right now|)?",
        ],
        answers=[
            "At the current rate, {amount} {from_currency} is {converted_amount} {to_currency}.",
            "That comes to {converted_amount} {to_currency} at a rate of {exchange_rate}.",
        ],
    )
    def convert_travel_currency(
        self,
        amount: Annotated[float, Field(description="Amount to convert.", ge=0)],
        from_currency: Currency,
        to_currency: Currency,
    ) -> CurrencyConversion:
        """Convert an amount between currencies at the service's current exchange rates."""
        rate = self._rate(from_currency, to_currency)
        return CurrencyConversion(
            amount=amount,
            from_currency=from_currency.upper(),
            to_currency=to_currency.upper(),
            exchange_rate=round(rate, 6),
            converted_amount=round(amount * rate, 2),
        )

    @tool(
        read_only=True,
        requires=["travel_logged_in"],
        consumes={"access_token": "access_token"},
        asks=[
            "Show me my travel profile.",
            "What's my loyalty tier and how many points do I have?",
            "Can you pull up my account details for the flight service?",
            "I'd like to see my frequent-flyer status.",
            "How many points and bookings are on my travel account?",
            "(Show me|Pull up|Bring up|Give me) (my travel profile|my frequent-flyer details|my loyalty status|my "
            "account on the flight service).",
            "(What|Which) (loyalty tier am I on|tier am I in with you|status do I have as a frequent flyer)(, and "
            "how many points do I have|)?",
            "(Show me|Pull up|Bring up|Give me) (my travel profile|my frequent-flyer details|my loyalty status|my "
            "account on the flight service).",
            "(What|Which) (loyalty tier am I on|tier am I in with you|status do I have as a frequent flyer)(, and "
            "how many points do I have|)?",
        ],
        answers=[
            "You're {full_name}, a {loyalty_tier} member with {loyalty_points} points[ and a per-booking "
            "limit of {budget_limit} USD].",
            "Registered cards: {card_count}. Confirmed bookings: {confirmed_booking_count}. Your account "
            "is {user_id}, with e-mail {email}.",
        ],
    )
    def get_travel_user_profile(self, access_token: AccessToken) -> TravelProfile:
        """Show the logged-in user's profile: loyalty tier and points, budget limit, cards and bookings."""
        user = self._user(access_token)
        return TravelProfile(
            user_id=user.user_id,
            full_name=user.full_name,
            email=user.email,
            loyalty_tier=user.loyalty_tier,
            loyalty_points=user.loyalty_points,
            budget_limit=user.budget_limit,
            card_count=sum(c.user_id == user.user_id for c in self.state.cards.values()),
            confirmed_booking_count=sum(
                b.user_id == user.user_id and b.status == "confirmed" for b in self.state.bookings.values()
            ),
        )

    @tool(
        requires=["travel_logged_in"],
        consumes={"access_token": "access_token"},
        asks=[
            "Cap any single booking at {budget_limit} USD.",
            "Set my travel budget limit to {budget_limit} dollars.",
            "Can you make sure no booking costs more than {budget_limit} USD?",
            "I don't want to spend over {budget_limit} USD on one flight; set that as my limit.",
            "Change my per-booking limit to {budget_limit} USD.",
            "(Set|Make|Change) (my budget limit|my per-booking limit|the most I'll pay per booking) to "
            "{budget_limit} (USD|dollars)( from now on| please|).",
            "(No booking should|I don't want any booking to|Don't let a booking) (cost|go over|come to) more than "
            "{budget_limit} (USD|dollars).",
        ],
        answers=[
            "Done: no single booking can cost more than {budget_limit} USD now[ (the limit was "
            "{previous_budget_limit} USD)].",
            "Your budget limit is set to {budget_limit} USD.",
        ],
    )
    def set_travel_budget_limit(
        self,
        access_token: AccessToken,
        budget_limit: Annotated[
            float | None, Field(description="Most a single booking may cost in USD; null removes the limit.", ge=0)
        ],
    ) -> BudgetResult:
        """Set the most one booking may cost. book_flight refuses any booking whose total is above it."""
        user = self._user(access_token)
        previous, user.budget_limit = user.budget_limit, budget_limit
        self._tick()
        return BudgetResult(budget_limit=budget_limit, previous_budget_limit=previous)

    @tool(
        requires=["travel_logged_in"],
        # the new card's holder and expiry are the user's own (their pools), not another card's that a listing showed
        consumes={"access_token": "access_token", "cardholder_name": "cardholder_name", "expiry_date": "expiry_date"},
        produces={"card_id": "card_id"},
        asks=[
            "Link my card {card_number} to my travel account. It's in the name of {cardholder_name}, "
            "expires {expiry_date}, has security code {cvv} and a credit limit of {credit_limit} USD.",
            "Register a card for me. The number is {card_number} and the name on it is "
            "{cardholder_name}; it expires {expiry_date}, the CVV is {cvv} and it has {credit_limit} USD "
            "of credit.",
            "Can you save the card {card_number} for {cardholder_name}? It expires {expiry_date}, the "
            "CVV is {cvv} and the limit is {credit_limit} USD.",
            "I want to pay with a new card, number {card_number}, held by {cardholder_name} and valid "
            "until {expiry_date}; the code is {cvv} and it has {credit_limit} USD available.",
            "Put card {card_number} on file. It belongs to {cardholder_name}, runs out {expiry_date}, "
            "has security code {cvv} and a {credit_limit} USD limit.",
        ],
        answers=[
            "Your {brand} card ending in {last4} is registered as {card_id}, with {balance} USD of credit.",
            "Done: card {card_id} ({brand}, ending {last4}, expires {expiry_date}) is on your account.",
        ],
    )
    def register_travel_card(
        self,
        access_token: AccessToken,
        card_number: Annotated[str, Field(description="Full card number; spaces and dashes are ignored.")],
        cardholder_name: Annotated[str, Field(description="Name as printed on the card.", min_length=1)],
        expiry_date: Annotated[str, Field(description="Expiry month as MM/YY.", pattern=r"^\d{2}/\d{2}$")],
        cvv: Annotated[str, Field(description="3-digit security code (4 for Amex).", pattern=r"^\d{3,4}$")],
        credit_limit: Annotated[float, Field(description="Credit available on the card, USD.", gt=0, le=100000)],
    ) -> PaymentCard:
        """Register a payment card for the logged-in user. Only the last four digits are stored."""
        user = self._user(access_token)
        digits = re.sub(r"[\s-]", "", card_number)
        if not re.fullmatch(r"\d{13,19}", digits) or not _luhn_valid(digits):
            raise InvalidArgument("card_number is not a valid card number; check the digits")
        brand = _brand(digits)
        if brand is None:
            raise InvalidArgument("only Visa, Mastercard, Amex and Discover cards are accepted")
        if not re.fullmatch(r"\d{4}" if brand == "amex" else r"\d{3}", cvv):
            raise InvalidArgument(f"a {brand} card has a {4 if brand == 'amex' else 3}-digit cvv")
        if not re.fullmatch(r"(0[1-9]|1[0-2])/\d{2}", expiry_date) or _expired(expiry_date, self._now().date()):
            raise InvalidArgument(f"expiry_date {expiry_date!r} is not a valid future MM/YY month")
        for card in self.state.cards.values():
            if card.user_id == user.user_id and (card.last4, card.expiry_date) == (digits[-4:], expiry_date):
                raise InvalidArgument(f"this card is already registered as {card.card_id}")
        card_id = _make_id("CARD", self.state.next_card_number)
        card = PaymentCard(
            card_id=card_id,
            user_id=user.user_id,
            cardholder_name=cardholder_name,
            brand=brand,
            last4=digits[-4:],
            expiry_date=expiry_date,
            balance=round(credit_limit, 2),
        )
        self.state.cards[card_id] = card
        self.state.next_card_number += 1
        self._tick()
        return card.model_copy()

    @tool(
        read_only=True,
        requires=["travel_logged_in"],
        consumes={"access_token": "access_token"},
        produces={"card_ids": "card_id"},
        asks=[
            "Which cards do I have on file?",
            "List my payment cards.",
            "Can you show me the cards saved on my travel account?",
            "I need to see which cards I can pay with.",
            "What cards are registered to me?",
            "(Show|List|Give) me (the|all the) (payment cards|cards) (on my travel account|I have on file|saved to "
            "my account|I can pay with).",
            "(Which|What) (cards|payment cards) (do I have saved|are on my account|can I pay with|are on file for me)?",
            "(Show|List|Give) me (the|all the) (payment cards|cards) (on my travel account|I have on file|saved to "
            "my account|I can pay with).",
            "(Which|What) (cards|payment cards) (do I have saved|are on my account|can I pay with|are on file for me)?",
        ],
        answers=[
            "You have {card_ids#} cards on file[: {card_ids}].",
            "Your registered cards are {card_ids}.",
        ],
    )
    def list_travel_cards(self, access_token: AccessToken) -> CardList:
        """List the logged-in user's registered payment cards with their available credit."""
        user = self._user(access_token)
        cards = sorted((c for c in self.state.cards.values() if c.user_id == user.user_id), key=lambda c: c.card_id)
        return CardList(cards=cards, card_ids=[c.card_id for c in cards])

    @tool(
        read_only=True,
        requires=["travel_logged_in"],
        consumes={"access_token": "access_token", "card_id": "card_id"},
        asks=[
            "How much credit is left on {card_id}?",
            "Check the balance on {card_id}.",
            "Can you tell me what I can still spend on {card_id}?",
            "I need to know the available credit on {card_id}.",
            "What's the balance of {card_id}?",
        ],
        answers=[
            "Card {card_id} has {balance} {currency} of credit left.",
            "You can still spend {balance} {currency} on {@card_id}.",
        ],
    )
    def get_travel_card_balance(self, access_token: AccessToken, card_id: CardId) -> CardBalance:
        """Show the credit left on one of the logged-in user's cards."""
        card = self._card(self._user(access_token), card_id)
        return CardBalance(card_id=card.card_id, balance=card.balance, currency="USD")

    @tool(
        requires=["travel_logged_in"],
        consumes={
            "access_token": "access_token",
            "card_id": "card_id",
            "origin_airport": "airport_code",
            "destination_airport": "airport_code",
        },
        produces={"booking_id": "booking_id"},
        asks=[
            "Book me a flight from {origin_airport} to {destination_airport} on {travel_date} in "
            "{travel_class}[ for a party of {travellers}], paid with {card_id}.",
            "Can you book {travel_class} class from {origin_airport} to {destination_airport} on "
            "{travel_date}[ with seats for {travellers}] and charge {card_id}?",
            "I want to fly {origin_airport} to {destination_airport} on {travel_date}, {travel_class} "
            "class[, {travellers} travelling]; put it on {card_id}.",
            "Please reserve {travel_class} class seats from {origin_airport} to {destination_airport} "
            "for {travel_date}[ for a group of {travellers}] using {card_id}.",
            "Get me on a flight from {origin_airport} to {destination_airport} on {travel_date}, in "
            "{travel_class}[, seats for {travellers}], and pay with {card_id}.",
        ],
        answers=[
            "Booked: {booking_id}, {@origin_airport} to {@destination_airport} on {@travel_date}. "
            "{total_cost} USD was charged and the card has {card_balance_after} USD left.",
            "Your flight is {status} as booking {booking_id}; it cost {total_cost} USD.",
        ],
    )
    def book_flight(
        self,
        access_token: AccessToken,
        card_id: CardId,
        origin_airport: AirportCode,
        destination_airport: AirportCode,
        travel_date: TravelDate,
        travel_class: ClassParam,
        travellers: Annotated[int, Field(description="Number of passengers.", ge=1, le=9)] = 1,
    ) -> BookingResult:
        """Book a one-way flight and charge the card. The total must fit the budget limit and the card's
        credit. Issues an invoice and earns one loyalty point per USD."""
        user = self._user(access_token)
        card = self._card(user, card_id)
        _, fare, taxes, total = self._quote(origin_airport, destination_airport, travel_date, travel_class, travellers)
        if user.budget_limit is not None and total > user.budget_limit:
            raise PreconditionFailed(
                f"the total {total:.2f} USD exceeds your budget limit of {user.budget_limit:.2f} USD; choose a "
                "cheaper class or date, or raise the limit with set_travel_budget_limit"
            )
        if _expired(card.expiry_date, self._now().date()):
            raise PreconditionFailed(f"card {card.card_id} expired ({card.expiry_date}); use or register another card")
        if total > card.balance:
            raise PreconditionFailed(
                f"card {card.card_id} has {card.balance:.2f} USD available but the flight costs {total:.2f} USD; "
                "use another card"
            )
        now = self._tick().isoformat()
        booking_id = _make_id("BKG", self.state.next_booking_number)
        invoice_id = _make_id("INV", self.state.next_invoice_number)
        self.state.next_booking_number += 1  # counters first: each assignment re-validates the whole state
        self.state.next_invoice_number += 1
        self.state.invoices[invoice_id] = FlightInvoice(
            invoice_id=invoice_id,
            booking_id=booking_id,
            issued_at=now,
            fare_total=fare,
            taxes_total=taxes,
            amount_due=total,
        )
        self.state.bookings[booking_id] = FlightBooking(
            booking_id=booking_id,
            user_id=user.user_id,
            card_id=card.card_id,
            origin_airport=origin_airport.upper(),
            destination_airport=destination_airport.upper(),
            travel_date=travel_date,
            travel_class=travel_class,
            travellers=travellers,
            total_cost=total,
            status="confirmed",
            booked_at=now,
            invoice_id=invoice_id,
        )
        card.balance = round(card.balance - total, 2)
        user.loyalty_points += int(total)
        return BookingResult(
            booking_id=booking_id, status="confirmed", total_cost=total, card_balance_after=card.balance
        )

    @tool(
        read_only=True,
        requires=["travel_logged_in"],
        consumes={"access_token": "access_token", "booking_id": "booking_id"},
        produces={"invoice_id": "invoice_id", "insurance_id": "insurance_id", "card_id": "card_id"},
        asks=[
            "Show me the details of {booking_id}.",
            "Where and when does {booking_id} fly?",
            "Can you pull up {booking_id} for me?",
            "I need the date, route and cost of {booking_id}.",
            "Tell me everything about {booking_id}.",
        ],
        answers=[
            "Booking {booking_id} is {status}: {origin_airport} to {destination_airport} on "
            "{travel_date} in {travel_class}, {total_cost} USD[, insured under {insurance_id}].",
            "Your booking {booking_id} departs {travel_date} with seats for {travellers}, paid with "
            "{card_id}; its invoice is {invoice_id}.",
        ],
    )
    def get_flight_booking(self, access_token: AccessToken, booking_id: BookingId) -> FlightBooking:
        """Show one of the logged-in user's bookings in full."""
        return self._booking(self._user(access_token), booking_id).model_copy()

    @tool(
        read_only=True,
        requires=["travel_logged_in"],
        consumes={"access_token": "access_token"},
        produces={"booking_ids": "booking_id"},
        asks=[
            "List [{status} ]bookings on my account.",
            "Can you pull up [{status} ]flight bookings I've made?",
            "I need to see [{status} ]bookings on my travel account.",
            "Show me [{status} ]trips I've booked with you.",
            "Please go through [{status} ]flights booked under my name.",
            "(Show me|List|Pull up|Go through) (all|every one of) (my|the)[ {status}] (flight "
            "bookings|bookings|trips) (on my account|I've made|under my name).",
            "(What|Which)[ {status}] (flights|trips|bookings) (do I have|have I booked|are on my account) (with "
            "you|so far|at the moment)?",
            "(Show me|List|Pull up|Go through) (all|every one of) (my|the)[ {status}] (flight "
            "bookings|bookings|trips) (on my account|I've made|under my name).",
            "(What|Which)[ {status}] (flights|trips|bookings) (do I have|have I booked|are on my account) (with "
            "you|so far|at the moment)?",
        ],
        answers=[
            "I found {booking_ids#} bookings[: {booking_ids}].",
            "Your bookings are {booking_ids}.",
        ],
    )
    def list_flight_bookings(
        self,
        access_token: AccessToken,
        status: Annotated[Literal["all", "confirmed", "cancelled"], Field(description="Which bookings.")] = "all",
    ) -> BookingList:
        """List the logged-in user's bookings, by travel date."""
        user = self._user(access_token)
        bookings = sorted(
            (b for b in self.state.bookings.values() if b.user_id == user.user_id and status in ("all", b.status)),
            key=lambda b: (b.travel_date, b.booking_id),
        )
        return BookingList(bookings=bookings, booking_ids=[b.booking_id for b in bookings])

    @tool(
        requires=["travel_logged_in"],
        consumes={"access_token": "access_token", "booking_id": "booking_id"},
        asks=[
            "Cancel {booking_id}.",
            "Can you cancel {booking_id} and refund me?",
            "I won't be taking {booking_id} after all; please cancel it.",
            "I need {booking_id} cancelled.",
            "Call off {booking_id} for me.",
        ],
        answers=[
            "Done: {booking_id} is {status}, and {refunded_amount} USD went back to {card_id}.",
            "Booking {booking_id} is cancelled; the refund of {refunded_amount} USD brings {card_id} to "
            "{card_balance_after} USD.",
        ],
    )
    def cancel_flight_booking(self, access_token: AccessToken, booking_id: BookingId) -> CancellationResult:
        """Cancel a booking before its travel date. The full fare goes back to the card it was paid with and
        the loyalty points it earned are removed; an insurance premium is not refunded."""
        user = self._user(access_token)
        booking = self._booking(user, booking_id)
        if booking.status == "cancelled":
            raise PreconditionFailed(f"booking {booking_id} is already cancelled")
        if date.fromisoformat(booking.travel_date) <= self._now().date():
            raise PreconditionFailed(
                f"booking {booking_id} departs {booking.travel_date}; it can no longer be cancelled"
            )
        now = self._tick().isoformat()
        card = self.state.cards[booking.card_id]
        card.balance = round(card.balance + booking.total_cost, 2)
        booking.status, booking.cancelled_at = "cancelled", now
        self.state.invoices[booking.invoice_id].refunded_amount = booking.total_cost
        user.loyalty_points = max(0, user.loyalty_points - int(booking.total_cost))
        return CancellationResult(
            booking_id=booking_id,
            status="cancelled",
            refunded_amount=booking.total_cost,
            card_id=card.card_id,
            card_balance_after=card.balance,
        )

    @tool(
        read_only=True,
        requires=["travel_logged_in"],
        consumes={"access_token": "access_token", "booking_id": "booking_id"},
        produces={"invoice_id": "invoice_id"},
        asks=[
            "Get me the invoice for {booking_id}.",
            "Can I see what I was charged for {booking_id}?",
            "I need the invoice for {booking_id}.",
            "Show me the bill for {booking_id}.",
            "Pull up the receipt for {booking_id}, please.",
        ],
        answers=[
            "Invoice {invoice_id} for {booking_id}: {amount_due} USD ({fare_total} USD fare plus "
            "{taxes_total} USD taxes), {refunded_amount} USD refunded.",
            "You were charged {amount_due} USD for {@booking_id} (invoice {invoice_id}, issued {issued_at}).",
        ],
    )
    def retrieve_flight_invoice(self, access_token: AccessToken, booking_id: BookingId) -> FlightInvoice:
        """Get the invoice of one of the logged-in user's bookings, with any refund made."""
        booking = self._booking(self._user(access_token), booking_id)
        return self.state.invoices[booking.invoice_id].model_copy()

    @tool(
        requires=["travel_logged_in"],
        consumes={"access_token": "access_token", "invoice_id": "invoice_id"},
        asks=[
            "E-mail {invoice_id} to me[ at {email}].",
            "Can you send {invoice_id} by e-mail[ to {email}]?",
            "I need a copy of {invoice_id} in my inbox[; use {email}].",
            "Please mail {invoice_id}[ to {email}].",
            "Send {invoice_id} over by e-mail[, the address is {email}].",
        ],
        answers=[
            "Done: {invoice_id} was e-mailed to {sent_to}.",
            "I sent invoice {invoice_id} to {sent_to}.",
        ],
    )
    def email_flight_invoice(
        self,
        access_token: AccessToken,
        invoice_id: Annotated[str, Field(description="An invoice id such as 'INV0001' (see retrieve_flight_invoice).")],
        email: Annotated[
            str | None, Field(description="Address to send to; defaults to the account e-mail.", max_length=254)
        ] = None,
    ) -> InvoiceEmailResult:
        """E-mail one of the logged-in user's invoices, to the account address unless another is given."""
        user = self._user(access_token)
        invoice = self.state.invoices.get(invoice_id)
        if invoice is None or self.state.bookings[invoice.booking_id].user_id != user.user_id:
            raise NotFound(f"no invoice {invoice_id!r} on your account; retrieve_flight_invoice shows the id")
        address = email or user.email
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", address):
            raise InvalidArgument(f"{address!r} is not a valid e-mail address")
        invoice.emailed_to = [*invoice.emailed_to, address]
        self._tick()
        return InvoiceEmailResult(invoice_id=invoice_id, sent_to=address)

    @tool(
        requires=["travel_logged_in"],
        consumes={"access_token": "access_token", "booking_id": "booking_id", "card_id": "card_id"},
        produces={"insurance_id": "insurance_id"},
        asks=[
            "Buy {plan} travel insurance for {booking_id} and charge it to {card_id}.",
            "Can you insure {booking_id} with the {plan} plan, paid with {card_id}?",
            "I want {plan} cover on {booking_id}; put the premium on {card_id}.",
            "Please put {plan} insurance on {booking_id} using {card_id}.",
            "Get me a {plan} policy for {booking_id}, billed to {card_id}.",
        ],
        answers=[
            "Booking {booking_id} is insured under {insurance_id}: the premium was {premium} USD and it "
            "covers up to {coverage_amount} USD.",
            "Done: policy {insurance_id} is in place; {card_balance_after} USD is left on the card after "
            "the {premium} USD premium.",
        ],
    )
    def purchase_travel_insurance(
        self,
        access_token: AccessToken,
        booking_id: BookingId,
        card_id: CardId,
        plan: Annotated[
            InsurancePlan,
            Field(description="basic: 4% of the fare, covers it once; comprehensive: 7%, covers twice the fare."),
        ],
    ) -> InsuranceResult:
        """Insure a confirmed, upcoming booking, charging the premium to a card. One policy per booking."""
        user = self._user(access_token)
        booking = self._booking(user, booking_id)
        card = self._card(user, card_id)
        if booking.status == "cancelled":
            raise PreconditionFailed(f"booking {booking_id} is cancelled; only confirmed bookings can be insured")
        if booking.insurance_id is not None:
            raise PreconditionFailed(f"booking {booking_id} is already insured by {booking.insurance_id}")
        if date.fromisoformat(booking.travel_date) <= self._now().date():
            raise PreconditionFailed(f"booking {booking_id} departs {booking.travel_date}; it is too late to insure it")
        rate, multiple = _INSURANCE_TERMS[plan]
        premium = round(booking.total_cost * rate, 2)
        if _expired(card.expiry_date, self._now().date()) or premium > card.balance:
            raise PreconditionFailed(f"card {card_id} cannot pay the {premium:.2f} USD premium; use another card")
        insurance_id = _make_id("INS", self.state.next_insurance_number)
        self.state.insurances[insurance_id] = TravelInsurance(
            insurance_id=insurance_id,
            booking_id=booking_id,
            card_id=card_id,
            plan=plan,
            premium=premium,
            coverage_amount=round(booking.total_cost * multiple, 2),
            purchased_at=self._tick().isoformat(),
        )
        card.balance = round(card.balance - premium, 2)
        booking.insurance_id = insurance_id
        self.state.next_insurance_number += 1
        return InsuranceResult(
            insurance_id=insurance_id,
            booking_id=booking_id,
            premium=premium,
            coverage_amount=self.state.insurances[insurance_id].coverage_amount,
            card_balance_after=card.balance,
        )

    @tool(
        read_only=True,
        requires=["travel_logged_in"],
        consumes={"access_token": "access_token", "insurance_id": "insurance_id"},
        asks=[
            "Show me {insurance_id}.",
            "What does {insurance_id} cover?",
            "Can you pull up the details of {insurance_id}?",
            "I need to check {insurance_id}.",
            "How much cover do I have under {insurance_id}?",
        ],
        answers=[
            "Policy {insurance_id} is a {plan} plan on booking {booking_id}, covering up to "
            "{coverage_amount} USD (premium {premium} USD).",
            "Your policy covers booking {booking_id} for up to {coverage_amount} USD; it was bought on {purchased_at}.",
        ],
    )
    def get_travel_insurance(
        self,
        access_token: AccessToken,
        insurance_id: Annotated[str, Field(description="A policy id such as 'INS0001'.")],
    ) -> TravelInsurance:
        """Show one of the logged-in user's travel insurance policies."""
        user = self._user(access_token)
        policy = self.state.insurances.get(insurance_id)
        if policy is None or self.state.bookings[policy.booking_id].user_id != user.user_id:
            raise NotFound(f"no insurance policy {insurance_id!r} on your account")
        return policy.model_copy()

    @tool(
        requires=["travel_logged_in"],
        consumes={"access_token": "access_token", "booking_id": "booking_id"},
        produces={"request_id": "support_request_id"},
        asks=[
            'Raise {booking_id} with support and tell them "{message}"',
            'Can you open a support request for {booking_id}? "{message}"',
            'I need help with {booking_id}; please tell support "{message}"',
            'Contact customer service about {booking_id} with this message, "{message}"',
            'Write to the travel support team regarding {booking_id} and say "{message}"',
            '(Tell|Ask|Message) (support|the support team|customer service) about {booking_id}: "{message}"',
            '(Send|Pass) (support|customer service|the travel support team) this about {booking_id}, "{message}"',
        ],
        answers=[
            "I've opened support request {request_id} about {booking_id}; it's {priority} priority and "
            "support will answer by {response_due_by}.",
            "Support has your message as request {request_id} ({status}); expect a reply by {response_due_by}.",
        ],
    )
    def contact_travel_support(
        self,
        access_token: AccessToken,
        booking_id: BookingId,
        message: Annotated[str, Field(description="What you need help with.", min_length=5, max_length=2000)],
    ) -> SupportRequest:
        """Open a support request about one of the logged-in user's bookings. Gold and platinum members get
        high priority and an answer within 4 hours; others within 24 hours."""
        user = self._user(access_token)
        self._booking(user, booking_id)
        if len(message.strip()) < 5:
            raise InvalidArgument("message is too short; describe the problem")
        now = self._tick()
        high = user.loyalty_tier in ("gold", "platinum")
        request_id = _make_id("SUP", self.state.next_request_number)
        request = SupportRequest(
            request_id=request_id,
            user_id=user.user_id,
            booking_id=booking_id,
            message=message.strip(),
            priority="high" if high else "normal",
            status="open",
            created_at=now.isoformat(),
            response_due_by=(now + timedelta(hours=4 if high else 24)).isoformat(),
        )
        self.state.support_requests[request_id] = request
        self.state.next_request_number += 1
        return request.model_copy()

    @tool(
        read_only=True,
        requires=["travel_logged_in"],
        consumes={"access_token": "access_token", "request_id": "support_request_id"},
        asks=[
            "What's the status of {request_id}?",
            "Has support answered {request_id} yet?",
            "Can you check on {request_id}?",
            "I want an update on {request_id}.",
            "Show me {request_id}.",
        ],
        answers=[
            "Request {request_id} about {booking_id} is {status}, {priority} priority, due by {response_due_by}.",
            "Support request {request_id} is {status}; the answer was promised by {response_due_by}.",
        ],
    )
    def get_travel_support_request(
        self,
        access_token: AccessToken,
        request_id: Annotated[str, Field(description="A support request id such as 'SUP0001'.")],
    ) -> SupportRequest:
        """Show one of the logged-in user's support requests and its status."""
        user = self._user(access_token)
        request = self.state.support_requests.get(request_id)
        if request is None or request.user_id != user.user_id:
            raise NotFound(f"no support request {request_id!r} on your account")
        return request.model_copy()

    def _now(self) -> datetime:
        return datetime.fromisoformat(self.state.clock)

    def _tick(self) -> datetime:
        now = self._now() + _CLOCK_STEP
        self.state.clock = now.isoformat()
        return now

    def _user(self, access_token: str) -> TravelUser:
        session = self.state.session
        if session is None:
            raise PreconditionFailed("nobody is logged in; call travel_log_in to get an access token")
        if access_token != session.access_token:
            raise InvalidArgument("access_token is not valid; use the token the last travel_log_in returned")
        if self._now() >= datetime.fromisoformat(session.expires_at):
            raise PreconditionFailed(f"access_token expired at {session.expires_at}; call travel_log_in again")
        return self.state.users[session.user_id]

    def _card(self, user: TravelUser, card_id: str) -> PaymentCard:
        card = self.state.cards.get(card_id)
        if card is None or card.user_id != user.user_id:
            raise NotFound(f"no card {card_id!r} on your account; list_travel_cards shows your cards")
        return card

    def _booking(self, user: TravelUser, booking_id: str) -> FlightBooking:
        booking = self.state.bookings.get(booking_id)
        if booking is None or booking.user_id != user.user_id:
            raise NotFound(f"no booking {booking_id!r} on your account; list_flight_bookings shows your bookings")
        return booking

    def _airport(self, code: str) -> Airport:
        airport = self.state.airports.get(code.upper())
        if airport is None:
            raise NotFound(f"unknown airport code {code!r}; use get_airport_by_city or list_airports")
        return airport

    def _rate(self, from_currency: str, to_currency: str) -> float:
        rates = self.state.exchange_rates
        for code in (from_currency.upper(), to_currency.upper()):
            if code not in rates:
                raise NotFound(f"unsupported currency {code!r}; supported: {', '.join(sorted(rates))}")
        return rates[to_currency.upper()] / rates[from_currency.upper()]

    def _quote(
        self, origin: str, destination: str, travel_date: str, travel_class: str, travellers: int
    ) -> tuple[float, float, float, float]:
        """(distance km, fare total, taxes total, price total) in USD for a trip."""
        start, end = self._airport(origin), self._airport(destination)
        if start.code == end.code:
            raise InvalidArgument("origin and destination airports must differ")
        try:
            day = date.fromisoformat(travel_date) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", travel_date) else None
        except ValueError:
            day = None
        if day is None:
            raise InvalidArgument(f"travel_date {travel_date!r} is not a real date in YYYY-MM-DD form")
        today = self._now().date()
        if not today < day <= today + timedelta(days=365):
            raise InvalidArgument(f"travel_date must be after today ({today}) and at most a year ahead")
        if travel_class not in _CLASS_MULTIPLIER or not 1 <= travellers <= 9:
            raise InvalidArgument("travel_class must be economy, premium_economy, business or first; travellers 1-9")
        distance = round(_distance_km(start.latitude, start.longitude, end.latitude, end.longitude), 1)
        digest = hashlib.sha256(f"{self._fare_salt}:{start.code}:{end.code}:{day}:{travel_class}".encode()).digest()
        variation = 0.96 + 0.08 * int.from_bytes(digest[:4]) / 2**32  # seeded +-4% market noise
        peak = 1.1 if day.weekday() in (4, 6) else 1.0  # Friday and Sunday departures cost more
        fare = round((40 + 0.12 * distance) * _CLASS_MULTIPLIER[travel_class] * peak * variation, 2)
        taxes = round(fare * 0.1 + 12.5, 2)
        return (
            distance,
            round(fare * travellers, 2),
            round(taxes * travellers, 2),
            round((fare + taxes) * travellers, 2),
        )


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2, dp, dl = map(math.radians, (lat1, lat2, lat2 - lat1, lon2 - lon1))
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _brand(digits: str) -> Literal["visa", "mastercard", "amex", "discover"] | None:
    if digits.startswith("4"):
        return "visa"
    if digits[:2] in {"51", "52", "53", "54", "55"} or "2221" <= digits[:4] <= "2720":
        return "mastercard"
    if digits[:2] in {"34", "37"}:
        return "amex"
    if digits.startswith(("6011", "65")):
        return "discover"
    return None


def _expired(expiry_date: str, today: date) -> bool:
    """A card is valid through the last day of its MM/YY month."""
    month, year = int(expiry_date[:2]), 2000 + int(expiry_date[3:])
    return (year, month) < (today.year, today.month)
