-- Data-quality counts per archived trading date, for the asset checks.
WITH per_day AS (
    SELECT
        snapshot_date,
        COUNT(*) AS row_count,
        COUNTIF(bid > ask) AS crossed_quotes,
        COUNTIF(bid < 0 OR ask < 0 OR mid < 0 OR last < 0 OR strike <= 0 OR underlying_price <= 0) AS negative_prices,
        -- A quote the reward cannot use (NULL, or NaN/inf archived before they were stored as NULL).
        COUNTIF(bid IS NULL OR ask IS NULL OR IS_NAN(bid) OR IS_INF(bid) OR IS_NAN(ask) OR IS_INF(ask))
            AS missing_quotes,
        COUNTIF(expiration < snapshot_date) AS expired_before_snapshot,
        COUNTIF(implied_volatility IS NULL OR implied_volatility <= 0 OR implied_volatility > 5) AS iv_out_of_range,
        COUNTIF(
            delta IS NULL
            OR (option_type = 'call' AND (delta < 0 OR delta > 1))
            OR (option_type = 'put' AND (delta < -1 OR delta > 0))
            OR option_type NOT IN ('call', 'put')
        ) AS bad_delta
    FROM options_chain_history
    WHERE snapshot_date BETWEEN @start_date AND @end_date
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
