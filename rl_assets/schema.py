"""The table contract of DESIGN.md: column names shared by both warehouses and every module."""

OPTIONS_CHAIN_COLUMNS = [
    "underlying", "contract_symbol", "option_type", "strike", "expiration", "dte",
    "bid", "ask", "mid", "last", "volume", "open_interest", "implied_volatility",
    "delta", "gamma", "theta", "vega", "rho", "underlying_price", "quote_time",
]  # fmt: skip
OPTIONS_CHAIN_HISTORY_COLUMNS = [*OPTIONS_CHAIN_COLUMNS, "snapshot_date", "archived_at"]
PRICE_DATA_COLUMNS = ["ticker", "date", "open", "high", "low", "close", "volume"]
