-- rl_state for the trading days [@start_date, @end_date]: each archived contract a buyer could
-- enter at T's close (finite bid > 0, ask > 0 and not below intrinsic value, underlying price,
-- expiring after T) with its underlying's technicals of the same day. A candidate whose underlying
-- has no technicals row at T (too short a price history), or one with a technical feature NULL, is
-- kept with those features NULL and technicals_incomplete TRUE: the models impute them and see a
-- missing-indicator (rl_assets/features.py). Features are scale-free where a model compares them
-- across underlyings.
INSERT INTO rl_state (
    snapshot_date, contract_symbol, underlying, option_type, strike, expiration,
    bid, ask, mid, volume, open_interest, underlying_price, entry_price, quote_time, technicals_date,
    is_call, dte, moneyness, log_moneyness, spread_pct, intrinsic_pct, leverage, theta_pct,
    implied_volatility, delta, gamma, theta, vega, rho, log_volume, log_open_interest,
    rsi_14, macd, macd_signal, macd_hist, sma_20, sma_50, sma_200, bb_upper, bb_middle, bb_lower,
    atr_14, adx_14, above_sma_50, above_sma_200, ret_1d, ret_5d, ret_20d, realized_vol_20,
    volume_ratio_20, close_to_sma_20, close_to_sma_50, close_to_sma_200, bb_position, atr_pct,
    macd_hist_pct, iv_minus_realized_vol,
    technicals_incomplete
)
WITH candidates AS (
    SELECT
        h.snapshot_date, h.contract_symbol, h.underlying, h.option_type, h.strike, h.expiration,
        h.bid, h.ask, h.mid, h.volume, h.open_interest, h.underlying_price,
        h.ask AS entry_price,
        h.quote_time,
        t.date AS technicals_date,
        h.option_type = 'call' AS is_call,
        h.dte,
        h.strike / h.underlying_price AS moneyness,
        LN(h.strike / h.underlying_price) AS log_moneyness,
        (h.ask - h.bid) / ((h.ask + h.bid) / 2) AS spread_pct,
        CASE
            WHEN h.option_type = 'call' THEN GREATEST(h.underlying_price - h.strike, 0)
            ELSE GREATEST(h.strike - h.underlying_price, 0)
        END / h.ask AS intrinsic_pct,
        ABS(h.delta) * h.underlying_price / h.ask AS leverage,
        h.theta / h.ask AS theta_pct,
        h.implied_volatility, h.delta, h.gamma, h.theta, h.vega, h.rho,
        LN(1 + h.volume) AS log_volume,
        LN(1 + h.open_interest) AS log_open_interest,
        t.rsi_14, t.macd, t.macd_signal, t.macd_hist, t.sma_20, t.sma_50, t.sma_200,
        t.bb_upper, t.bb_middle, t.bb_lower, t.atr_14, t.adx_14, t.above_sma_50, t.above_sma_200,
        t.ret_1d, t.ret_5d, t.ret_20d, t.realized_vol_20, t.volume_ratio_20,
        SAFE_DIVIDE(t.close, t.sma_20) - 1 AS close_to_sma_20,
        SAFE_DIVIDE(t.close, t.sma_50) - 1 AS close_to_sma_50,
        SAFE_DIVIDE(t.close, t.sma_200) - 1 AS close_to_sma_200,
        SAFE_DIVIDE(t.close - t.bb_lower, t.bb_upper - t.bb_lower) AS bb_position,
        t.atr_14 / t.close AS atr_pct,
        t.macd_hist / t.close AS macd_hist_pct,
        h.implied_volatility - t.realized_vol_20 AS iv_minus_realized_vol
    FROM options_chain_history AS h
    LEFT JOIN technicals_history AS t
        ON t.ticker = h.underlying AND t.date = h.snapshot_date AND t.date BETWEEN @start_date AND @end_date
    WHERE h.snapshot_date BETWEEN @start_date AND @end_date
        AND h.bid > 0
        AND h.ask > 0
        AND h.underlying_price > 0
        -- Finite quotes only (history archived before NaN/inf were stored as NULL may hold them; in
        -- DuckDB NaN > 0 is true).
        AND NOT (IS_NAN(h.bid) OR IS_INF(h.bid))
        AND NOT (IS_NAN(h.ask) OR IS_INF(h.ask))
        AND NOT (IS_NAN(h.underlying_price) OR IS_INF(h.underlying_price))
        AND NOT (IS_NAN(h.strike) OR IS_INF(h.strike))
        AND h.expiration > h.snapshot_date
        -- An ask below intrinsic value is free money: a data error, never a candidate. The floor is
        -- options_chain_history_quality.sql's (a put's less the carry a European put may show).
        AND NOT h.ask < CASE h.option_type
            WHEN 'call' THEN h.underlying_price - h.strike
            ELSE h.strike * EXP(-@carry_rate * DATE_DIFF(h.expiration, h.snapshot_date, DAY) / 365) - h.underlying_price
        END - @intrinsic_tolerance
)
-- schema.TECHNICALS_COMPLETE_FEATURES: every technical feature but iv_minus_realized_vol (NULL also
-- when the option's own IV is; its technical part realized_vol_20 is checked).
SELECT
    *,
    technicals_date IS NULL
        OR rsi_14 IS NULL OR adx_14 IS NULL OR above_sma_50 IS NULL OR above_sma_200 IS NULL
        OR ret_1d IS NULL OR ret_5d IS NULL OR ret_20d IS NULL OR realized_vol_20 IS NULL
        OR volume_ratio_20 IS NULL OR close_to_sma_20 IS NULL OR close_to_sma_50 IS NULL
        OR close_to_sma_200 IS NULL OR bb_position IS NULL OR atr_pct IS NULL OR macd_hist_pct IS NULL
        AS technicals_incomplete
FROM candidates
