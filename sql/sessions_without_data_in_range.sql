-- The sessions in [@start_date, @end_date] the chain's source is known to have no data for.
SELECT snapshot_date, source
FROM sessions_without_data
WHERE snapshot_date BETWEEN @start_date AND @end_date
ORDER BY snapshot_date
