-- Which America/New_York trading dates the live chain's quotes belong to, before archiving it.
SELECT
    COUNT(*) AS row_count,
    COUNTIF(quote_time IS NULL) AS rows_without_quote_time,
    MIN(DATE(quote_time, 'America/New_York')) AS first_quote_date,
    MAX(DATE(quote_time, 'America/New_York')) AS last_quote_date
FROM options_chain
