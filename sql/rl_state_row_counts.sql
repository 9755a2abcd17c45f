-- Rows and distinct keys per trading date of rl_state in a window (rows > contracts: a key held
-- twice), and the rows kept without complete technicals.
SELECT
    snapshot_date,
    COUNT(*) AS row_count,
    COUNT(DISTINCT contract_symbol) AS contracts,
    COUNTIF(technicals_incomplete) AS technicals_incomplete
FROM rl_state
WHERE snapshot_date BETWEEN @start_date AND @end_date
GROUP BY snapshot_date
ORDER BY snapshot_date
