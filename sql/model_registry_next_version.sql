-- The version number the next training run of a model registers.
SELECT COALESCE(MAX(version), 0) + 1 AS next_version
FROM model_registry
WHERE model_name = @model_name
