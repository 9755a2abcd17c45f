-- The newest version of a model usable on @day: all its training labels were known before it.
SELECT model_name, version, trained_at, train_start, train_end, usable_from, metrics, artifact_uri
FROM model_registry
WHERE model_name = @model_name AND usable_from <= @day
ORDER BY usable_from DESC, version DESC
LIMIT 1
