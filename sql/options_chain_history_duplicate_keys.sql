-- (contract_symbol, snapshot_date) keys that options_chain_history holds more than once in a
-- window, most copies first: why a table built from it was refused (rl_assets/dataset.py).
SELECT contract_symbol, snapshot_date, COUNT(*) AS copies
FROM options_chain_history
WHERE snapshot_date BETWEEN @start_date AND @end_date
GROUP BY contract_symbol, snapshot_date
HAVING COUNT(*) > 1
ORDER BY copies DESC, snapshot_date, contract_symbol
LIMIT 5
