-- rl_dataset for the trading days [@start_date, @end_date]: rl_state plus the outcome of buying
-- the contract at T's ask, the reward of docs/design.md (rl_assets/reward.py has the same rule in Python
-- and the tests hold the two together). rl_label_windows maps each T to its next three NYSE
-- sessions (day_1..day_3, from the exchange calendar); @label_start..@label_end bound the snapshots
-- read, so BigQuery prunes partitions.
--   take-profit: the first label day, up to expiration, whose closing bid >= @take_profit x entry:
--     exit there at @take_profit x entry;
--   otherwise, expiring within the window: exit at intrinsic value on the expiration session
--     (the underlying's close that day);
--   otherwise: exit at day_3's bid; a contract missing from day_3's snapshot has no observable
--     exit: reward NULL, exit_reason 'missing_quote' (kept and flagged, never dropped).
-- A NaN or infinite bid or close (history archived before the archive stored them as NULL) counts
-- as missing: in DuckDB NaN compares above every number and would pass "bid >= target".
INSERT INTO rl_dataset (
    snapshot_date, contract_symbol, underlying, option_type, strike, expiration,
    bid, ask, mid, volume, open_interest, underlying_price, entry_price, quote_time, technicals_date,
    technicals_incomplete, is_call, dte, moneyness, log_moneyness, spread_pct, intrinsic_pct, leverage, theta_pct,
    implied_volatility, delta, gamma, theta, vega, rho, log_volume, log_open_interest,
    rsi_14, macd, macd_signal, macd_hist, sma_20, sma_50, sma_200, bb_upper, bb_middle, bb_lower,
    atr_14, adx_14, above_sma_50, above_sma_200, ret_1d, ret_5d, ret_20d, realized_vol_20,
    volume_ratio_20, close_to_sma_20, close_to_sma_50, close_to_sma_200, bb_position, atr_pct,
    macd_hist_pct, iv_minus_realized_vol,
    label_end_date, exit_date, exit_price, reward, hit_50, max_gain_3d, underlying_return_3d,
    exit_reason, missing_quotes
)
WITH label_quotes AS (
    SELECT snapshot_date, contract_symbol, IF(IS_NAN(bid) OR IS_INF(bid), NULL, bid) AS bid
    FROM options_chain_history
    WHERE snapshot_date BETWEEN @label_start AND @label_end
),
later_bids AS (
    -- Each contract's closing bid on each label day of each T, one row per (T, contract): a quote
    -- absent from a snapshot (or with a NULL or non-finite bid) stays NULL.
    SELECT
        w.snapshot_date,
        q.contract_symbol,
        MAX(CASE WHEN q.snapshot_date = w.day_1 THEN q.bid END) AS quoted_bid_1,
        MAX(CASE WHEN q.snapshot_date = w.day_2 THEN q.bid END) AS quoted_bid_2,
        MAX(CASE WHEN q.snapshot_date = w.day_3 THEN q.bid END) AS quoted_bid_3
    FROM label_quotes AS q
    INNER JOIN rl_label_windows AS w
        ON q.snapshot_date BETWEEN w.day_1 AND w.day_3
    GROUP BY w.snapshot_date, q.contract_symbol
),
closes AS (
    SELECT ticker, date, IF(IS_NAN(close) OR IS_INF(close), NULL, close) AS close
    FROM price_data
    WHERE date BETWEEN @start_date AND @label_end
),
observed AS (
    SELECT
        s.*,
        w.day_1, w.day_2, w.day_3,
        -- A label day counts while the contract has not expired before it.
        CASE WHEN w.day_1 <= s.expiration THEN b.quoted_bid_1 END AS bid_1,
        CASE WHEN w.day_2 <= s.expiration THEN b.quoted_bid_2 END AS bid_2,
        CASE WHEN w.day_3 <= s.expiration THEN b.quoted_bid_3 END AS bid_3,
        (CASE WHEN w.day_1 < s.expiration AND b.quoted_bid_1 IS NULL THEN 1 ELSE 0 END
            + CASE WHEN w.day_2 < s.expiration AND b.quoted_bid_2 IS NULL THEN 1 ELSE 0 END
            + CASE WHEN w.day_3 < s.expiration AND b.quoted_bid_3 IS NULL THEN 1 ELSE 0 END) AS missing_quotes,
        -- The session the contract expires on when that is inside the window (the last session on
        -- or before its expiration date).
        CASE
            WHEN s.expiration > w.day_3 THEN NULL
            WHEN s.expiration >= w.day_3 THEN w.day_3
            WHEN s.expiration >= w.day_2 THEN w.day_2
            WHEN s.expiration >= w.day_1 THEN w.day_1
            ELSE s.snapshot_date
        END AS expiry_session,
        c0.close AS close_0,
        c3.close AS close_3
    FROM rl_state AS s
    INNER JOIN rl_label_windows AS w ON w.snapshot_date = s.snapshot_date
    LEFT JOIN later_bids AS b ON b.snapshot_date = s.snapshot_date AND b.contract_symbol = s.contract_symbol
    LEFT JOIN closes AS c0 ON c0.ticker = s.underlying AND c0.date = s.snapshot_date
    LEFT JOIN closes AS c3 ON c3.ticker = s.underlying AND c3.date = w.day_3
    WHERE s.snapshot_date BETWEEN @start_date AND @end_date
),
valued AS (
    SELECT
        o.*,
        CASE
            WHEN o.bid_1 >= @take_profit * o.entry_price THEN o.day_1
            WHEN o.bid_2 >= @take_profit * o.entry_price THEN o.day_2
            WHEN o.bid_3 >= @take_profit * o.entry_price THEN o.day_3
        END AS take_profit_date,
        CASE
            WHEN o.option_type = 'call' THEN GREATEST(ce.close - o.strike, 0)
            ELSE GREATEST(o.strike - ce.close, 0)
        END AS expiry_value
    FROM observed AS o
    LEFT JOIN closes AS ce ON ce.ticker = o.underlying AND ce.date = o.expiry_session
),
resolved AS (
    SELECT
        v.*,
        CASE
            WHEN v.take_profit_date IS NOT NULL THEN v.take_profit_date
            WHEN v.expiry_session IS NOT NULL THEN IF(v.expiry_value IS NULL, NULL, v.expiry_session)
            ELSE IF(v.bid_3 IS NULL, NULL, v.day_3)
        END AS exit_date,
        CASE
            WHEN v.take_profit_date IS NOT NULL THEN @take_profit * v.entry_price
            WHEN v.expiry_session IS NOT NULL THEN v.expiry_value
            ELSE v.bid_3
        END AS exit_price,
        CASE
            WHEN v.take_profit_date IS NOT NULL THEN 'take_profit'
            WHEN v.expiry_session IS NOT NULL THEN IF(v.expiry_value IS NULL, 'missing_price', 'expired')
            ELSE IF(v.bid_3 IS NULL, 'missing_quote', 'horizon')
        END AS exit_reason,
        -- Bids are >= 0, so -1 stands for "not observed" (GREATEST is NULL if any argument is).
        GREATEST(
            COALESCE(v.bid_1, -1), COALESCE(v.bid_2, -1), COALESCE(v.bid_3, -1), COALESCE(v.expiry_value, -1)
        ) AS best_value
    FROM valued AS v
)
SELECT
    snapshot_date, contract_symbol, underlying, option_type, strike, expiration,
    bid, ask, mid, volume, open_interest, underlying_price, entry_price, quote_time, technicals_date,
    technicals_incomplete, is_call, dte, moneyness, log_moneyness, spread_pct, intrinsic_pct, leverage, theta_pct,
    implied_volatility, delta, gamma, theta, vega, rho, log_volume, log_open_interest,
    rsi_14, macd, macd_signal, macd_hist, sma_20, sma_50, sma_200, bb_upper, bb_middle, bb_lower,
    atr_14, adx_14, above_sma_50, above_sma_200, ret_1d, ret_5d, ret_20d, realized_vol_20,
    volume_ratio_20, close_to_sma_20, close_to_sma_50, close_to_sma_200, bb_position, atr_pct,
    macd_hist_pct, iv_minus_realized_vol,
    day_3 AS label_end_date,
    exit_date,
    exit_price,
    CASE
        WHEN take_profit_date IS NOT NULL THEN @take_profit - 1
        ELSE exit_price / entry_price - 1
    END AS reward,
    CASE
        WHEN exit_price IS NULL THEN NULL
        ELSE take_profit_date IS NOT NULL OR exit_price >= @take_profit * entry_price
    END AS hit_50,
    IF(best_value < 0, NULL, best_value / entry_price - 1) AS max_gain_3d,
    close_3 / close_0 - 1 AS underlying_return_3d,
    exit_reason,
    missing_quotes
FROM resolved
