-- Per trading date of rl_dataset: rows against rl_state's (every candidate labelled or flagged,
-- none invented), labelled rows, exits by reason, the hit_50 base rate and mean reward, features
-- not of T (technicals, where present, are T's), and labels outside (T, label_end_date] (exit on T
-- only for a contract whose expiration falls before the next session).
WITH state AS (
    SELECT snapshot_date, COUNT(*) AS state_rows
    FROM rl_state
    WHERE snapshot_date BETWEEN @start_date AND @end_date
    GROUP BY snapshot_date
),
dataset AS (
    SELECT
        snapshot_date,
        COUNT(*) AS row_count,
        COUNT(DISTINCT contract_symbol) AS distinct_keys,
        COUNTIF(reward IS NOT NULL) AS labelled,
        COUNTIF(hit_50) AS hits,
        AVG(reward) AS mean_reward,
        COUNTIF(exit_reason = 'take_profit') AS take_profit,
        COUNTIF(exit_reason = 'horizon') AS horizon,
        COUNTIF(exit_reason = 'expired') AS expired,
        COUNTIF(exit_reason = 'missing_quote') AS missing_quote,
        COUNTIF(exit_reason = 'missing_price') AS missing_price,
        COUNTIF(missing_quotes > 0) AS rows_with_missing_quotes,
        COUNTIF(DATE(quote_time, 'America/New_York') > snapshot_date OR technicals_date != snapshot_date)
            AS stamped_after_snapshot,
        COUNTIF(
            label_end_date <= snapshot_date
            OR exit_date > label_end_date
            OR exit_date < snapshot_date
            OR (exit_date = snapshot_date AND exit_reason != 'expired')
        ) AS labels_outside_window,
        MIN(label_end_date) AS first_label_end,
        MAX(label_end_date) AS last_label_end
    FROM rl_dataset
    WHERE snapshot_date BETWEEN @start_date AND @end_date
    GROUP BY snapshot_date
)
SELECT
    COALESCE(d.snapshot_date, s.snapshot_date) AS snapshot_date,
    COALESCE(s.state_rows, 0) AS state_rows,
    COALESCE(d.row_count, 0) AS row_count,
    COALESCE(d.row_count - d.distinct_keys, 0) AS duplicate_keys,
    COALESCE(d.labelled, 0) AS labelled,
    COALESCE(d.hits, 0) AS hits,
    d.mean_reward,
    COALESCE(d.take_profit, 0) AS take_profit,
    COALESCE(d.horizon, 0) AS horizon,
    COALESCE(d.expired, 0) AS expired,
    COALESCE(d.missing_quote, 0) AS missing_quote,
    COALESCE(d.missing_price, 0) AS missing_price,
    COALESCE(d.rows_with_missing_quotes, 0) AS rows_with_missing_quotes,
    COALESCE(d.stamped_after_snapshot, 0) AS stamped_after_snapshot,
    COALESCE(d.labels_outside_window, 0) AS labels_outside_window,
    d.first_label_end,
    d.last_label_end
FROM dataset AS d
FULL OUTER JOIN state AS s ON s.snapshot_date = d.snapshot_date
ORDER BY snapshot_date
