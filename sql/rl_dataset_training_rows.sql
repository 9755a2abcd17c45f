-- The labelled rl_dataset rows of [@start_date, @end_date] that training and walk-forward evaluation
-- read (rl_assets/training_data.py), with the dates the usable_from rule needs: only rows whose labels
-- were all known before @labels_before (a model "as of" that day), and at most @max_per_day rows a day.
-- The day's cut is stratified by underlying and moneyness: each stratum (underlying x log-moneyness
-- bucket) is allotted its share of the day's rows, rounded up, and the day's rows are then taken evenly
-- across strata (lowest share of its stratum first), so every underlying and every part of the smile
-- keeps its weight. Within a stratum rows come in a seeded pseudo-random order (MD5 of the symbol and
-- @seed): the same seed draws the same sample on every backend. A day with at most @max_per_day rows
-- is read whole.
WITH labelled AS (
    SELECT
        snapshot_date, contract_symbol, underlying, label_end_date, reward, hit_50, underlying_return_3d,
        is_call, dte, moneyness, log_moneyness, spread_pct, intrinsic_pct, leverage, theta_pct,
        implied_volatility, delta, gamma, theta, vega, rho, log_volume, log_open_interest,
        rsi_14, adx_14, above_sma_50, above_sma_200, ret_1d, ret_5d, ret_20d, realized_vol_20,
        volume_ratio_20, close_to_sma_20, close_to_sma_50, close_to_sma_200, bb_position, atr_pct,
        macd_hist_pct, iv_minus_realized_vol,
        TO_HEX(MD5(CONCAT(contract_symbol, '/', CAST(@seed AS STRING)))) AS draw,
        CASE
            WHEN log_moneyness IS NULL THEN 0
            WHEN log_moneyness < -0.10 THEN 1
            WHEN log_moneyness < -0.03 THEN 2
            WHEN log_moneyness <= 0.03 THEN 3
            WHEN log_moneyness <= 0.10 THEN 4
            ELSE 5
        END AS moneyness_bucket
    FROM rl_dataset
    WHERE snapshot_date BETWEEN @start_date AND @end_date
        AND reward IS NOT NULL
        AND label_end_date < @labels_before
),
ranked AS (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY snapshot_date, underlying, moneyness_bucket ORDER BY draw, contract_symbol
        ) AS stratum_rank,
        COUNT(*) OVER (PARTITION BY snapshot_date, underlying, moneyness_bucket) AS stratum_rows,
        COUNT(*) OVER (PARTITION BY snapshot_date) AS day_rows
    FROM labelled
),
allotted AS (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY snapshot_date ORDER BY stratum_rank / stratum_rows, draw, contract_symbol
        ) AS day_rank
    FROM ranked
    WHERE stratum_rank <= CEIL(@max_per_day * stratum_rows / day_rows)
)
SELECT
    snapshot_date, contract_symbol, underlying, label_end_date, reward, hit_50, underlying_return_3d,
    is_call, dte, moneyness, log_moneyness, spread_pct, intrinsic_pct, leverage, theta_pct,
    implied_volatility, delta, gamma, theta, vega, rho, log_volume, log_open_interest,
    rsi_14, adx_14, above_sma_50, above_sma_200, ret_1d, ret_5d, ret_20d, realized_vol_20,
    volume_ratio_20, close_to_sma_20, close_to_sma_50, close_to_sma_200, bb_position, atr_pct,
    macd_hist_pct, iv_minus_realized_vol
FROM allotted
WHERE day_rank <= @max_per_day
ORDER BY snapshot_date, contract_symbol
