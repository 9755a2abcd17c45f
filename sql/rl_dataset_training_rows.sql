-- The labelled rl_dataset rows of [@start_date, @end_date] that training and walk-forward evaluation
-- read (rl_assets/training_data.py), with the dates the usable_from rule needs: only rows whose labels
-- were all known before @labels_before (a model "as of" that day), and at most @max_per_day rows a day.
-- The day's cut is stratified by underlying and moneyness: each stratum (underlying x log-moneyness
-- bucket) is allotted its share of the day's rows, rounded up, and the day's rows are then taken evenly
-- across strata (lowest share of its stratum first), so every underlying and every part of the smile
-- keeps its weight. Within a stratum rows come in a seeded pseudo-random order (MD5 of the symbol and
-- @seed): the same seed draws the same sample on every backend. A day with at most @max_per_day rows
-- is read whole. The sample is chosen on the keys alone, then its rows are read: the sort behind the
-- window functions carries five narrow columns, not forty.
WITH labelled AS (
    SELECT
        snapshot_date,
        contract_symbol,
        underlying,
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
        snapshot_date,
        contract_symbol,
        ROW_NUMBER() OVER (
            PARTITION BY snapshot_date ORDER BY stratum_rank / stratum_rows, draw, contract_symbol
        ) AS day_rank
    FROM ranked
    WHERE stratum_rank <= CEIL(@max_per_day * stratum_rows / day_rows)
),
chosen AS (
    SELECT snapshot_date, contract_symbol FROM allotted WHERE day_rank <= @max_per_day
)
SELECT
    d.snapshot_date, d.contract_symbol, d.underlying, d.label_end_date, d.reward, d.hit_50,
    d.underlying_return_3d, d.is_call, d.dte, d.moneyness, d.log_moneyness, d.spread_pct,
    d.intrinsic_pct, d.leverage, d.theta_pct, d.implied_volatility, d.delta, d.gamma, d.theta, d.vega,
    d.rho, d.log_volume, d.log_open_interest, d.rsi_14, d.adx_14, d.above_sma_50, d.above_sma_200,
    d.ret_1d, d.ret_5d, d.ret_20d, d.realized_vol_20, d.volume_ratio_20, d.close_to_sma_20,
    d.close_to_sma_50, d.close_to_sma_200, d.bb_position, d.atr_pct, d.macd_hist_pct,
    d.iv_minus_realized_vol
FROM rl_dataset AS d
JOIN chosen AS c ON d.snapshot_date = c.snapshot_date AND d.contract_symbol = c.contract_symbol
WHERE d.snapshot_date BETWEEN @start_date AND @end_date
ORDER BY d.snapshot_date, d.contract_symbol
