-- Every recommendation of [@start_date, @end_date] whose outcome is known (rl_dataset): the
-- reference the models' picks are compared with.
SELECT r.snapshot_date AS trade_date, 'all_recommendations' AS model_name, d.hit_50, d.reward
FROM recommendations AS r
INNER JOIN rl_dataset AS d
    ON d.snapshot_date = r.snapshot_date AND d.contract_symbol = r.contract_symbol
WHERE r.snapshot_date BETWEEN @start_date AND @end_date
    AND d.snapshot_date BETWEEN @start_date AND @end_date
    AND d.reward IS NOT NULL
