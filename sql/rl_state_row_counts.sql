-- Rows per trading date of rl_state in a window.
SELECT snapshot_date, COUNT(*) AS row_count
FROM rl_state
WHERE snapshot_date BETWEEN @start_date AND @end_date
GROUP BY snapshot_date
ORDER BY snapshot_date
