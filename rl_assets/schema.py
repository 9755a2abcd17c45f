"""The table contract of docs/design.md: column names shared by both warehouses and every module."""

OPTIONS_CHAIN_COLUMNS = [
    "underlying", "contract_symbol", "option_type", "strike", "expiration", "dte",
    "bid", "ask", "mid", "last", "volume", "open_interest", "implied_volatility",
    "delta", "gamma", "theta", "vega", "rho", "underlying_price", "quote_time",
]  # fmt: skip
# The source row as JSON, and where the IV and greeks came from (rl_assets.formats.select).
PROVENANCE_COLUMNS = ["source_row", "iv_source", "greeks_source"]
OPTIONS_CHAIN_HISTORY_COLUMNS = [*OPTIONS_CHAIN_COLUMNS, "snapshot_date", "archived_at", *PROVENANCE_COLUMNS]
# close_only: a bar built from the archived chain's underlying price (archive.write_prices_from_chain),
# with open/high/low/volume NULL; FALSE for real OHLCV bars.
PRICE_DATA_COLUMNS = ["ticker", "date", "open", "high", "low", "close", "volume", "close_only"]
TECHNICALS_COLUMNS = [
    "ticker", "date", "close", "rsi_14", "macd", "macd_signal", "macd_hist",
    "sma_20", "sma_50", "sma_200", "bb_upper", "bb_middle", "bb_lower", "atr_14", "adx_14",
    "above_sma_50", "above_sma_200", "ret_1d", "ret_5d", "ret_20d", "realized_vol_20", "volume_ratio_20",
]  # fmt: skip

# rl_state: what the agent can see at T's close. The option's own features, then the underlying's.
CONTRACT_FEATURES = [
    "is_call", "dte", "moneyness", "log_moneyness", "spread_pct", "intrinsic_pct", "leverage",
    "theta_pct", "implied_volatility", "delta", "gamma", "theta", "vega", "rho",
    "log_volume", "log_open_interest",
]  # fmt: skip
TECHNICAL_FEATURES = [
    "rsi_14", "adx_14", "above_sma_50", "above_sma_200", "ret_1d", "ret_5d", "ret_20d",
    "realized_vol_20", "volume_ratio_20", "close_to_sma_20", "close_to_sma_50", "close_to_sma_200",
    "bb_position", "atr_pct", "macd_hist_pct", "iv_minus_realized_vol",
]  # fmt: skip
RL_STATE_COLUMNS = [
    "snapshot_date", "contract_symbol", "underlying", "option_type", "strike", "expiration",
    "bid", "ask", "mid", "volume", "open_interest", "underlying_price", "entry_price",
    "quote_time", "technicals_date",
    "is_call", "dte", "moneyness", "log_moneyness", "spread_pct", "intrinsic_pct", "leverage",
    "theta_pct", "implied_volatility", "delta", "gamma", "theta", "vega", "rho",
    "log_volume", "log_open_interest",
    "rsi_14", "macd", "macd_signal", "macd_hist", "sma_20", "sma_50", "sma_200",
    "bb_upper", "bb_middle", "bb_lower", "atr_14", "adx_14", "above_sma_50", "above_sma_200",
    "ret_1d", "ret_5d", "ret_20d", "realized_vol_20", "volume_ratio_20",
    "close_to_sma_20", "close_to_sma_50", "close_to_sma_200", "bb_position", "atr_pct",
    "macd_hist_pct", "iv_minus_realized_vol",
]  # fmt: skip
OUTCOME_COLUMNS = [
    "label_end_date", "exit_date", "exit_price", "reward", "hit_50", "max_gain_3d",
    "underlying_return_3d", "exit_reason", "missing_quotes",
]  # fmt: skip
RL_DATASET_COLUMNS = [*RL_STATE_COLUMNS, *OUTCOME_COLUMNS]
