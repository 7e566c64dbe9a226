"""A stock brokerage: accounts, quotes on a logical market clock, watchlists, orders and fund transfers."""

from servers.envs.trading.state import Account, BankCard, Holding, Order, Stock, TradingState, Transaction
from servers.envs.trading.tools import Trading

__all__ = ["Account", "BankCard", "Holding", "Order", "Stock", "Trading", "TradingState", "Transaction"]
