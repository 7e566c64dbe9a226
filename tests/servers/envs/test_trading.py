"""Trading: every tool's behaviour, the order lifecycle, failure modes and dependency chains."""

import pytest

from servers import InvalidArgument, NotFound, PreconditionFailed, create_sandbox, scenario_names
from tests.conftest import refused, run

SCENARIOS = ["day_trader", "default", "long_term_investor", "market_closed_night", "nearly_broke"]


@pytest.fixture
def box(sandbox_of):
    return sandbox_of("trading", "default")


@pytest.fixture
def john(box):
    run(box, "trading_log_in", username="jsmith", password="Tr4de!2026")
    return box


def trading(box):
    return box.state()["trading"]


def test_every_scenario_loads():
    assert sorted(scenario_names("trading")) == SCENARIOS
    for scenario in SCENARIOS:
        assert trading(create_sandbox("trading", scenario))["stocks"]


def test_login_status_and_logout(box):
    assert run(box, "trading_get_login_status").logged_in is False
    status = run(box, "trading_log_in", username="jsmith", password="Tr4de!2026")
    assert status.logged_in and trading(box)["current_user"] == "jsmith"
    assert run(box, "trading_get_login_status").username == "jsmith"
    refused(box, "trading_log_in", PreconditionFailed, username="mgarcia", password="Maria#Inv88")
    assert run(box, "trading_log_out").logged_in is False
    assert trading(box)["current_user"] is None
    refused(box, "trading_log_out", PreconditionFailed)


def test_login_failures(box):
    refused(box, "trading_log_in", NotFound, username="nobody", password="x")
    assert "wrong password" in refused(box, "trading_log_in", InvalidArgument, username="jsmith", password="guess")


def test_every_account_tool_needs_login(box):
    for tool_name, arguments in [
        ("add_to_watchlist", {"symbol": "KO"}),
        ("remove_from_watchlist", {"symbol": "AAPL"}),
        ("get_watchlist", {}),
        ("place_stock_order", {"symbol": "AAPL", "side": "buy", "quantity": 1}),
        ("get_order_details", {"order_id": "ORD00001"}),
        ("cancel_order", {"order_id": "ORD00009"}),
        ("list_orders", {}),
        ("get_account_info", {}),
        ("get_portfolio_value", {}),
        ("list_bank_cards", {}),
        ("deposit_funds", {"card_id": "CARD01", "amount": 100.0}),
        ("withdraw_funds", {"card_id": "CARD01", "amount": 100.0}),
        ("list_transactions", {}),
        ("get_transaction_details", {"transaction_id": "TXN00001"}),
    ]:
        assert "trading_log_in" in refused(box, tool_name, PreconditionFailed, **arguments)


def test_market_status_open_and_closed(box, sandbox_of):
    status = run(box, "get_market_status")
    assert (status.status, status.weekday, status.next_close) == ("open", "Monday", "2026-03-02T16:00:00")
    night = run(sandbox_of("trading", "market_closed_night"), "get_market_status")
    assert (night.status, night.weekday, night.next_open) == ("closed", "Friday", "2026-03-09T09:30:00")


def test_quotes_search_and_movers(box):
    quote = run(box, "get_stock_info", symbol="aapl")
    assert (quote.symbol, quote.price, quote.change, quote.change_percent) == ("AAPL", 231.42, 1.55, 0.67)
    refused(box, "get_stock_info", NotFound, symbol="ZZZZ")
    assert run(box, "search_stock_symbols", query="Apple").symbols == ["AAPL"]
    assert run(box, "search_stock_symbols", query="inc").symbols[:2] == ["AAPL", "AMZN"]
    assert run(box, "search_stock_symbols", query="gold mining").symbols == []
    refused(box, "search_stock_symbols", InvalidArgument, query="   ")
    gainers = run(box, "get_market_movers", direction="gainers", limit=3)
    assert gainers.symbols == ["NVDA", "AMZN", "META"]
    assert run(box, "get_market_movers", direction="losers", limit=1).symbols == ["TSLA"]
    refused(box, "get_market_movers", InvalidArgument, limit=0)


def test_watchlist(john):
    assert run(john, "get_watchlist").symbols == ["AAPL", "TSLA", "AMZN"]
    added = run(john, "add_to_watchlist", symbol="nflx")
    assert added.symbols[-1] == "NFLX" and added.quotes[-1].price == 884.15
    assert trading(john)["accounts"]["jsmith"]["watchlist"] == ["AAPL", "TSLA", "AMZN", "NFLX"]
    refused(john, "add_to_watchlist", InvalidArgument, symbol="AAPL")
    refused(john, "add_to_watchlist", NotFound, symbol="ZZZZ")
    assert run(john, "remove_from_watchlist", symbol="TSLA").symbols == ["AAPL", "AMZN", "NFLX"]
    refused(john, "remove_from_watchlist", NotFound, symbol="TSLA")


def test_account_info_and_portfolio(john):
    info = run(john, "get_account_info")
    assert (info.cash_balance, info.reserved_for_orders, info.buying_power) == (9266.75, 2400.0, 6866.75)
    assert [p.symbol for p in info.holdings] == ["AAPL", "MSFT", "NVDA"] and info.card_ids == ["CARD01", "CARD02"]
    portfolio = run(john, "get_portfolio_value")
    assert portfolio.holdings_value == 20 * 231.42 + 10 * 412.65 + 10 * 134.56
    assert portfolio.total_value == round(9266.75 + portfolio.holdings_value, 2)
    assert portfolio.positions[0].unrealized_gain == round(20 * (231.42 - 228.40), 2)


def test_search_symbol_feeds_market_buy(john):
    symbol = run(john, "search_stock_symbols", query="coca-cola").symbols[0]
    order = run(john, "place_stock_order", symbol=symbol, side="buy", quantity=10)
    assert (order.order_id, order.status, order.fill_price) == ("ORD00011", "filled", 64.28)
    state = trading(john)
    assert state["accounts"]["jsmith"]["holdings"]["KO"] == {"quantity": 10, "average_cost": 64.28}
    assert state["accounts"]["jsmith"]["cash_balance"] == round(9266.75 - 642.80, 2)
    txn = state["transactions"]["TXN00012"]
    assert (txn["kind"], txn["order_id"], txn["amount"], txn["balance_after"]) == ("buy", "ORD00011", 642.8, 8623.95)
    assert run(john, "get_order_details", order_id=order.order_id).status == "filled"
    assert "already filled" in refused(john, "cancel_order", PreconditionFailed, order_id=order.order_id)


def test_buy_more_averages_cost_and_sell_all_removes_position(john):
    run(john, "place_stock_order", symbol="MSFT", side="buy", quantity=10)
    assert trading(john)["accounts"]["jsmith"]["holdings"]["MSFT"] == {"quantity": 20, "average_cost": 408.88}
    sold = run(john, "place_stock_order", symbol="AAPL", side="sell", quantity=20)
    assert sold.status == "filled" and "AAPL" not in trading(john)["accounts"]["jsmith"]["holdings"]
    assert trading(john)["transactions"]["TXN00013"]["kind"] == "sell"


def test_limit_order_lifecycle_pending_then_cancelled(john):
    order = run(john, "place_stock_order", symbol="AMZN", side="buy", quantity=10, order_type="limit", limit_price=180)
    assert (order.status, order.limit_price, order.fill_price) == ("pending", 180.0, None)
    assert run(john, "get_account_info").reserved_for_orders == 2400.0 + 1800.0
    assert order.order_id in run(john, "list_orders", status="pending").order_ids
    cancelled = run(john, "cancel_order", order_id=order.order_id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at == "2026-03-02T10:30:00"
    assert trading(john)["orders"][order.order_id]["status"] == "cancelled"
    assert run(john, "get_account_info").reserved_for_orders == 2400.0
    assert "already cancelled" in refused(john, "cancel_order", PreconditionFailed, order_id=order.order_id)


def test_marketable_limit_order_fills_at_once(john):
    order = run(john, "place_stock_order", symbol="NVDA", side="sell", quantity=5, order_type="limit", limit_price=130)
    assert (order.status, order.fill_price, order.limit_price) == ("filled", 134.56, 130.0)


def test_list_orders_filters(john):
    assert run(john, "list_orders").order_ids == [
        "ORD00001",
        "ORD00003",
        "ORD00004",
        "ORD00006",
        "ORD00008",
        "ORD00009",
    ]
    assert run(john, "list_orders", status="cancelled").order_ids == ["ORD00006"]
    assert run(john, "list_orders", status="filled", symbol="nvda").order_ids == ["ORD00004", "ORD00008"]
    refused(john, "get_order_details", NotFound, order_id="ORD00010")  # mgarcia's order
    refused(john, "cancel_order", NotFound, order_id="ORD09999")


def test_list_orders_feeds_cancel(john):
    pending = run(john, "list_orders", status="pending").order_ids
    assert pending == ["ORD00009"]
    run(john, "cancel_order", order_id=pending[0])
    assert run(john, "get_account_info").buying_power == 9266.75


def test_order_failures(john):
    refused(john, "place_stock_order", NotFound, symbol="ZZZZ", side="buy", quantity=1)
    refused(john, "place_stock_order", InvalidArgument, symbol="AAPL", side="buy", quantity=0)
    refused(john, "place_stock_order", InvalidArgument, symbol="AAPL", side="buy", quantity=-3)
    refused(john, "place_stock_order", InvalidArgument, symbol="AAPL", side="buy", quantity=1, limit_price=200)
    refused(john, "place_stock_order", InvalidArgument, symbol="AAPL", side="buy", quantity=1, order_type="limit")
    message = refused(john, "place_stock_order", PreconditionFailed, symbol="META", side="buy", quantity=12)
    assert "insufficient funds" in message and "6,866.75" in message
    refused(john, "place_stock_order", PreconditionFailed, symbol="KO", side="sell", quantity=1)
    refused(john, "place_stock_order", PreconditionFailed, symbol="AAPL", side="sell", quantity=21)


def test_pending_sell_reserves_shares(john):
    run(john, "place_stock_order", symbol="AAPL", side="sell", quantity=15, order_type="limit", limit_price=250)
    assert run(john, "get_account_info").holdings[0].shares_available == 5
    assert "at most 5" in refused(john, "place_stock_order", PreconditionFailed, symbol="AAPL", side="sell", quantity=6)


def test_market_closed_queues_limit_orders_that_fill_at_the_open(sandbox_of):
    box = sandbox_of("trading", "market_closed_night")
    run(box, "trading_log_in", username="lchen", password="Lucy.Chen#77")
    message = refused(box, "place_stock_order", PreconditionFailed, symbol="DIS", side="buy", quantity=1)
    assert "market is closed" in message and "2026-03-09T09:30:00" in message
    order = run(box, "place_stock_order", symbol="KO", side="buy", quantity=10, order_type="limit", limit_price=70)
    assert order.status == "pending"  # marketable, but nothing trades until the open
    weekend = run(box, "advance_market_clock", minutes=24 * 60)
    assert (weekend.status, weekend.filled_order_ids) == ("closed", [])
    assert trading(box)["stocks"]["KO"]["price"] == 64.28
    opening = run(box, "advance_market_clock", minutes=2 * 24 * 60)
    assert opening.current_time == "2026-03-09T21:40:00" and order.order_id in opening.filled_order_ids
    details = run(box, "get_order_details", order_id=order.order_id)
    assert details.status == "filled" and details.fill_price <= 70 and details.filled_at == "2026-03-09T10:00:00"
    assert trading(box)["accounts"]["lchen"]["holdings"]["KO"]["quantity"] == 10


def test_clock_moves_prices_and_fills_crossed_orders(sandbox_of):
    box = sandbox_of("trading", "day_trader")
    before = trading(box)
    result = run(box, "advance_market_clock", minutes=120)
    assert result.current_time == "2026-03-05T13:20:00" and result.filled_order_ids
    after = trading(box)
    assert after["stocks"]["NVDA"]["price"] != before["stocks"]["NVDA"]["price"]
    assert after["stocks"]["NVDA"]["volume"] > before["stocks"]["NVDA"]["volume"]
    for order_id in result.filled_order_ids:
        order = run(box, "get_order_details", order_id=order_id)
        assert order.status == "filled" and order.filled_at <= "2026-03-05T13:20:00"
        assert order.fill_price <= order.limit_price if order.side == "buy" else order.fill_price >= order.limit_price
    filled_txns = run(box, "list_transactions", limit=len(result.filled_order_ids)).transactions
    assert {t.order_id for t in filled_txns} == set(result.filled_order_ids)
    refused(box, "advance_market_clock", InvalidArgument, minutes=0)


def test_new_day_resets_the_session(box):
    price = run(box, "advance_market_clock", minutes=14 * 60).current_time
    assert price == "2026-03-03T00:30:00"
    state = trading(box)["stocks"]["AAPL"]
    assert state["previous_close"] == state["price"] and state["volume"] == 0


def test_cards_feed_deposit_and_transaction_details(john):
    cards = run(john, "list_bank_cards")
    assert cards.card_ids == ["CARD01", "CARD02"] and cards.cards[0].last_four == "4821"
    deposit = run(john, "deposit_funds", card_id=cards.card_ids[0], amount=1500)
    assert (deposit.transaction_id, deposit.cash_balance, deposit.buying_power) == ("TXN00012", 10766.75, 8366.75)
    assert trading(john)["cards"]["CARD01"]["bank_balance"] == 17000.0
    txn = run(john, "get_transaction_details", transaction_id=deposit.transaction_id)
    assert (txn.kind, txn.card_id, txn.amount, txn.balance_after) == ("deposit", "CARD01", 1500.0, 10766.75)


def test_withdraw_and_transaction_history(john):
    card_id = run(john, "get_account_info").card_ids[1]
    withdrawal = run(john, "withdraw_funds", card_id=card_id, amount=800.25)
    assert withdrawal.cash_balance == 8466.5 and trading(john)["cards"]["CARD02"]["bank_balance"] == 7000.25
    history = run(john, "list_transactions")
    assert history.transaction_ids[:2] == [withdrawal.transaction_id, "TXN00011"]
    assert run(john, "list_transactions", kind="withdrawal").transaction_ids == [withdrawal.transaction_id, "TXN00011"]
    assert run(john, "list_transactions", kind="buy", limit=2).transaction_ids == ["TXN00006", "TXN00005"]
    refused(john, "get_transaction_details", NotFound, transaction_id="TXN00003")  # mgarcia's


def test_transfer_failures(john):
    assert "insufficient funds" in refused(john, "withdraw_funds", PreconditionFailed, card_id="CARD01", amount=7000)
    assert "declined" in refused(john, "deposit_funds", PreconditionFailed, card_id="CARD02", amount=6200.01)
    refused(john, "deposit_funds", NotFound, card_id="CARD03", amount=10)  # mgarcia's card
    refused(john, "deposit_funds", InvalidArgument, card_id="CARD01", amount=0)
    refused(john, "withdraw_funds", InvalidArgument, card_id="CARD01", amount=-5)
    refused(john, "deposit_funds", InvalidArgument, card_id="CARD01", amount=300000)


def test_nearly_broke_account(sandbox_of):
    box = sandbox_of("trading", "nearly_broke")
    run(box, "trading_log_in", username="sam.rivera", password="Sammy2026!")
    assert [card.expired for card in run(box, "list_bank_cards").cards] == [False, True]
    assert "expired" in refused(box, "deposit_funds", PreconditionFailed, card_id="CARD02", amount=50)
    refused(box, "deposit_funds", PreconditionFailed, card_id="CARD01", amount=100)
    refused(box, "place_stock_order", PreconditionFailed, symbol="AAPL", side="buy", quantity=1)
    order = run(box, "place_stock_order", symbol="F", side="buy", quantity=4)
    assert order.status == "filled" and run(box, "get_account_info").cash_balance == round(42.17 - 40.48, 2)


def test_logged_in_day_trader_has_many_pending_orders(sandbox_of):
    box = sandbox_of("trading", "day_trader")
    assert run(box, "trading_get_login_status").username == "kai.tanaka"
    assert len(run(box, "list_orders", status="pending").order_ids) == 14
    info = run(box, "get_account_info")
    assert info.buying_power == round(info.cash_balance - info.reserved_for_orders, 2) < info.cash_balance


def test_determinism_and_seeds():
    def play(seed):
        box = create_sandbox("trading", "day_trader", seed)
        run(box, "place_stock_order", symbol="AAPL", side="buy", quantity=5)
        run(box, "advance_market_clock", minutes=390)
        return box

    assert play(1).state_hash() == play(1).state_hash()
    assert trading(play(1))["stocks"] != trading(play(2))["stocks"]
