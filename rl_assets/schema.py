"""The table contract of DESIGN.md: column names shared by both warehouses and every module."""

OPTIONS_CHAIN_COLUMNS = [
    "underlying", "contract_symbol", "option_type", "strike", "expiration", "dte",
    "bid", "ask", "mid", "last", "volume", "open_interest", "implied_volatility",
    "delta", "gamma", "theta", "vega", "rho", "underlying_price", "quote_time",
]  # fmt: skip
OPTIONS_CHAIN_HISTORY_COLUMNS = [*OPTIONS_CHAIN_COLUMNS, "snapshot_date", "archived_at"]
PRICE_DATA_COLUMNS = ["ticker", "date", "open", "high", "low", "close", "volume"]
TECHNICALS_COLUMNS = [
    "ticker", "date", "close", "rsi_14", "macd", "macd_signal", "macd_hist",
    "sma_20", "sma_50", "sma_200", "bb_upper", "bb_middle", "bb_lower", "atr_14", "adx_14",
    "above_sma_50", "above_sma_200", "ret_1d", "ret_5d", "ret_20d", "realized_vol_20", "volume_ratio_20",
]  # fmt: skip
