"""Brokerage worlds: another market board, other accounts with cards, portfolios, watchlists and orders."""

from datetime import datetime, timedelta
from typing import Any

from servers.worlds._framework import Draw, World, generator

__all__ = ["generate"]

_BANKS = ("Chase", "Wells Fargo", "Citibank", "Bank of America", "Capital One", "US Bank", "Ally", "PNC")


@generator("trading")
def generate(draw: Draw) -> World:
    """8-20 stocks at moved prices, 2-8 accounts that each deposited from a card and then traded:
    filled buys give the holdings, some orders cancelled, limit orders pending within cash and shares."""
    listed = draw.sample(draw.vocab("stocks"), draw.between(8, 20))
    stocks = {}
    for stock in listed:
        price = draw.amount(stock["price"] * 0.85, stock["price"] * 1.15)
        stocks[stock["symbol"]] = {
            "symbol": stock["symbol"],
            "company_name": stock["company_name"],
            "sector": stock["sector"],
            "price": price,
            "previous_close": draw.amount(price * 0.96, price * 1.04),
            "volume": draw.between(400_000, 90_000_000),
        }
    clock = _market_clock(draw)
    book = _Book(draw, stocks, clock)
    people = draw.people(draw.between(2, 8))
    names = draw.unique([draw.handle(person) for person in people])
    for person, username in zip(people, names, strict=True):
        book.account(person, username)
    logged_in = None  # logged out, as the shipped default: a walk that logs out first prunes badly
    state = {
        "stocks": stocks,
        "accounts": book.accounts,
        "cards": book.cards,
        "orders": book.orders,
        "transactions": book.transactions,
        "current_user": logged_in,
        "clock": clock,
        "next_order_number": len(book.orders) + 1,
        "next_transaction_number": len(book.transactions) + 1,
    }
    credentials = [{"username": name, "password": book.accounts[name]["password"]} for name in names]
    pools = {
        "username": names,
        "password": [entry["password"] for entry in credentials],
        "trading_log_in": credentials,
        "symbol": list(stocks),
        "query": [_searched(draw, stock["company_name"]) for stock in draw.sample(listed, 6)],
        "order_id": list(book.orders),
        "transaction_id": list(book.transactions),
        "card_id": list(book.cards),
    }
    summary = f"{len(stocks)} stocks, {len(names)} accounts, {len(book.orders)} orders at {clock}"
    return World(state, pools, summary + (f"; {logged_in} is logged in." if logged_in else "; nobody is logged in."))


def _searched(draw: Draw, company: str) -> str:
    """What a person types to find a company: a word of its name, as written or in lower case."""
    word = next(word for word in company.split() if word.lower() != "the")
    return draw.pick([word, word.lower()])


def _market_clock(draw: Draw) -> str:
    """Mostly a weekday in trading hours; sometimes early, late or at the weekend (the market is closed)."""
    day = datetime(2026, 1, 5) + timedelta(days=draw.between(0, 120))
    if draw.chance(0.8):
        day -= timedelta(days=max(0, day.weekday() - 4))
        return day.replace(hour=draw.between(9, 15), minute=draw.pick((35, 45, 0, 15, 30))).isoformat()
    return day.replace(hour=draw.pick((7, 8, 17, 19, 22)), minute=draw.pick((0, 30))).isoformat()


class _Book:
    """Accounts traded forward in time, one after another: orders and transactions numbered as they are made."""

    def __init__(self, draw: Draw, stocks: dict[str, Any], clock: str) -> None:
        self.draw, self.stocks, self.clock = draw, stocks, clock
        self.accounts: dict[str, Any] = {}
        self.cards: dict[str, Any] = {}
        self.orders: dict[str, Any] = {}
        self.transactions: dict[str, Any] = {}

    def account(self, person: Any, username: str) -> None:
        draw = self.draw
        cards = []
        for _ in range(draw.between(1, 2)):
            card_id = f"CARD{len(self.cards) + 1:02d}"
            self.cards[card_id] = {
                "card_id": card_id,
                "owner": username,
                "bank_name": draw.pick(_BANKS),
                "last_four": draw.code(4),
                "cardholder_name": person.full,
                "expiry": f"{draw.between(2026, 2031)}-{draw.between(1, 12):02d}",
                "bank_balance": draw.amount(500, 60_000, 50),
            }
            cards.append(card_id)
        cash = draw.amount(1_000, 50_000, 500)
        times = draw.moments(self.clock, 40, 8)
        self._transaction(username, "deposit", cash, times[0], cash, card_id=draw.pick(cards))
        holdings: dict[str, dict[str, Any]] = {}
        for moment in times[1:5]:
            symbol = draw.pick(list(self.stocks))
            price = draw.amount(self.stocks[symbol]["price"] * 0.9, self.stocks[symbol]["price"] * 1.05)
            quantity = draw.pick((1, 2, 5, 10, 15, 20, 25, 50))
            cost = round(price * quantity, 2)
            if draw.chance(0.15) or cost > cash:
                self._order(username, symbol, "buy", "limit", quantity, moment, "cancelled", limit=price)
                continue
            order_id = self._order(username, symbol, "buy", "market", quantity, moment, "filled", fill=price)
            cash = round(cash - cost, 2)
            self._transaction(username, "buy", cost, moment, cash, symbol=symbol, quantity=quantity, price=price,
                              order_id=order_id)  # fmt: skip
            held = holdings.setdefault(symbol, {"quantity": 0, "average_cost": price})
            total = held["quantity"] * held["average_cost"] + cost
            held["quantity"] += quantity
            held["average_cost"] = round(total / held["quantity"], 2)
        reserved = 0.0
        for moment in times[5:]:
            symbol = draw.pick(list(self.stocks))
            if holdings and draw.chance(0.5):
                symbol = draw.pick(sorted(holdings))
                quantity = draw.between(1, holdings[symbol]["quantity"])
                limit = draw.amount(self.stocks[symbol]["price"] * 1.03, self.stocks[symbol]["price"] * 1.2)
                self._order(username, symbol, "sell", "limit", quantity, moment, "pending", limit=limit)
                break
            limit = draw.amount(self.stocks[symbol]["price"] * 0.8, self.stocks[symbol]["price"] * 0.97)
            quantity = draw.pick((1, 2, 5, 10))
            if reserved + limit * quantity <= cash and draw.chance(0.6):
                reserved += limit * quantity
                self._order(username, symbol, "buy", "limit", quantity, moment, "pending", limit=limit)
        others = [symbol for symbol in self.stocks if symbol not in holdings]
        self.accounts[username] = {
            "username": username,
            "password": draw.password(person),
            "full_name": person.full,
            "cash_balance": cash,
            "holdings": holdings,
            "watchlist": draw.sample(others, draw.between(0, 5)),
        }

    def _order(self, owner: str, symbol: str, side: str, kind: str, quantity: int, at: str, status: str,
               *, limit: float | None = None, fill: float | None = None) -> str:  # fmt: skip
        order_id = f"ORD{len(self.orders) + 1:05d}"
        self.orders[order_id] = {
            "order_id": order_id,
            "owner": owner,
            "symbol": symbol,
            "side": side,
            "order_type": kind,
            "quantity": quantity,
            "limit_price": limit if kind == "limit" else None,
            "status": status,
            "placed_at": at,
            "filled_at": at if status == "filled" else None,
            "fill_price": fill if status == "filled" else None,
            "cancelled_at": at if status == "cancelled" else None,
        }
        return order_id

    def _transaction(self, owner: str, kind: str, amount: float, at: str, balance: float, **extra: Any) -> None:
        transaction_id = f"TXN{len(self.transactions) + 1:05d}"
        self.transactions[transaction_id] = {
            "transaction_id": transaction_id,
            "owner": owner,
            "kind": kind,
            "amount": amount,
            "timestamp": at,
            "balance_after": balance,
            "symbol": extra.get("symbol"),
            "quantity": extra.get("quantity"),
            "price": extra.get("price"),
            "order_id": extra.get("order_id"),
            "card_id": extra.get("card_id"),
        }
