-- Register one trained model version (metrics as a JSON string).
INSERT INTO model_registry (
    model_name, version, trained_at, train_start, train_end, usable_from, metrics, artifact_uri
)
VALUES (
    @model_name, @version, @trained_at, @train_start, @train_end, @usable_from, @metrics, @artifact_uri
)
