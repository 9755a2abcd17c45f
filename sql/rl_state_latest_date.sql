-- The newest trading date in rl_state (checks run on their own check that day).
SELECT MAX(snapshot_date) AS latest_date
FROM rl_state
