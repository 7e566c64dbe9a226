"""The Trading environment: result models and tools for market hours, quotes, watchlists, orders and transfers."""

from datetime import datetime, time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from servers.environment import Environment, tool
from servers.envs.trading.state import (
    Account,
    BankCard,
    Holding,
    Order,
    Stock,
    TradingState,
    Transaction,
    _money,
    _reserved_cash,
    _reserved_shares,
)
from servers.errors import InvalidArgument, NotFound, PreconditionFailed

__all__ = ["Trading"]

MARKET_OPEN, MARKET_CLOSE = time(9, 30), time(16, 0)
MARKET_HOURS = "09:30-16:00 Eastern Time, Monday to Friday"
PRICE_STEP = timedelta(minutes=30)
STEP_VOLATILITY = 0.004
MAX_TRANSFER = 250_000.0


class LoginResult(BaseModel):
    logged_in: bool = Field(description="Whether an account is logged in.")
    username: str | None = Field(description="The logged-in username, or null.")


class MarketStatus(BaseModel):
    status: Literal["open", "closed"] = Field(description="Whether the market is open for trading now.")
    current_time: str = Field(description="Current market time, ISO 8601 (US Eastern).")
    weekday: str = Field(description="Day of the week of the current market time.")
    trading_hours: str = Field(description="Regular trading hours.")
    next_open: str | None = Field(description="When the market next opens (ISO 8601), or null while open.")
    next_close: str | None = Field(description="When the market closes today (ISO 8601), or null while closed.")


class ClockResult(BaseModel):
    current_time: str = Field(description="Market time after advancing, ISO 8601.")
    status: Literal["open", "closed"] = Field(description="Whether the market is open at the new time.")
    filled_order_ids: list[str] = Field(description="Pending limit orders (of every account) that filled, in order.")


class Quote(BaseModel):
    symbol: str = Field(description="Ticker symbol.")
    company_name: str = Field(description="Full company name.")
    sector: str = Field(description="Industry sector.")
    price: float = Field(description="Last traded price in USD.")
    change: float = Field(description="Price change since the previous close, USD.")
    change_percent: float = Field(description="Price change since the previous close, percent.")
    previous_close: float = Field(description="Previous close in USD.")
    volume: int = Field(description="Shares traded in the current session.")


class QuoteList(BaseModel):
    quotes: list[Quote] = Field(description="A current quote for each stock listed.")
    symbols: list[str] = Field(description="The same stocks' symbols, in the same order.")


class OrderList(BaseModel):
    orders: list[Order] = Field(description="Orders of the logged-in account, oldest first.")
    order_ids: list[str] = Field(description="The same orders' ids, in the same order.")


class Position(BaseModel):
    symbol: str = Field(description="Ticker symbol.")
    quantity: int = Field(description="Shares held.")
    shares_available: int = Field(description="Shares not tied up in pending sell orders.")
    average_cost: float = Field(description="Average price paid per share, USD.")
    price: float = Field(description="Current price per share, USD.")
    market_value: float = Field(description="quantity x price, USD.")
    unrealized_gain: float = Field(description="market_value minus cost basis, USD.")


class AccountInfo(BaseModel):
    username: str = Field(description="Login name.")
    full_name: str = Field(description="Account holder's name.")
    cash_balance: float = Field(description="Settled cash, USD.")
    reserved_for_orders: float = Field(description="Cash held back for pending buy orders, USD.")
    buying_power: float = Field(description="Cash available for new buys and withdrawals, USD.")
    holdings: list[Position] = Field(description="Positions, sorted by symbol.")
    card_ids: list[str] = Field(description="Ids of the linked bank cards.")


class PortfolioValue(BaseModel):
    cash_balance: float = Field(description="Settled cash, USD.")
    holdings_value: float = Field(description="Market value of all positions, USD.")
    total_value: float = Field(description="Cash plus holdings value, USD.")
    unrealized_gain: float = Field(description="Total unrealized gain or loss of the positions, USD.")
    positions: list[Position] = Field(description="Each position valued at the current price, sorted by symbol.")


class CardSummary(BaseModel):
    card_id: str = Field(description="Card id to use for deposits and withdrawals.")
    bank_name: str = Field(description="Issuing bank.")
    last_four: str = Field(description="Last four digits of the card number.")
    cardholder_name: str = Field(description="Name on the card.")
    expiry: str = Field(description="Last valid month, 'YYYY-MM'.")
    expired: bool = Field(description="Whether the card has expired at the current market time.")


class CardList(BaseModel):
    cards: list[CardSummary] = Field(description="Cards linked to the logged-in account.")
    card_ids: list[str] = Field(description="The same cards' ids, in the same order.")


class TransferResult(BaseModel):
    transaction_id: str = Field(description="Id of the transaction recorded.")
    card_id: str = Field(description="Card the money moved from or to.")
    amount: float = Field(description="Amount moved, USD.")
    cash_balance: float = Field(description="Cash balance after the transfer, USD.")
    buying_power: float = Field(description="Buying power after the transfer, USD.")


class TransactionList(BaseModel):
    transactions: list[Transaction] = Field(description="Transactions, newest first.")
    transaction_ids: list[str] = Field(description="The same transactions' ids, in the same order.")


Symbol = Annotated[str, Field(description="Ticker symbol such as 'AAPL' (case-insensitive; see search_stock_symbols).")]
OrderId = Annotated[str, Field(description="An order id such as 'ORD00004' (see list_orders).")]
CardId = Annotated[str, Field(description="A linked card id such as 'CARD01' (see list_bank_cards).")]
Amount = Annotated[float, Field(description="Amount in USD, more than 0 and at most 250000.", gt=0, le=MAX_TRANSFER)]


class Trading(Environment):
    name = "trading"
    description = (
        "A stock brokerage: market hours and quotes, a watchlist, buy and sell orders with a pending -> filled or "
        "cancelled lifecycle, deposits and withdrawals with linked bank cards, holdings and transaction history."
    )
    state_model = TradingState
    state: TradingState

    @tool(provides=["trading_logged_in"])
    def trading_log_in(
        self,
        username: Annotated[str, Field(description="Brokerage username, e.g. 'jsmith'.", min_length=1)],
        password: Annotated[str, Field(description="The account's password.", min_length=1)],
    ) -> LoginResult:
        """Log in to a brokerage account. Needed before any account, watchlist, order or transfer tool.
        Fails when an account is already logged in (log out first) or the credentials are wrong."""
        if self.state.current_user is not None:
            raise PreconditionFailed(f"already logged in as {self.state.current_user!r}; call trading_log_out first")
        account = self.state.accounts.get(username)
        if account is None:
            raise NotFound(f"no brokerage account with username {username!r}")
        if account.password != password:
            raise InvalidArgument(f"wrong password for {username!r}")
        self.state.current_user = username
        return LoginResult(logged_in=True, username=username)

    @tool(requires=["trading_logged_in"])
    def trading_log_out(self) -> LoginResult:
        """Log the current account out. Pending orders stay open."""
        self._account()
        self.state.current_user = None
        return LoginResult(logged_in=False, username=None)

    @tool(read_only=True)
    def trading_get_login_status(self) -> LoginResult:
        """Tell whether a brokerage account is logged in, and which."""
        return LoginResult(logged_in=self.state.current_user is not None, username=self.state.current_user)

    @tool(read_only=True)
    def get_market_status(self) -> MarketStatus:
        """Tell whether the stock market is open, the current market time, the trading hours and when it next
        opens or closes. Market orders are accepted only while the market is open; limit orders any time."""
        now = self._now()
        is_open = _is_open(now)
        return MarketStatus(
            status="open" if is_open else "closed",
            current_time=now.isoformat(),
            weekday=now.strftime("%A"),
            trading_hours=MARKET_HOURS,
            next_open=None if is_open else _next_open(now).isoformat(),
            next_close=datetime.combine(now.date(), MARKET_CLOSE).isoformat() if is_open else None,
        )

    @tool(produces={"filled_order_ids": "order_id"})
    def advance_market_clock(
        self,
        minutes: Annotated[int, Field(description="Minutes to move market time forward (1 to 10080).", ge=1, le=10080)],
    ) -> ClockResult:
        """Let market time pass. While the market is open, prices move a little every 30 minutes and pending
        limit orders whose limit is reached fill at the market price. Each new day starts a fresh session
        (the last price becomes the previous close and volume resets)."""
        if not 1 <= minutes <= 10080:
            raise InvalidArgument("minutes must be between 1 and 10080 (one week)")
        now, end, filled = self._now(), self._now() + timedelta(minutes=minutes), []
        while now < end:
            boundary = now.replace(minute=now.minute // 30 * 30, second=0, microsecond=0) + PRICE_STEP
            step = min(boundary, end)
            if _is_open(now):
                self._move_prices((step - now) / PRICE_STEP)
                self.state.clock = step.isoformat()
                filled += self._fill_crossed_orders()
            if step.date() != now.date():
                for stock in self.state.stocks.values():
                    stock.previous_close, stock.volume = stock.price, 0
            now = step
        self.state.clock = end.isoformat()
        return ClockResult(current_time=self.state.clock, status=_status(end), filled_order_ids=filled)

    @tool(read_only=True, consumes={"symbol": "symbol"})
    def get_stock_info(self, symbol: Symbol) -> Quote:
        """Get a stock's current quote: company, sector, price, change since the previous close and volume."""
        return _quote(self._stock(symbol))

    @tool(read_only=True, produces={"symbols": "symbol"})
    def search_stock_symbols(
        self, query: Annotated[str, Field(description="Part of a company name or ticker, e.g. 'apple'.", min_length=1)]
    ) -> QuoteList:
        """Find stocks whose company name or ticker symbol contains the text (case-insensitive)."""
        needle = query.strip().lower()
        if not needle:
            raise InvalidArgument("query must not be blank")
        return _quote_list(s for s in self.state.stocks.values() if needle in f"{s.symbol} {s.company_name}".lower())

    @tool(read_only=True, produces={"symbols": "symbol"})
    def get_market_movers(
        self,
        direction: Annotated[Literal["gainers", "losers"], Field(description="Biggest gainers or losers.")] = "gainers",
        limit: Annotated[int, Field(description="How many stocks to return (1 to 10).", ge=1, le=10)] = 5,
    ) -> QuoteList:
        """List the stocks that moved most since the previous close, by percent change."""
        if not 1 <= limit <= 10:
            raise InvalidArgument("limit must be between 1 and 10")
        ranked = sorted(self.state.stocks.values(), key=lambda s: (_quote(s).change_percent, s.symbol))
        return _quote_list((ranked[::-1] if direction == "gainers" else ranked)[:limit], keep_order=True)

    @tool(requires=["trading_logged_in"], consumes={"symbol": "symbol"})
    def add_to_watchlist(self, symbol: Symbol) -> QuoteList:
        """Add a stock to the logged-in account's watchlist. Fails if it is already there."""
        account, stock = self._account(), self._stock(symbol)
        if stock.symbol in account.watchlist:
            raise InvalidArgument(f"{stock.symbol} is already on your watchlist")
        account.watchlist = [*account.watchlist, stock.symbol]
        return self._watchlist(account)

    @tool(requires=["trading_logged_in"], consumes={"symbol": "symbol"})
    def remove_from_watchlist(self, symbol: Symbol) -> QuoteList:
        """Remove a stock from the logged-in account's watchlist."""
        account, wanted = self._account(), symbol.strip().upper()
        if wanted not in account.watchlist:
            raise NotFound(f"{wanted} is not on your watchlist (see get_watchlist)")
        account.watchlist = [s for s in account.watchlist if s != wanted]
        return self._watchlist(account)

    @tool(read_only=True, requires=["trading_logged_in"], produces={"symbols": "symbol"})
    def get_watchlist(self) -> QuoteList:
        """Show the logged-in account's watchlist with a current quote for each stock."""
        return self._watchlist(self._account())

    @tool(requires=["trading_logged_in"], consumes={"symbol": "symbol"}, produces={"order_id": "order_id"})
    def place_stock_order(
        self,
        symbol: Symbol,
        side: Annotated[Literal["buy", "sell"], Field(description="'buy' or 'sell'.")],
        quantity: Annotated[int, Field(description="Number of whole shares, at least 1.", ge=1)],
        order_type: Annotated[
            Literal["market", "limit"],
            Field(description="'market' fills now at the current price; 'limit' fills only at limit_price or better."),
        ] = "market",
        limit_price: Annotated[
            float | None, Field(description="USD per share; required for a limit order, omit for a market order.", gt=0)
        ] = None,
    ) -> Order:
        """Place a buy or sell order for the logged-in account. The order starts pending: a market order (only
        while the market is open) fills at once at the current price; a limit order fills at once if the price
        already reaches its limit, otherwise it waits (see advance_market_clock) and reserves the cash or shares.
        Fails on insufficient buying power or when selling more shares than are held and not already for sale."""
        account, stock, now = self._account(), self._stock(symbol), self._now()
        if quantity < 1:
            raise InvalidArgument("quantity must be a whole number of shares, at least 1")
        if order_type == "market":
            if limit_price is not None:
                raise InvalidArgument("a market order takes no limit_price; use order_type='limit' to set a price")
            if not _is_open(now):
                raise PreconditionFailed(
                    f"the market is closed (it opens {_next_open(now).isoformat()}); market orders need an open "
                    "market, so place a limit order to queue it or wait for the open"
                )
        elif limit_price is None or limit_price <= 0:
            raise InvalidArgument("a limit order needs a positive limit_price")
        price = stock.price if limit_price is None else round(limit_price, 2)
        if side == "buy":
            cost, power = _money(price * quantity), self._buying_power(account.username)
            if cost > power:
                raise PreconditionFailed(
                    f"insufficient funds: {quantity} {stock.symbol} at ${price:,.2f} costs ${cost:,.2f} but your "
                    f"buying power is ${power:,.2f}; deposit funds or buy fewer shares"
                )
        else:
            free = self._shares_available(account.username, stock.symbol)
            if quantity > free:
                raise PreconditionFailed(
                    f"you can sell at most {free} shares of {stock.symbol} (shares held minus those in pending sell "
                    "orders); lower the quantity"
                )
        order_id = f"ORD{self.state.next_order_number:05d}"
        self.state.next_order_number += 1  # before the order exists: each state assignment re-runs the validator
        self.state.orders[order_id] = order = Order(
            order_id=order_id,
            owner=account.username,
            symbol=stock.symbol,
            side=side,
            order_type=order_type,
            quantity=quantity,
            limit_price=None if order_type == "market" else price,
            status="pending",
            placed_at=now.isoformat(),
        )
        if _is_open(now) and (order_type == "market" or _crossed(order, stock.price)):
            self._fill(order, stock.price)
        return order.model_copy()

    @tool(read_only=True, requires=["trading_logged_in"], consumes={"order_id": "order_id"})
    def get_order_details(self, order_id: OrderId) -> Order:
        """Get one of the logged-in account's orders: status, prices, quantity and times."""
        return self._order(order_id).model_copy()

    @tool(requires=["trading_logged_in"], consumes={"order_id": "order_id"})
    def cancel_order(self, order_id: OrderId) -> Order:
        """Cancel a pending order of the logged-in account, releasing its reserved cash or shares.
        Filled or already cancelled orders cannot be cancelled."""
        order = self._order(order_id)
        if order.status != "pending":
            raise PreconditionFailed(
                f"order {order_id} is already {order.status}; only pending orders can be cancelled"
            )
        order.status, order.cancelled_at = "cancelled", self.state.clock
        return order.model_copy()

    @tool(read_only=True, requires=["trading_logged_in"], produces={"order_ids": "order_id"})
    def list_orders(
        self,
        status: Annotated[
            Literal["all", "pending", "filled", "cancelled"], Field(description="Only orders with this status.")
        ] = "all",
        symbol: Annotated[str | None, Field(description="Only orders for this ticker symbol; omit for all.")] = None,
    ) -> OrderList:
        """List the logged-in account's orders, oldest first, optionally filtered by status and symbol."""
        me, wanted = self._account().username, symbol.strip().upper() if symbol else None
        orders = [
            o.model_copy()
            for _, o in sorted(self.state.orders.items())
            if o.owner == me and status in ("all", o.status) and wanted in (None, o.symbol)
        ]
        return OrderList(orders=orders, order_ids=[o.order_id for o in orders])

    @tool(read_only=True, requires=["trading_logged_in"], produces={"card_ids": "card_id"})
    def get_account_info(self) -> AccountInfo:
        """Show the logged-in account: cash balance, cash reserved for pending buys, buying power, holdings and
        linked card ids."""
        account = self._account()
        return AccountInfo(
            username=account.username,
            full_name=account.full_name,
            cash_balance=account.cash_balance,
            reserved_for_orders=_reserved_cash(self.state, account.username),
            buying_power=self._buying_power(account.username),
            holdings=self._positions(account),
            card_ids=[c.card_id for c in self._cards(account.username)],
        )

    @tool(read_only=True, requires=["trading_logged_in"])
    def get_portfolio_value(self) -> PortfolioValue:
        """Value the logged-in account's portfolio at current prices: each position, cash and the total."""
        account = self._account()
        positions = self._positions(account)
        holdings_value = _money(sum(p.market_value for p in positions))
        return PortfolioValue(
            cash_balance=account.cash_balance,
            holdings_value=holdings_value,
            total_value=_money(account.cash_balance + holdings_value),
            unrealized_gain=_money(sum(p.unrealized_gain for p in positions)),
            positions=positions,
        )

    @tool(read_only=True, requires=["trading_logged_in"], produces={"card_ids": "card_id"})
    def list_bank_cards(self) -> CardList:
        """List the bank cards linked to the logged-in account, for deposits and withdrawals."""
        cards = [
            CardSummary(**c.model_dump(exclude={"owner", "bank_balance"}), expired=self._expired(c))
            for c in self._cards(self._account().username)
        ]
        return CardList(cards=cards, card_ids=[c.card_id for c in cards])

    @tool(
        requires=["trading_logged_in"], consumes={"card_id": "card_id"}, produces={"transaction_id": "transaction_id"}
    )
    def deposit_funds(self, card_id: CardId, amount: Amount) -> TransferResult:
        """Move cash from a linked bank card into the logged-in account. Fails if the card has expired or its
        bank account does not hold enough money."""
        account, card = self._account(), self._card(card_id)
        amount = self._check_amount(amount)
        if card.bank_balance < amount:
            raise PreconditionFailed(
                f"insufficient funds: {card.bank_name} declined the ${amount:,.2f} transfer from card {card_id}; "
                "try a smaller amount or another card"
            )
        card.bank_balance = _money(card.bank_balance - amount)
        account.cash_balance = _money(account.cash_balance + amount)
        return self._transfer(account, card, "deposit", amount)

    @tool(
        requires=["trading_logged_in"], consumes={"card_id": "card_id"}, produces={"transaction_id": "transaction_id"}
    )
    def withdraw_funds(self, card_id: CardId, amount: Amount) -> TransferResult:
        """Move cash from the logged-in account to a linked bank card. Only buying power (cash not reserved
        for pending buy orders) can be withdrawn; fails if the card has expired."""
        account, card = self._account(), self._card(card_id)
        amount, power = self._check_amount(amount), self._buying_power(account.username)
        if amount > power:
            raise PreconditionFailed(
                f"insufficient funds: you can withdraw at most ${power:,.2f} (cash not reserved for pending orders)"
            )
        account.cash_balance = _money(account.cash_balance - amount)
        card.bank_balance = _money(card.bank_balance + amount)
        return self._transfer(account, card, "withdrawal", amount)

    @tool(read_only=True, requires=["trading_logged_in"], produces={"transaction_ids": "transaction_id"})
    def list_transactions(
        self,
        kind: Annotated[
            Literal["all", "deposit", "withdrawal", "buy", "sell"], Field(description="Only this kind of transaction.")
        ] = "all",
        limit: Annotated[int, Field(description="At most this many, newest first (1 to 100).", ge=1, le=100)] = 20,
    ) -> TransactionList:
        """List the logged-in account's cash transactions (deposits, withdrawals, buys, sells), newest first."""
        me = self._account().username
        found = [
            t.model_copy()
            for _, t in sorted(self.state.transactions.items(), reverse=True)
            if t.owner == me and kind in ("all", t.kind)
        ][: max(limit, 1)]
        return TransactionList(transactions=found, transaction_ids=[t.transaction_id for t in found])

    @tool(read_only=True, requires=["trading_logged_in"], consumes={"transaction_id": "transaction_id"})
    def get_transaction_details(
        self, transaction_id: Annotated[str, Field(description="A transaction id such as 'TXN00002'.")]
    ) -> Transaction:
        """Get one transaction of the logged-in account."""
        txn = self.state.transactions.get(transaction_id)
        if txn is None or txn.owner != self._account().username:
            raise NotFound(f"no transaction {transaction_id!r} in your account (see list_transactions)")
        return txn.model_copy()

    def _now(self) -> datetime:
        return datetime.fromisoformat(self.state.clock)

    def _account(self) -> Account:
        if self.state.current_user is None:
            raise PreconditionFailed("no brokerage account is logged in; call trading_log_in first")
        return self.state.accounts[self.state.current_user]

    def _stock(self, symbol: str) -> Stock:
        stock = self.state.stocks.get(symbol.strip().upper())
        if stock is None:
            raise NotFound(f"unknown symbol {symbol!r}; use search_stock_symbols to find a ticker by company name")
        return stock

    def _order(self, order_id: str) -> Order:
        order = self.state.orders.get(order_id)
        if order is None or order.owner != self._account().username:
            raise NotFound(f"no order {order_id!r} in your account (see list_orders)")
        return order

    def _cards(self, username: str) -> list[BankCard]:
        return [c for _, c in sorted(self.state.cards.items()) if c.owner == username]

    def _card(self, card_id: str) -> BankCard:
        card = self.state.cards.get(card_id)
        if card is None or card.owner != self._account().username:
            raise NotFound(f"no linked card {card_id!r} (see list_bank_cards)")
        if self._expired(card):
            raise PreconditionFailed(f"card {card_id} expired at the end of {card.expiry}; use another linked card")
        return card

    def _expired(self, card: BankCard) -> bool:
        return self.state.clock[:7] > card.expiry

    def _check_amount(self, amount: float) -> float:
        if not 0 < amount <= MAX_TRANSFER or round(amount, 2) == 0:
            raise InvalidArgument(f"amount must be more than $0 and at most ${MAX_TRANSFER:,.0f}")
        return round(amount, 2)

    def _buying_power(self, username: str) -> float:
        return _money(self.state.accounts[username].cash_balance - _reserved_cash(self.state, username))

    def _shares_available(self, username: str, symbol: str) -> int:
        holding = self.state.accounts[username].holdings.get(symbol)
        return (holding.quantity if holding else 0) - _reserved_shares(self.state, username, symbol)

    def _positions(self, account: Account) -> list[Position]:
        positions = []
        for symbol, holding in sorted(account.holdings.items()):
            price = self.state.stocks[symbol].price
            value = _money(price * holding.quantity)
            positions.append(
                Position(
                    symbol=symbol,
                    quantity=holding.quantity,
                    shares_available=self._shares_available(account.username, symbol),
                    average_cost=holding.average_cost,
                    price=price,
                    market_value=value,
                    unrealized_gain=_money(value - holding.average_cost * holding.quantity),
                )
            )
        return positions

    def _watchlist(self, account: Account) -> QuoteList:
        return _quote_list((self.state.stocks[s] for s in account.watchlist), keep_order=True)

    def _move_prices(self, fraction: float) -> None:
        spread = STEP_VOLATILITY * fraction**0.5
        for symbol in sorted(self.state.stocks):
            stock = self.state.stocks[symbol]
            stock.price = max(0.01, round(stock.price * (1 + self.rng.uniform(-spread, spread)), 2))
            stock.volume += round(self.rng.randint(200, 4000) * 100 * fraction)

    def _fill_crossed_orders(self) -> list[str]:
        filled = []
        for order in [o for _, o in sorted(self.state.orders.items()) if o.status == "pending"]:
            price = self.state.stocks[order.symbol].price
            if _crossed(order, price):
                self._fill(order, price)
                filled.append(order.order_id)
        return filled

    def _fill(self, order: Order, price: float) -> None:
        account, value = self.state.accounts[order.owner], _money(price * order.quantity)
        holding = account.holdings.get(order.symbol)
        if order.side == "buy":
            account.cash_balance = _money(account.cash_balance - value)
            if holding is None:
                account.holdings[order.symbol] = Holding(quantity=order.quantity, average_cost=price)
            else:
                total = holding.quantity + order.quantity
                holding.average_cost = _money((holding.average_cost * holding.quantity + value) / total)
                holding.quantity = total
        else:
            assert holding is not None, "sell orders are checked against holdings when placed"
            if holding.quantity == order.quantity:
                del account.holdings[order.symbol]
            else:
                holding.quantity -= order.quantity
            account.cash_balance = _money(account.cash_balance + value)
        order.status, order.fill_price, order.filled_at = "filled", price, self.state.clock
        details = {"symbol": order.symbol, "quantity": order.quantity, "price": price, "order_id": order.order_id}
        self._record(account, order.side, value, **details)

    def _transfer(self, account: Account, card: BankCard, kind: str, amount: float) -> TransferResult:
        txn = self._record(account, kind, amount, card_id=card.card_id)
        return TransferResult(
            transaction_id=txn.transaction_id,
            card_id=card.card_id,
            amount=amount,
            cash_balance=account.cash_balance,
            buying_power=self._buying_power(account.username),
        )

    def _record(self, account: Account, kind: str, amount: float, **details: object) -> Transaction:
        txn_id = f"TXN{self.state.next_transaction_number:05d}"
        self.state.transactions[txn_id] = txn = Transaction.model_validate(
            dict(details, transaction_id=txn_id, owner=account.username, kind=kind, amount=amount)
            | {"timestamp": self.state.clock, "balance_after": account.cash_balance}
        )
        self.state.next_transaction_number += 1
        return txn


def _is_open(moment: datetime) -> bool:
    return moment.weekday() < 5 and MARKET_OPEN <= moment.time() < MARKET_CLOSE


def _status(moment: datetime) -> Literal["open", "closed"]:
    return "open" if _is_open(moment) else "closed"


def _next_open(moment: datetime) -> datetime:
    day = moment.date()
    if moment.weekday() < 5 and moment.time() < MARKET_OPEN:
        return datetime.combine(day, MARKET_OPEN)
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, MARKET_OPEN)


def _crossed(order: Order, price: float) -> bool:
    limit = order.limit_price if order.limit_price is not None else price
    return price <= limit if order.side == "buy" else price >= limit


def _quote(stock: Stock) -> Quote:
    change = _money(stock.price - stock.previous_close)
    return Quote(
        symbol=stock.symbol,
        company_name=stock.company_name,
        sector=stock.sector,
        price=stock.price,
        change=change,
        change_percent=_money(change / stock.previous_close * 100),
        previous_close=stock.previous_close,
        volume=stock.volume,
    )


def _quote_list(stocks, keep_order: bool = False) -> QuoteList:  # type: ignore[no-untyped-def]
    ordered = list(stocks) if keep_order else sorted(stocks, key=lambda s: s.symbol)
    return QuoteList(quotes=[_quote(s) for s in ordered], symbols=[s.symbol for s in ordered])
