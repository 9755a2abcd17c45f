-- Where each archived day of options_chain_history came from: the live table, the chain format that
-- read it and the source's columns with their types (a JSON object), so a column that changes type
-- between days is reported. Key: snapshot_date.
CREATE TABLE IF NOT EXISTS options_chain_sources (
    snapshot_date DATE NOT NULL,
    source_table STRING NOT NULL,
    chain_format STRING NOT NULL,
    source_columns STRING NOT NULL,
    archived_at TIMESTAMP NOT NULL
)
