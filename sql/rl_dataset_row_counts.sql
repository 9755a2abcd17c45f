-- Rows and distinct keys per trading date of rl_dataset in a window (rows > contracts: a key held
-- twice). Read only when a build wrote other row counts than rl_state's, to name what went wrong.
SELECT
    snapshot_date,
    COUNT(*) AS row_count,
    COUNT(DISTINCT contract_symbol) AS contracts
FROM rl_dataset
WHERE snapshot_date BETWEEN @start_date AND @end_date
GROUP BY snapshot_date
ORDER BY snapshot_date
