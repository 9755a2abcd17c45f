-- Rows per trading date of rl_state in a window: which days rl_dataset can read, and how many rows
-- each must give it. No distinct count here: rl_dataset_summary.sql counts the keys of what the
-- insert wrote, which holds every key rl_state holds twice (rl_assets/dataset.py).
SELECT snapshot_date, COUNT(*) AS row_count
FROM rl_state
WHERE snapshot_date BETWEEN @start_date AND @end_date
GROUP BY snapshot_date
ORDER BY snapshot_date
