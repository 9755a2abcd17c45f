-- Record one session an import found no data for.
INSERT INTO sessions_without_data (snapshot_date, source, recorded_at)
VALUES (@snapshot_date, @source, @recorded_at)
