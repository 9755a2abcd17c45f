-- rl_state rows of the recommended contracts of [@start_date, @end_date]: what the models score.
SELECT s.*
FROM rl_state AS s
INNER JOIN recommendations AS r
    ON r.snapshot_date = s.snapshot_date AND r.contract_symbol = s.contract_symbol
WHERE s.snapshot_date BETWEEN @start_date AND @end_date
    AND r.snapshot_date BETWEEN @start_date AND @end_date
ORDER BY s.snapshot_date, s.contract_symbol
