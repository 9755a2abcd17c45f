-- Per trading date: price_data's close against the archived chain's underlying_price for the same
-- underlying and day. Both are the raw close, so a gap means price_data is split- or
-- dividend-adjusted (or wrong). A day or ticker without chain rows, or whose chain rows have no
-- finite underlying_price, has nothing to compare. price_data_vs_chain_rows.sql names the rows.
WITH chain AS (
    SELECT snapshot_date, underlying, MIN(underlying_price) AS lowest, MAX(underlying_price) AS highest
    FROM options_chain_history
    WHERE snapshot_date BETWEEN @start_date AND @end_date
        -- NaN would be MIN's answer on BigQuery and MAX's on DuckDB.
        AND NOT IS_NAN(underlying_price) AND NOT IS_INF(underlying_price)
    GROUP BY snapshot_date, underlying
),
compared AS (
    SELECT
        p.date,
        p.ticker,
        GREATEST(ABS(SAFE_DIVIDE(c.lowest, p.close) - 1), ABS(SAFE_DIVIDE(c.highest, p.close) - 1)) AS gap
    FROM price_data AS p
    INNER JOIN chain AS c ON c.underlying = p.ticker AND c.snapshot_date = p.date
    WHERE p.date BETWEEN @start_date AND @end_date
        AND NOT IS_NAN(p.close) AND NOT IS_INF(p.close)
)
SELECT
    date,
    COUNTIF(gap IS NOT NULL) AS compared,
    COUNTIF(gap > @tolerance) AS mismatched,
    MAX(gap) AS largest_gap,
    MIN(IF(gap > @tolerance, ticker, NULL)) AS example_ticker
FROM compared
GROUP BY date
ORDER BY date
