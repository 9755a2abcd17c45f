-- Per trading date of rl_dataset: rows, labelled rows, hits, mean reward and exits by reason (the
-- build's row-count check and the asset's metadata, one scan; the checks' fuller rules are in
-- rl_dataset_quality.sql). No distinct count of the keys: with rl_state's keys checked and its row
-- counts matched, each key is held once (rl_assets/dataset.py); a distinct count of a market's
-- keys would cost ~6% of the insert.
SELECT
    snapshot_date,
    COUNT(*) AS row_count,
    COUNTIF(reward IS NOT NULL) AS labelled,
    COUNTIF(hit_50) AS hits,
    AVG(reward) AS mean_reward,
    COUNTIF(exit_reason = 'take_profit') AS take_profit,
    COUNTIF(exit_reason = 'horizon') AS horizon,
    COUNTIF(exit_reason = 'expired') AS expired,
    COUNTIF(exit_reason = 'missing_quote') AS missing_quote,
    COUNTIF(exit_reason = 'missing_price') AS missing_price
FROM rl_dataset
WHERE snapshot_date BETWEEN @start_date AND @end_date
GROUP BY snapshot_date
ORDER BY snapshot_date
