-- The (ticker, date) rows behind close_matches_chain_underlying_price: price_data's close, the
-- chain's underlying_price farthest from it and their gap, at most @examples per day (largest gap
-- first). Run only when price_data_vs_chain.sql counted a mismatch; the same comparison.
WITH chain AS (
    SELECT snapshot_date, underlying, MIN(underlying_price) AS lowest, MAX(underlying_price) AS highest
    FROM options_chain_history
    WHERE snapshot_date BETWEEN @start_date AND @end_date
        AND NOT IS_NAN(underlying_price) AND NOT IS_INF(underlying_price)
    GROUP BY snapshot_date, underlying
),
compared AS (
    SELECT
        p.date,
        p.ticker,
        p.close,
        IF(
            ABS(SAFE_DIVIDE(c.lowest, p.close) - 1) >= ABS(SAFE_DIVIDE(c.highest, p.close) - 1), c.lowest, c.highest
        ) AS chain_underlying_price,
        GREATEST(ABS(SAFE_DIVIDE(c.lowest, p.close) - 1), ABS(SAFE_DIVIDE(c.highest, p.close) - 1)) AS gap
    FROM price_data AS p
    INNER JOIN chain AS c ON c.underlying = p.ticker AND c.snapshot_date = p.date
    WHERE p.date BETWEEN @start_date AND @end_date
        AND NOT IS_NAN(p.close) AND NOT IS_INF(p.close)
),
ranked AS (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY date ORDER BY gap DESC, ticker) AS rank_in_day
    FROM compared
    WHERE gap > @tolerance
)
SELECT ticker, date, close, chain_underlying_price, ROUND(gap, 6) AS gap
FROM ranked
WHERE rank_in_day <= @examples
ORDER BY date, rank_in_day
