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

    @tool(
        provides=["trading_logged_in"],
        asks=[
            "Log me in as {username}, my password is {password}.",
            "Sign in to my brokerage account as {username} with the password {password}.",
            "Can you log into my trading account? I'm {username} and the password is {password}.",
            "I need to get into my brokerage account; the login is {username} and the password {password}.",
            "Use {username} and the password {password} to sign me in to the brokerage.",
        ],
        answers=[
            "You're logged in to the brokerage as {username}.",
            "Signed in as {username}; your account is ready.",
        ],
    )
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

    @tool(
        requires=["trading_logged_in"],
        asks=[
            "Log me out of my brokerage account.",
            "Sign out of trading, please.",
            "Can you log me out of the brokerage?",
            "I'm done trading for now, sign me out.",
            "End my brokerage session.",
        ],
        answers=[
            "You're logged out of your brokerage account; any pending orders stay open.",
            "Signed out. Nobody is logged in to the brokerage now.",
        ],
    )
    def trading_log_out(self) -> LoginResult:
        """Log the current account out. Pending orders stay open."""
        self._account()
        self.state.current_user = None
        return LoginResult(logged_in=False, username=None)

    @tool(
        read_only=True,
        asks=[
            "Am I logged in to my brokerage account?",
            "Who's signed in to the trading account right now?",
            "Can you check whether I'm still logged in to the brokerage?",
            "I need to know if my brokerage session is still active.",
            "Is anyone logged in to the brokerage at the moment?",
        ],
        answers=[
            "{logged_in?You're logged in|Nobody is logged in to the brokerage}[ as {username}].",
            "{logged_in?Yes, the brokerage session is active|No, no account is signed in}[ (user {username})].",
        ],
    )
    def trading_get_login_status(self) -> LoginResult:
        """Tell whether a brokerage account is logged in, and which."""
        return LoginResult(logged_in=self.state.current_user is not None, username=self.state.current_user)

    @tool(
        read_only=True,
        asks=[
            "Is the stock market open right now?",
            "Can I trade at the moment, or is the market closed?",
            "What time is it on the market, and when does it open or close?",
            "I need to know whether the market is open.",
            "Check the market hours for me.",
        ],
        answers=[
            "The market is {status} (it's {weekday}, {current_time})[; it closes at {next_close}][; it next"
            " opens at {next_open}].",
            "Right now the market is {status}. Regular hours are {trading_hours}[, and it reopens at {next_open}].",
        ],
    )
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

    @tool(
        produces={"filled_order_ids": "order_id"},
        asks=[
            "Let {minutes} min pass on the market.",
            "Fast-forward market time by {minutes} minutes.",
            "Can you skip ahead {minutes} min and see what happens?",
            "I want to wait {minutes} min for my orders to have a chance to fill.",
            "Move the market clock forward {minutes} min.",
        ],
        answers=[
            "It's now {current_time} and the market is {status}. Orders filled meanwhile: {filled_order_ids}.",
            "Market time moved {@minutes} min to {current_time}; the market is {status}, and {filled_order_ids#}"
            " pending orders filled.",
        ],
    )
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

    @tool(
        read_only=True,
        consumes={"symbol": "symbol"},
        asks=[
            "What's {symbol} trading at?",
            "How is {symbol} doing today?",
            "Can you get me a quote for {symbol}?",
            "I need the current price of {symbol}.",
            "Look up the latest stock price for {symbol}.",
            "(Give me|Get me|Show me|Pull up) (a quote|the latest quote|the current price|the price) (for|on) "
            "{symbol}( right now| today| please|).",
            "(What is|What's|How much is) {symbol} (trading at|going for|worth) (right now|today|at the moment)?",
        ],
        answers=[
            "{company_name} ({symbol}) is at ${price}, a change of {change_percent}% since the previous close.",
            "{symbol} last traded at ${price} ({change} USD on the day, volume {volume}).",
        ],
    )
    def get_stock_info(self, symbol: Symbol) -> Quote:
        """Get a stock's current quote: company, sector, price, change since the previous close and volume."""
        return _quote(self._stock(symbol))

    @tool(
        read_only=True,
        produces={"symbols": "symbol"},
        asks=[
            "What's the ticker for {query}?",
            'Look for stocks matching "{query}".',
            "Can you look up the stock symbol of {query}?",
            "I need the ticker symbol for {query}.",
            'Which companies have "{query}" in their name or ticker?',
            "(Find|Look up|Search for|Show me) (the ticker|the stock symbol|the symbol) (for|of) {query}( please| "
            "for me|).",
            "(What|Which) (ticker|stock symbol|symbol) does {query} (trade under|use|have)?",
        ],
        answers=[
            'The search for "{@query}" turned up {symbols}.',
            'Searching for "{@query}" gives {symbols}.',
        ],
    )
    def search_stock_symbols(
        self, query: Annotated[str, Field(description="Part of a company name or ticker, e.g. 'apple'.", min_length=1)]
    ) -> QuoteList:
        """Find stocks whose company name or ticker symbol contains the text (case-insensitive)."""
        needle = query.strip().lower()
        if not needle:
            raise InvalidArgument("query must not be blank")
        return _quote_list(s for s in self.state.stocks.values() if needle in f"{s.symbol} {s.company_name}".lower())

    @tool(
        read_only=True,
        produces={"symbols": "symbol"},
        asks=[
            "Show me the top[ {limit}] market movers today[, {direction} only].",
            "Give me the[ {limit}] biggest movers since the last close[, just the {direction}].",
            "What are today's top[ {limit}] movers[ among the {direction}]?",
            "I'd like to see which stocks moved most today[, {direction} only][, {limit} of them].",
            "Can you list the[ {limit}] stocks with the biggest moves today[, {direction} only]?",
            "(Show me|List|Give me|Pull up) the[ {limit}] (stocks that moved most|biggest movers|top movers) "
            "(today|since the last close|this session)[, {direction} only].",
            "(Which|What) stocks (moved the most|have moved most|are the biggest movers) (today|since the last "
            "close|this session)[, {direction} only]?",
        ],
        answers=[
            "Today's top movers[ ({@direction})]: {symbols}.",
            "The {quotes#} biggest movers[ among the {@direction}] are {symbols}.",
        ],
    )
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

    @tool(
        requires=["trading_logged_in"],
        consumes={"symbol": "symbol"},
        asks=[
            "Put {symbol} on my watchlist.",
            "Can you stick {symbol} on my watchlist?",
            "I want to keep an eye on {symbol}.",
            "Start watching {symbol} for me.",
            "Track {symbol} in my watchlist, please.",
        ],
        answers=[
            "Your watchlist now includes {@symbol} and holds {symbols#} stocks: {symbols}.",
            "Your watchlist now has {symbols}.",
        ],
    )
    def add_to_watchlist(self, symbol: Symbol) -> QuoteList:
        """Add a stock to the logged-in account's watchlist. Fails if it is already there."""
        account, stock = self._account(), self._stock(symbol)
        if stock.symbol in account.watchlist:
            raise InvalidArgument(f"{stock.symbol} is already on your watchlist")
        account.watchlist = [*account.watchlist, stock.symbol]
        return self._watchlist(account)

    @tool(
        requires=["trading_logged_in"],
        consumes={"symbol": "symbol"},
        asks=[
            "Take {symbol} off my watchlist.",
            "Remove {symbol} from my watchlist.",
            "I don't want to watch {symbol} anymore.",
            "Can you drop {symbol} from my watchlist?",
            "Stop tracking {symbol} for me.",
            "(Remove|Take|Drop) {symbol} (from|off) my watchlist( for me| now| please|).",
            "I (don't want to|no longer want to) (watch|track|follow) {symbol}( anymore| on my watchlist|), so "
            "(remove|drop) it.",
        ],
        answers=[
            "I took {@symbol} off your watchlist; {symbols#} stocks remain on it.",
            "Removed. Still on your watchlist: {symbols}.",
        ],
    )
    def remove_from_watchlist(self, symbol: Symbol) -> QuoteList:
        """Remove a stock from the logged-in account's watchlist."""
        account, wanted = self._account(), symbol.strip().upper()
        if wanted not in account.watchlist:
            raise NotFound(f"{wanted} is not on your watchlist (see get_watchlist)")
        account.watchlist = [s for s in account.watchlist if s != wanted]
        return self._watchlist(account)

    @tool(
        read_only=True,
        requires=["trading_logged_in"],
        produces={"symbols": "symbol"},
        asks=[
            "Show me my watchlist.",
            "What's on my watchlist?",
            "How are the stocks I'm watching doing?",
            "Can you pull up my watchlist with current prices?",
            "I need a look at the stocks I'm tracking.",
            "(Show me|Pull up|Bring up|Give me) (my watchlist|the stocks I'm watching|the list of stocks I follow)(, "
            "with prices| and how they're doing|).",
            "How (is my watchlist|are the stocks on my watchlist|are the stocks I'm tracking) doing (today|right "
            "now|at the moment)?",
            "(Show me|Pull up|Bring up|Give me) (my watchlist|the stocks I'm watching|the list of stocks I follow)(, "
            "with prices| and how they're doing|).",
            "How (is my watchlist|are the stocks on my watchlist|are the stocks I'm tracking) doing (today|right "
            "now|at the moment)?",
        ],
        answers=[
            "Your watchlist has {quotes#} stocks: {symbols}.",
            "You're watching {symbols}.",
        ],
    )
    def get_watchlist(self) -> QuoteList:
        """Show the logged-in account's watchlist with a current quote for each stock."""
        return self._watchlist(self._account())

    @tool(
        requires=["trading_logged_in"],
        consumes={"symbol": "symbol"},
        produces={"order_id": "order_id"},
        asks=[
            "{side} {quantity} {symbol}[ with a {order_type} order][ at ${limit_price} or better].",
            "Can you place a {quantity}-share {side} order for {symbol}[ ({order_type} order)][ with a"
            " ${limit_price} limit]?",
            "I want to {side} {symbol} shares, {quantity} in total[, as a {order_type} order][, at no worse than"
            " ${limit_price} a share].",
            "Put in an order to {side} {quantity} of {symbol}[ ({order_type})][ at ${limit_price}].",
            "Let's {side} {quantity} {symbol}[, make it a {order_type} order][ with the limit at ${limit_price}].",
        ],
        answers=[
            "Order {order_id} to {side} {quantity} {symbol} is {status}[ at ${fill_price} a share].",
            "I placed a {order_type} order to {side} {quantity} {symbol} ({order_id}); it is {status}[, limit"
            " ${limit_price}].",
        ],
    )
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

    @tool(
        read_only=True,
        requires=["trading_logged_in"],
        consumes={"order_id": "order_id"},
        asks=[
            "What's the status of {order_id}?",
            "Did {order_id} fill yet?",
            "Can you show me the details of {order_id}?",
            "I need the full details for {order_id}.",
            "What's going on with {order_id}?",
        ],
        answers=[
            "Order {order_id} is {status}: {side} {quantity} {symbol}[, filled at ${fill_price} a share].",
            "{order_id} is a {order_type} order to {side} {quantity} {symbol}, placed {placed_at}; it is {status}.",
        ],
    )
    def get_order_details(self, order_id: OrderId) -> Order:
        """Get one of the logged-in account's orders: status, prices, quantity and times."""
        return self._order(order_id).model_copy()

    @tool(
        requires=["trading_logged_in"],
        consumes={"order_id": "order_id"},
        asks=[
            "Cancel {order_id}.",
            "Can you call off {order_id}?",
            "I changed my mind, please cancel {order_id}.",
            "Pull {order_id} before it fills.",
            "I don't want {order_id} to go through; cancel it.",
        ],
        answers=[
            "Order {order_id} ({side} {quantity} {symbol}) is {status}.",
            "{order_id} is {status}, so the cash or shares it held back are free again.",
        ],
    )
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

    @tool(
        read_only=True,
        requires=["trading_logged_in"],
        produces={"order_ids": "order_id"},
        asks=[
            "Show me[ {status}] orders on my account[ for {symbol}].",
            "Can you pull up[ {status}] orders I've placed[ for {symbol}]?",
            "I need to see[ {status}] orders in my brokerage account[ for {symbol}].",
            "Give me a list of[ {status}] orders I've put in[ for {symbol}].",
            "List[ {status}] orders[ for {symbol}] on my trading account.",
            "(Show me|List|Pull up) (all|every one of) the[ {status}] orders (on my account|I've placed|in my "
            "brokerage account)[ for {symbol}].",
            "(What|Which)[ {status}] orders (do I have|have I placed|are on my account)[ for {symbol}]?",
            "(Show me|List|Pull up) (all|every one of) the[ {status}] orders (on my account|I've placed|in my "
            "brokerage account)[ for {symbol}].",
            "(What|Which)[ {status}] orders (do I have|have I placed|are on my account)[ for {symbol}]?",
        ],
        answers=[
            "You have {orders#} matching orders[: {order_ids}].",
            "I found {orders#} orders[ for {@symbol}][: {order_ids}].",
        ],
    )
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

    @tool(
        read_only=True,
        requires=["trading_logged_in"],
        produces={"card_ids": "card_id"},
        asks=[
            "What's my account balance?",
            "Show me my brokerage account details.",
            "How much buying power do I have?",
            "Can you give me an overview of my trading account?",
            "I need to know how much cash I have in my brokerage account.",
        ],
        answers=[
            "Your cash balance is ${cash_balance}, with ${reserved_for_orders} reserved for pending orders, so"
            " your buying power is ${buying_power}.",
            "{full_name}, you hold {holdings#} positions and ${cash_balance} in cash; your buying power is"
            " ${buying_power} and your linked cards are {card_ids}.",
        ],
    )
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

    @tool(
        read_only=True,
        requires=["trading_logged_in"],
        asks=[
            "What's my portfolio worth?",
            "How much is my portfolio worth at today's prices?",
            "Can you value my holdings for me?",
            "I need the total value of my investments, cash included.",
            "Am I up or down on my stocks?",
        ],
        answers=[
            "Your portfolio is worth ${total_value}: ${holdings_value} in {positions#} positions plus"
            " ${cash_balance} in cash.",
            "Total value ${total_value}; your unrealized gain or loss on the holdings is {unrealized_gain} USD.",
        ],
    )
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

    @tool(
        read_only=True,
        requires=["trading_logged_in"],
        produces={"card_ids": "card_id"},
        asks=[
            "Which bank cards are linked to my brokerage account?",
            "Show me my linked cards.",
            "What cards can I use for deposits and withdrawals?",
            "Can you show me the bank cards hooked up to my trading account?",
            "I need to see the cards I've connected to my brokerage.",
            "(Show me|List|Pull up|Give me) (the|all the) (bank cards|cards|payment cards) (linked to|connected "
            "to|on) my (brokerage|trading) account.",
            "(Which|What) (bank cards|cards) (have I linked|can I deposit from|are connected) (to my brokerage|for "
            "my trading account|to my account)?",
            "(Show me|List|Pull up|Give me) (the|all the) (bank cards|cards|payment cards) (linked to|connected "
            "to|on) my (brokerage|trading) account.",
            "(Which|What) (bank cards|cards) (have I linked|can I deposit from|are connected) (to my brokerage|for "
            "my trading account|to my account)?",
        ],
        answers=[
            "You have {cards#} linked cards[: {card_ids}].",
            "Your linked cards are {card_ids}.",
        ],
    )
    def list_bank_cards(self) -> CardList:
        """List the bank cards linked to the logged-in account, for deposits and withdrawals."""
        cards = [
            CardSummary(**c.model_dump(exclude={"owner", "bank_balance"}), expired=self._expired(c))
            for c in self._cards(self._account().username)
        ]
        return CardList(cards=cards, card_ids=[c.card_id for c in cards])

    @tool(
        requires=["trading_logged_in"],
        consumes={"card_id": "card_id"},
        produces={"transaction_id": "transaction_id"},
        asks=[
            "Deposit ${amount} from {card_id}.",
            "Move ${amount} from {card_id} into my brokerage account.",
            "Can you transfer ${amount} in from {card_id}?",
            "I want to fund my trading account with ${amount} from {card_id}.",
            "Put ${amount} into my account using {card_id}.",
        ],
        answers=[
            "Deposited ${amount} from {card_id} (transaction {transaction_id}); your cash balance is now"
            " ${cash_balance}.",
            "The ${amount} is in your account, and your buying power is now ${buying_power}.",
        ],
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
        requires=["trading_logged_in"],
        consumes={"card_id": "card_id"},
        produces={"transaction_id": "transaction_id"},
        asks=[
            "Withdraw ${amount} to {card_id}.",
            "Send ${amount} from my brokerage account back to {card_id}.",
            "Can you move ${amount} out of my trading account onto {card_id}?",
            "I need ${amount} cashed out to {card_id}.",
            "Transfer ${amount} of my cash to {card_id}.",
        ],
        answers=[
            "Withdrew ${amount} to {card_id} (transaction {transaction_id}); ${cash_balance} in cash remains.",
            "The ${amount} is on its way to {card_id}; your buying power is now ${buying_power}.",
        ],
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

    @tool(
        read_only=True,
        requires=["trading_logged_in"],
        produces={"transaction_ids": "transaction_id"},
        asks=[
            "Show me[ {kind}] transactions on my account[, the latest {limit}].",
            "Can you list[ {kind}] transactions in my brokerage account[, the {limit} most recent]?",
            "I need to see[ {kind}] transactions on my account[, up to {limit} of them].",
            "Pull up[ {kind}] activity on my trading account[, the last {limit} entries].",
            "Go through[ {kind}] transactions on my account[ and show me the latest {limit}].",
        ],
        answers=[
            "I found {transactions#} matching transactions, newest first[: {transaction_ids}].",
            "Your latest transactions, newest first: {transaction_ids}.",
        ],
    )
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

    @tool(
        read_only=True,
        requires=["trading_logged_in"],
        consumes={"transaction_id": "transaction_id"},
        asks=[
            "What was {transaction_id}?",
            "Show me the details of {transaction_id}.",
            "Can you look up {transaction_id} for me?",
            "I need to know what {transaction_id} was for and how much it moved.",
            "How much was {transaction_id}, and when did it happen?",
        ],
        answers=[
            "Transaction {transaction_id} was a {kind} of ${amount} on {timestamp}[ ({quantity} {symbol} at"
            " ${price})]; your balance after it was ${balance_after}.",
            "{transaction_id}: a {kind} of ${amount}[ from order {order_id}][ with card {card_id}], at {timestamp}.",
        ],
    )
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
