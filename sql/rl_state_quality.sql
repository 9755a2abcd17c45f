-- Per trading date of rl_state: rows, duplicate keys, rows that are not candidates, and rows with a
-- feature not of T (a quote from a later New York date, or technicals of another day than T; a row
-- without technicals, technicals_date NULL, passes). Both must be zero.
SELECT
    snapshot_date,
    COUNT(*) AS row_count,
    COUNT(*) - COUNT(DISTINCT contract_symbol) AS duplicate_keys,
    COUNTIF(bid <= 0 OR ask <= 0 OR expiration <= snapshot_date) AS not_candidates,
    COUNTIF(DATE(quote_time, 'America/New_York') > snapshot_date OR technicals_date != snapshot_date)
        AS stamped_after_snapshot
FROM rl_state
WHERE snapshot_date BETWEEN @start_date AND @end_date
GROUP BY snapshot_date
ORDER BY snapshot_date
