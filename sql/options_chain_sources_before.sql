-- The source columns of the newest archived day before @snapshot_date (compared with today's).
SELECT snapshot_date, source_table, chain_format, source_columns
FROM options_chain_sources
WHERE snapshot_date < @snapshot_date
ORDER BY snapshot_date DESC
LIMIT 1
