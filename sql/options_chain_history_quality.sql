-- Data-quality counts per archived trading date, for the asset checks.
WITH bounded AS (
    SELECT
        snapshot_date, option_type, strike, expiration, bid, ask, mid, last, underlying_price,
        implied_volatility, delta, gamma, theta, vega, rho,
        -- The lowest price a contract may show (options_chain_history_problem_rows.sql has the same):
        -- a call's intrinsic value; a put's less the carry a European put may show (quality.CARRY_RATE).
        CASE option_type
            WHEN 'call' THEN underlying_price - strike
            WHEN 'put' THEN
                strike * EXP(-@carry_rate * GREATEST(DATE_DIFF(expiration, snapshot_date, DAY), 0) / 365)
                - underlying_price
        END AS price_floor
    FROM options_chain_history
    WHERE snapshot_date BETWEEN @start_date AND @end_date
),
per_day AS (
    SELECT
        snapshot_date,
        COUNT(*) AS row_count,
        COUNTIF(bid > ask) AS crossed_quotes,
        COUNTIF(bid < 0 OR ask < 0 OR mid < 0 OR last < 0 OR strike <= 0 OR underlying_price <= 0) AS negative_prices,
        -- A quote the reward cannot use (NULL, or NaN/inf archived before they were stored as NULL).
        COUNTIF(bid IS NULL OR ask IS NULL OR IS_NAN(bid) OR IS_INF(bid) OR IS_NAN(ask) OR IS_INF(ask))
            AS missing_quotes,
        COUNTIF(expiration < snapshot_date) AS expired_before_snapshot,
        -- A NULL IV or delta is missing, not out of range: counted by missing_* below. NaN is named
        -- because DuckDB sorts it above every number and BigQuery compares it false.
        COUNTIF(IS_NAN(implied_volatility) OR implied_volatility <= 0 OR implied_volatility > 5) AS iv_out_of_range,
        COUNTIF(
            IS_NAN(delta)
            OR (option_type = 'call' AND (delta < 0 OR delta > 1))
            OR (option_type = 'put' AND (delta < -1 OR delta > 0))
            OR option_type NOT IN ('call', 'put')
        ) AS bad_delta,
        COUNTIF(implied_volatility IS NULL) AS missing_implied_volatility,
        COUNTIF(delta IS NULL) AS missing_delta,
        COUNTIF(gamma IS NULL) AS missing_gamma,
        COUNTIF(theta IS NULL) AS missing_theta,
        COUNTIF(vega IS NULL) AS missing_vega,
        COUNTIF(rho IS NULL) AS missing_rho,
        COUNTIF(
            implied_volatility IS NULL OR delta IS NULL OR gamma IS NULL OR theta IS NULL OR vega IS NULL OR rho IS NULL
        ) AS missing_greeks,
        COUNTIF(ask < price_floor - @intrinsic_tolerance AND NOT IS_NAN(price_floor)) AS ask_below_intrinsic,
        COUNTIF(implied_volatility > 0 AND implied_volatility <= @placeholder_iv) AS placeholder_iv
    FROM bounded
    GROUP BY snapshot_date
),
duplicated AS (
    -- Grouping by the key is much cheaper than COUNT(DISTINCT contract_symbol) per day.
    SELECT snapshot_date, SUM(copies - 1) AS duplicate_keys
    FROM (
        SELECT snapshot_date, contract_symbol, COUNT(*) AS copies
        FROM options_chain_history
        WHERE snapshot_date BETWEEN @start_date AND @end_date
        GROUP BY snapshot_date, contract_symbol
        HAVING COUNT(*) > 1
    )
    GROUP BY snapshot_date
)
SELECT per_day.*, COALESCE(duplicated.duplicate_keys, 0) AS duplicate_keys
FROM per_day
LEFT JOIN duplicated USING (snapshot_date)
ORDER BY snapshot_date
