-- Record the source of one archived day (in the archive's transaction).
INSERT INTO options_chain_sources (snapshot_date, source_table, chain_format, source_columns, archived_at)
VALUES (@snapshot_date, @source_table, @chain_format, @source_columns, @archived_at)
