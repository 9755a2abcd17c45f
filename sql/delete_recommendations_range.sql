DELETE FROM recommendations
WHERE snapshot_date BETWEEN @start_date AND @end_date
