SELECT snapshot_date, underlying
FROM options_chain_history
WHERE snapshot_date BETWEEN @start_date AND @end_date
GROUP BY snapshot_date, underlying
