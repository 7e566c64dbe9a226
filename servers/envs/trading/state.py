"""Trading state: stocks, accounts with holdings and watchlists, linked cards, orders and transactions."""

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from servers.state import StateModel

__all__ = ["Account", "BankCard", "Holding", "Order", "Stock", "TradingState", "Transaction"]


class Stock(StateModel):
    symbol: str = Field(description="Ticker symbol in upper case, e.g. 'AAPL'.")
    company_name: str = Field(description="Full company name.")
    sector: str = Field(description="Industry sector, e.g. 'Technology'.")
    price: float = Field(description="Last traded price in USD.", gt=0)
    previous_close: float = Field(description="Closing price of the previous trading day in USD.", gt=0)
    volume: int = Field(description="Shares traded so far in the current session.", ge=0)


class Holding(StateModel):
    quantity: int = Field(description="Number of shares held.", gt=0)
    average_cost: float = Field(description="Average price paid per share in USD.", gt=0)


class Account(StateModel):
    username: str = Field(description="Login name, unique across the brokerage.")
    password: str = Field(description="Login password.")
    full_name: str = Field(description="Account holder's full name.")
    cash_balance: float = Field(description="Settled cash in USD.", ge=0)
    holdings: dict[str, Holding] = Field(default_factory=dict, description="Positions by ticker symbol.")
    watchlist: list[str] = Field(default_factory=list, description="Ticker symbols the holder watches, in order added.")


class BankCard(StateModel):
    card_id: str = Field(description="Unique id of the linked card, e.g. 'CARD01'.")
    owner: str = Field(description="Username of the account the card is linked to.")
    bank_name: str = Field(description="Issuing bank.")
    last_four: str = Field(description="Last four digits of the card number.", pattern=r"^\d{4}$")
    cardholder_name: str = Field(description="Name printed on the card.")
    expiry: str = Field(description="Last valid month, 'YYYY-MM'.", pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    bank_balance: float = Field(description="Money available in the bank account behind the card, USD.", ge=0)


class Order(StateModel):
    order_id: str = Field(description="Unique order id, e.g. 'ORD00001'.")
    owner: str = Field(description="Username of the account that placed the order.")
    symbol: str = Field(description="Ticker symbol traded.")
    side: Literal["buy", "sell"] = Field(description="Whether the order buys or sells shares.")
    order_type: Literal["market", "limit"] = Field(description="Market (current price) or limit (set price).")
    quantity: int = Field(description="Number of shares.", gt=0)
    limit_price: float | None = Field(default=None, description="Limit price in USD; null for market orders.")
    status: Literal["pending", "filled", "cancelled"] = Field(description="Where the order is in its lifecycle.")
    placed_at: str = Field(description="ISO 8601 market time the order was placed.")
    filled_at: str | None = Field(default=None, description="ISO 8601 market time it filled, or null.")
    fill_price: float | None = Field(default=None, description="Price per share it filled at, or null.")
    cancelled_at: str | None = Field(default=None, description="ISO 8601 market time it was cancelled, or null.")


class Transaction(StateModel):
    transaction_id: str = Field(description="Unique transaction id, e.g. 'TXN00001'.")
    owner: str = Field(description="Username of the account the transaction belongs to.")
    kind: Literal["deposit", "withdrawal", "buy", "sell"] = Field(description="What moved the cash.")
    amount: float = Field(description="Cash moved in USD, always positive.", gt=0)
    timestamp: str = Field(description="ISO 8601 market time of the transaction.")
    balance_after: float = Field(description="Cash balance right after the transaction, USD.")
    symbol: str | None = Field(default=None, description="Ticker symbol for a buy or sell, else null.")
    quantity: int | None = Field(default=None, description="Shares for a buy or sell, else null.")
    price: float | None = Field(default=None, description="Price per share for a buy or sell, else null.")
    order_id: str | None = Field(default=None, description="Order that caused a buy or sell, else null.")
    card_id: str | None = Field(default=None, description="Card used for a deposit or withdrawal, else null.")


class TradingState(StateModel):
    stocks: dict[str, Stock] = Field(description="Every listed stock by ticker symbol.")
    accounts: dict[str, Account] = Field(description="Every brokerage account by username.")
    cards: dict[str, BankCard] = Field(default_factory=dict, description="Linked bank cards by card id.")
    orders: dict[str, Order] = Field(default_factory=dict, description="Every order ever placed, by order id.")
    transactions: dict[str, Transaction] = Field(default_factory=dict, description="Cash movements by id.")
    current_user: str | None = Field(default=None, description="Username logged in, or null when logged out.")
    clock: str = Field(default="2026-03-02T10:30:00", description="Market time (US Eastern), ISO 8601.")
    next_order_number: int = Field(default=1, description="Number used for the next order id.", ge=1)
    next_transaction_number: int = Field(default=1, description="Number used for the next transaction id.", ge=1)

    @model_validator(mode="after")
    def _check_references(self) -> "TradingState":
        for table in ("stocks", "accounts", "cards", "orders", "transactions"):
            key_field = {"stocks": "symbol", "accounts": "username"}.get(table, table[:-1] + "_id")
            for key, item in getattr(self, table).items():
                if getattr(item, key_field) != key:
                    raise ValueError(f"{table}: key {key!r} does not match {key_field} {getattr(item, key_field)!r}")
        for name, account in self.accounts.items():
            for symbol in [*account.holdings, *account.watchlist]:
                if symbol not in self.stocks:
                    raise ValueError(f"accounts: {name!r} names unknown symbol {symbol!r}")
        for table in ("cards", "orders", "transactions"):
            for key, item in getattr(self, table).items():
                if item.owner not in self.accounts:
                    raise ValueError(f"{table}: {key!r} names unknown owner {item.owner!r}")
        for order in self.orders.values():
            if order.symbol not in self.stocks:
                raise ValueError(f"orders: {order.order_id!r} names unknown symbol {order.symbol!r}")
            if (order.order_type == "limit") != (order.limit_price is not None):
                raise ValueError(f"orders: {order.order_id!r} needs a limit_price exactly when it is a limit order")
            if order.status == "pending" and order.order_type == "market":
                raise ValueError(f"orders: {order.order_id!r} is a pending market order (market orders fill at once)")
            if (order.status == "filled") != (order.fill_price is not None and order.filled_at is not None):
                raise ValueError(f"orders: {order.order_id!r} needs fill_price and filled_at exactly when filled")
        for txn in self.transactions.values():
            if txn.card_id is not None and txn.card_id not in self.cards:
                raise ValueError(f"transactions: {txn.transaction_id!r} names unknown card {txn.card_id!r}")
            if txn.order_id is not None and txn.order_id not in self.orders:
                raise ValueError(f"transactions: {txn.transaction_id!r} names unknown order {txn.order_id!r}")
        for name, account in self.accounts.items():
            if _reserved_cash(self, name) > account.cash_balance + 0.005:
                raise ValueError(f"accounts: {name!r} has pending buy orders worth more than its cash")
            for symbol in {o.symbol for o in _pending(self, name) if o.side == "sell"}:
                held = account.holdings[symbol].quantity if symbol in account.holdings else 0
                if _reserved_shares(self, name, symbol) > held:
                    raise ValueError(f"accounts: {name!r} has pending sell orders for more {symbol} than it holds")
        if self.current_user is not None and self.current_user not in self.accounts:
            raise ValueError(f"current_user: unknown account {self.current_user!r}")
        datetime.fromisoformat(self.clock)
        return self


def _money(value: float) -> float:
    return round(value + 0.0, 2)


def _pending(state: TradingState, username: str) -> list[Order]:
    return [o for o in state.orders.values() if o.owner == username and o.status == "pending"]


def _reserved_cash(state: TradingState, username: str) -> float:
    return _money(sum((o.limit_price or 0) * o.quantity for o in _pending(state, username) if o.side == "buy"))


def _reserved_shares(state: TradingState, username: str, symbol: str) -> int:
    return sum(o.quantity for o in _pending(state, username) if o.side == "sell" and o.symbol == symbol)
