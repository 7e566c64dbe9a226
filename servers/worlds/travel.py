"""Travel worlds: other travellers with cards and budgets, another network of airports, bookings in every state."""

import math
from datetime import date, datetime, timedelta
from typing import Any

from servers.registry import get_environment
from servers.scenarios import load_scenario
from servers.worlds._framework import Draw, World, generator

__all__ = ["generate"]

_CLASS = {"economy": 1.0, "premium_economy": 1.6, "business": 3.2, "first": 5.0}
_TIERS = ("standard", "standard", "silver", "gold", "platinum")


@generator("travel")
def generate(draw: Draw) -> World:
    """2-8 travellers (tier, points, some with a budget limit), 1-3 cards each, 8-24 airports, 6-16 cities
    without one, and 0-4 bookings a traveller (some cancelled and refunded, some insured), support requests."""
    shipped = load_scenario(get_environment("travel"), "default").state
    airports = {code: airport for code, airport in _airports(draw, shipped)}
    cities = {city["name"]: city for city in draw.sample(_cities(draw, shipped), draw.between(6, 16))}
    rates = {"USD": 1.0} | {
        code: round(rate * draw.amount(0.97, 1.03, 0.001), 4) for code, rate in shipped["exchange_rates"].items()
        if code != "USD"
    }  # fmt: skip
    clock = draw.clock()
    book = _Book(draw, airports, clock)
    people = draw.people(draw.between(2, 8))
    ids = sorted(f"TRV{number:03d}" for number in draw.sample(range(1, 500), len(people)))
    for person, user_id in zip(people, ids, strict=True):
        book.traveller(person, user_id)
    state = {
        "users": book.users,
        "airports": airports,
        "cities": cities,
        "exchange_rates": rates,
        "cards": book.cards,
        "bookings": book.bookings,
        "invoices": book.invoices,
        "insurances": book.insurances,
        "support_requests": book.requests,
        "session": None,
        "next_card_number": len(book.cards) + 1,
        "next_booking_number": len(book.bookings) + 1,
        "next_invoice_number": len(book.invoices) + 1,
        "next_insurance_number": len(book.insurances) + 1,
        "next_request_number": len(book.requests) + 1,
        "clock": clock,
    }
    credentials = [{"user_id": user_id, "password": book.users[user_id]["password"]} for user_id in ids]
    pools = {
        "travel_user_id": ids,
        "password": [entry["password"] for entry in credentials],
        "travel_log_in": credentials,
        "airport_code": list(airports),
        "city": [airport["city"] for airport in airports.values()] + list(cities),
        "card_id": list(book.cards),
        "cardholder_name": [person.full for person in draw.people(6)],
        "email": [user["email"] for user in book.users.values()],
        **{key: list(table) for key, table in book.tables().items() if table},
        "travel_date": [
            (date.fromisoformat(clock[:10]) + timedelta(days=draw.between(3, 120))).isoformat() for _ in range(6)
        ],  # fmt: skip
    }
    summary = f"{len(ids)} travellers, {len(airports)} airports, {len(book.bookings)} bookings; nobody is logged in."
    return World(state, pools, summary)


def _airports(draw: Draw, shipped: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    known = {airport["code"]: airport for airport in [*shipped["airports"].values(), *draw.vocab("airports")]}
    return [(code, known[code]) for code in sorted(draw.sample(sorted(known), draw.between(8, 24)))]


def _cities(draw: Draw, shipped: dict[str, Any]) -> list[dict[str, Any]]:
    known = {city["name"]: city for city in [*shipped["cities"].values(), *draw.vocab("cities")]}
    return [known[name] for name in sorted(known)]


class _Book:
    """Travellers and what they booked, numbered as the service would have numbered them."""

    def __init__(self, draw: Draw, airports: dict[str, Any], clock: str) -> None:
        self.draw, self.airports, self.clock = draw, airports, clock
        self.users: dict[str, Any] = {}
        self.cards: dict[str, Any] = {}
        self.bookings: dict[str, Any] = {}
        self.invoices: dict[str, Any] = {}
        self.insurances: dict[str, Any] = {}
        self.requests: dict[str, Any] = {}

    def tables(self) -> dict[str, dict[str, Any]]:
        """Pool key -> table, for the ids a user of this world would name."""
        return {
            "booking_id": self.bookings,
            "invoice_id": self.invoices,
            "insurance_id": self.insurances,
            "support_request_id": self.requests,
        }

    def traveller(self, person: Any, user_id: str) -> None:
        draw = self.draw
        tier = draw.pick(_TIERS)
        email = f"{person.first.lower()}.{person.last.lower()}@{draw.pick(['example.com', 'mail.example.org'])}"
        self.users[user_id] = {
            "user_id": user_id,
            "full_name": person.full,
            "email": email,
            "password": draw.password(person),
            "loyalty_tier": tier,
            "loyalty_points": draw.between(0, 60_000) if tier != "standard" else draw.between(0, 3_000),
            "budget_limit": draw.pick([None, None, 500.0, 1000.0, 2500.0, 5000.0]),
        }
        cards = []
        for _ in range(draw.between(1, 3)):
            card_id = f"CARD{len(self.cards) + 1:03d}"
            self.cards[card_id] = {
                "card_id": card_id,
                "user_id": user_id,
                "cardholder_name": person.full,
                "brand": draw.pick(["visa", "mastercard", "amex", "discover"]),
                "last4": draw.code(4),
                "expiry_date": f"{draw.between(1, 12):02d}/{draw.between(26, 31)}",
                "balance": draw.amount(150, 12_000, 50),
            }
            cards.append(card_id)
        for _ in range(draw.between(0, 4)):
            self._booking(user_id, draw.pick(cards), tier)

    def _booking(self, user_id: str, card_id: str, tier: str) -> None:
        draw = self.draw
        origin, destination = draw.sample(list(self.airports), 2)
        travel_class = draw.pick(["economy", "economy", "premium_economy", "business", "first"])
        travellers = draw.pick([1, 1, 1, 2, 2, 3, 4])
        fare = round((40 + 0.12 * self._distance(origin, destination)) * _CLASS[travel_class], 2)
        taxes = round(fare * 0.1 + 12.5, 2)
        total = round((fare + taxes) * travellers, 2)
        booked = draw.moment(self.clock, 60)
        days_ahead = draw.between(-20, 150)  # some trips are already over
        travel_date = (date.fromisoformat(self.clock[:10]) + timedelta(days=days_ahead)).isoformat()
        cancelled = days_ahead > 0 and draw.chance(0.2)
        number = len(self.bookings) + 1
        booking_id, invoice_id = f"BKG{number:04d}", f"INV{len(self.invoices) + 1:04d}"
        insurance_id = None
        if not cancelled and days_ahead > 0 and draw.chance(0.3):
            insurance_id = f"INS{len(self.insurances) + 1:04d}"
            plan = draw.pick(["basic", "comprehensive"])
            self.insurances[insurance_id] = {
                "insurance_id": insurance_id,
                "booking_id": booking_id,
                "card_id": card_id,
                "plan": plan,
                "premium": round(total * (0.04 if plan == "basic" else 0.07), 2),
                "coverage_amount": round(total * (1 if plan == "basic" else 2), 2),
                "purchased_at": _later(booked, 5),
            }
        cancelled_at = _later(booked, draw.between(60, 60 * 24 * 10)) if cancelled else None
        if cancelled_at is not None and cancelled_at > self.clock:
            cancelled_at = self.clock
        self.bookings[booking_id] = {
            "booking_id": booking_id,
            "user_id": user_id,
            "card_id": card_id,
            "origin_airport": origin,
            "destination_airport": destination,
            "travel_date": travel_date,
            "travel_class": travel_class,
            "travellers": travellers,
            "total_cost": total,
            "status": "cancelled" if cancelled else "confirmed",
            "booked_at": booked,
            "cancelled_at": cancelled_at,
            "invoice_id": invoice_id,
            "insurance_id": insurance_id,
        }
        self.invoices[invoice_id] = {
            "invoice_id": invoice_id,
            "booking_id": booking_id,
            "issued_at": booked,
            "fare_total": round(fare * travellers, 2),
            "taxes_total": round(taxes * travellers, 2),
            "amount_due": total,
            "refunded_amount": total if cancelled else 0,
            "emailed_to": [self.users[user_id]["email"]] if draw.chance(0.6) else [],
        }
        if draw.chance(0.25):
            request_id = f"SUP{len(self.requests) + 1:04d}"
            created = draw.moment(self.clock, 3)
            high = tier in ("gold", "platinum")
            self.requests[request_id] = {
                "request_id": request_id,
                "user_id": user_id,
                "booking_id": booking_id,
                "message": draw.pick(draw.pool("message") or ["Please confirm my booking."]),
                "priority": "high" if high else "normal",
                "status": draw.pick(["open", "resolved"]),
                "created_at": created,
                "response_due_by": _later(created, 4 * 60 if high else 24 * 60),
            }

    def _distance(self, origin: str, destination: str) -> float:
        a, b = self.airports[origin], self.airports[destination]
        lat1, lat2 = math.radians(a["latitude"]), math.radians(b["latitude"])
        dlat, dlon = lat2 - lat1, math.radians(b["longitude"] - a["longitude"])
        h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
        return 2 * 6371 * math.asin(math.sqrt(h))


def _later(moment: str, minutes: int) -> str:
    return (datetime.fromisoformat(moment) + timedelta(minutes=minutes)).isoformat()
