DELETE FROM options_chain_history
WHERE snapshot_date = @snapshot_date
