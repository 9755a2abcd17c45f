-- The newest trading date in rl_dataset (checks run on their own check that day).
SELECT MAX(snapshot_date) AS latest_date
FROM rl_dataset
