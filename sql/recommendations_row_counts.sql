-- Recommendations per trading date in a window.
SELECT snapshot_date, COUNT(*) AS row_count
FROM recommendations
WHERE snapshot_date BETWEEN @start_date AND @end_date
GROUP BY snapshot_date
ORDER BY snapshot_date
