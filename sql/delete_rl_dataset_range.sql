DELETE FROM rl_dataset
WHERE snapshot_date BETWEEN @start_date AND @end_date
