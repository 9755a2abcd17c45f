-- Rows per trading date of rl_dataset in a window.
SELECT snapshot_date, COUNT(*) AS row_count
FROM rl_dataset
WHERE snapshot_date BETWEEN @start_date AND @end_date
GROUP BY snapshot_date
ORDER BY snapshot_date
