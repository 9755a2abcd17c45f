-- Every registered version of a model, newest first.
SELECT model_name, version, trained_at, train_start, train_end, usable_from, metrics, artifact_uri
FROM model_registry
WHERE model_name = @model_name
ORDER BY version DESC
