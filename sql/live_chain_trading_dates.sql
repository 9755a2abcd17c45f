-- Which America/New_York trading dates the live chain's quotes belong to, before archiving it
-- (and, in sidecar mode, what the live-chain sensor observes).
-- The New York date only moves forward with time, so converting MIN and MAX is enough (and far
-- cheaper than converting every row).
SELECT
    COUNT(*) AS row_count,
    COUNTIF(quote_time IS NULL) AS rows_without_quote_time,
    DATE(MIN(quote_time), 'America/New_York') AS first_quote_date,
    DATE(MAX(quote_time), 'America/New_York') AS last_quote_date,
    MIN(quote_time) AS first_quote_time,
    MAX(quote_time) AS last_quote_time
FROM options_chain
