-- The newest archived trading date (what a check run on its own, outside a partitioned run, checks).
SELECT MAX(snapshot_date) AS latest_date
FROM options_chain_history
