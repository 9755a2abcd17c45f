-- Every trained model version. usable_from: the first trading day on which every training label
-- was already known (the session after the last label_end_date of the training rows); a version is
-- used for day D only if usable_from <= D. Key: (model_name, version).
CREATE TABLE IF NOT EXISTS model_registry (
    model_name STRING NOT NULL,
    version INT64 NOT NULL,
    trained_at TIMESTAMP NOT NULL,
    train_start DATE NOT NULL,
    train_end DATE NOT NULL,
    usable_from DATE NOT NULL,
    metrics STRING NOT NULL,
    artifact_uri STRING NOT NULL
)
CLUSTER BY model_name
