-- Data-quality counts per trading date of price_data, for the asset checks.
SELECT
    date,
    COUNT(*) AS row_count,
    COUNT(*) - COUNT(DISTINCT ticker) AS duplicate_keys,
    COUNTIF(open <= 0 OR high <= 0 OR low <= 0 OR close <= 0 OR volume < 0) AS negative_prices,
    -- `close <= 0` is NULL for a NULL close, so missing and non-finite values are counted apart.
    -- A close-only bar (from the chain's underlying price) has only a close; NULL close_only: a real bar.
    COUNTIF(
        close IS NULL OR IS_NAN(close) OR IS_INF(close)
        OR (
            NOT IFNULL(close_only, FALSE)
            AND (
                open IS NULL OR high IS NULL OR low IS NULL OR volume IS NULL
                OR IS_NAN(open) OR IS_INF(open) OR IS_NAN(high) OR IS_INF(high) OR IS_NAN(low) OR IS_INF(low)
            )
        )
    ) AS missing_values,
    COUNTIF(high < low OR high < GREATEST(open, close) OR low > LEAST(open, close)) AS inconsistent_bars,
    COUNT(DISTINCT ticker) AS tickers,
    COUNTIF(IFNULL(close_only, FALSE)) AS close_only_bars
FROM price_data
WHERE date BETWEEN @start_date AND @end_date
GROUP BY date
ORDER BY date
