-- Labelled rl_dataset rows per trading date whose labels were all known before @labels_before: the
-- days training reads, and how many candidates each holds, so rl_assets/training_data.py can group
-- days into statements of a bounded size.
SELECT snapshot_date, COUNT(*) AS labelled_rows
FROM rl_dataset
WHERE reward IS NOT NULL AND label_end_date < @labels_before
GROUP BY snapshot_date
ORDER BY snapshot_date
