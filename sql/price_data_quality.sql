-- Data-quality counts per trading date of price_data, for the asset checks.
SELECT
    date,
    COUNT(*) AS row_count,
    COUNT(*) - COUNT(DISTINCT ticker) AS duplicate_keys,
    COUNTIF(open <= 0 OR high <= 0 OR low <= 0 OR close <= 0 OR volume < 0) AS negative_prices,
    -- `close <= 0` is NULL for a NULL close, so missing and non-finite values are counted apart.
    COUNTIF(
        open IS NULL OR high IS NULL OR low IS NULL OR close IS NULL OR volume IS NULL
        OR IS_NAN(open) OR IS_INF(open) OR IS_NAN(high) OR IS_INF(high)
        OR IS_NAN(low) OR IS_INF(low) OR IS_NAN(close) OR IS_INF(close)
    ) AS missing_values,
    COUNTIF(high < low OR high < GREATEST(open, close) OR low > LEAST(open, close)) AS inconsistent_bars,
    COUNT(DISTINCT ticker) AS tickers
FROM price_data
WHERE date BETWEEN @start_date AND @end_date
GROUP BY date
ORDER BY date
