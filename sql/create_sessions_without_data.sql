-- NYSE sessions the chain's source has no data for (a day missing from a vendor's history files),
-- recorded by the import that looked for them: downstream assets treat such a day as empty, not
-- as one nobody materialised. A later import that finds the day deletes its row. Key: snapshot_date.
CREATE TABLE IF NOT EXISTS sessions_without_data (
    snapshot_date DATE NOT NULL,
    source STRING NOT NULL,
    recorded_at TIMESTAMP NOT NULL
)
