-- The first and last trading dates rl_dataset holds labelled rows for.
SELECT MIN(snapshot_date) AS first_date, MAX(snapshot_date) AS last_date, COUNT(*) AS row_count
FROM rl_dataset
WHERE reward IS NOT NULL
