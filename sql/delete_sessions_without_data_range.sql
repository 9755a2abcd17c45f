-- Forget what an earlier import recorded for the sessions [@start_date, @end_date] before recording
-- what this one found (in the same transaction).
DELETE FROM sessions_without_data
WHERE snapshot_date BETWEEN @start_date AND @end_date
