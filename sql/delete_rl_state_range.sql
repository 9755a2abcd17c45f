DELETE FROM rl_state
WHERE snapshot_date BETWEEN @start_date AND @end_date
