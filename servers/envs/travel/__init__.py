"""A flight booking service: airports, fares, payment cards, bookings, invoices, insurance and support."""

from servers.envs.travel.state import Airport, FlightBooking, PaymentCard, TravelState, TravelUser
from servers.envs.travel.tools import Travel

__all__ = ["Airport", "FlightBooking", "PaymentCard", "Travel", "TravelState", "TravelUser"]
