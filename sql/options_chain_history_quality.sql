-- Data-quality counts per archived trading date, for the asset checks.
SELECT
    snapshot_date,
    COUNT(*) AS row_count,
    COUNT(*) - COUNT(DISTINCT contract_symbol) AS duplicate_keys,
    COUNTIF(bid > ask) AS crossed_quotes,
    COUNTIF(bid < 0 OR ask < 0 OR mid < 0 OR last < 0 OR strike <= 0 OR underlying_price <= 0) AS negative_prices,
    COUNTIF(implied_volatility IS NULL OR implied_volatility <= 0 OR implied_volatility > 5) AS iv_out_of_range,
    COUNTIF(
        delta IS NULL
        OR (option_type = 'call' AND (delta < 0 OR delta > 1))
        OR (option_type = 'put' AND (delta < -1 OR delta > 0))
        OR option_type NOT IN ('call', 'put')
    ) AS bad_delta,
    COUNT(DISTINCT underlying) AS underlyings
FROM options_chain_history
WHERE snapshot_date BETWEEN @start_date AND @end_date
GROUP BY snapshot_date
ORDER BY snapshot_date
