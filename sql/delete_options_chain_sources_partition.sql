-- Drop the record of one archived day before it is written again (in the archive's transaction).
DELETE FROM options_chain_sources
WHERE snapshot_date = @snapshot_date
