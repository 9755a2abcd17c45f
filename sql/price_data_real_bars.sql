-- Real OHLCV bars (not close-only; a NULL close_only predates the flag: real) price_data holds in a
-- range: write_prices_from_chain never replaces them with bars from the chain.
SELECT COUNT(*) AS real_bars
FROM price_data
WHERE date BETWEEN @start_date AND @end_date
    AND NOT IFNULL(close_only, FALSE)
