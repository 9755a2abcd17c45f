-- Rows per archived trading date in a window, to compare a partition with the one before it.
SELECT snapshot_date, COUNT(*) AS row_count
FROM options_chain_history
WHERE snapshot_date BETWEEN @start_date AND @end_date
GROUP BY snapshot_date
ORDER BY snapshot_date
