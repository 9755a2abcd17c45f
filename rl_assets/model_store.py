"""Model artifacts and the model_registry table.

An artifact is one file, `<location>/<model_name>/v<version>.pt`, written with torch.save: the
weights (a state dict), the model's config and the feature scaler, plain values otherwise, so it
loads back with `torch.load(weights_only=True)` and gives bit-for-bit the same weights.
`location` is a local folder (default data/models) or a gs://bucket/prefix (google-cloud-storage,
installed with dagster-gcp; credentials from the environment).

Every training run registers a version (model_registry): train window, usable_from (the first
trading day on which every training label was already known), metrics and the artifact's URI.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from rl_assets import calendar


def usable_from(label_end_dates: Iterable[dt.date]) -> dt.date:
    """The session after the last label_end_date of the training rows: the first day on which a
    model trained on them had every training label known before it."""
    dates = [calendar.as_date(d) for d in label_end_dates]
    if not dates:
        raise ValueError("no training rows: usable_from needs their label_end_date")
    return calendar.shift_trading_days(max(dates), 1)


MODEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def artifact_uri(location: str, model_name: str, version: int) -> str:
    if not isinstance(model_name, str) or not MODEL_NAME.match(model_name):
        raise ValueError(f"invalid model name {model_name!r}: use letters, digits and underscores")
    if version < 1:
        raise ValueError(f"version must be >= 1; got {version}")
    return f"{location.rstrip('/')}/{model_name}/v{version}.pt"


def _gcs_blob(uri: str):
    from google.cloud import storage

    bucket, _, name = uri.removeprefix("gs://").partition("/")
    if not bucket or not name:
        raise ValueError(f"not a gs://bucket/object URI: {uri!r}")
    return storage.Client().bucket(bucket).blob(name)


def save_artifact(uri: str, payload: dict) -> str:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    if uri.startswith("gs://"):
        _gcs_blob(uri).upload_from_string(buffer.getvalue(), content_type="application/octet-stream")
    else:
        path = Path(uri)
        if path.exists():
            raise FileExistsError(f"artifact {uri} exists already: versions are never overwritten")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buffer.getvalue())
    return uri


def load_artifact(uri: str) -> dict:
    if uri.startswith("gs://"):
        data = _gcs_blob(uri).download_as_bytes()
    else:
        path = Path(uri)
        if not path.exists():
            raise FileNotFoundError(f"model artifact {uri} does not exist")
        data = path.read_bytes()
    return torch.load(io.BytesIO(data), weights_only=True)


@dataclass(frozen=True)
class ModelVersion:
    model_name: str
    version: int
    trained_at: pd.Timestamp
    train_start: dt.date
    train_end: dt.date
    usable_from: dt.date
    metrics: dict
    artifact_uri: str


def _version(row) -> ModelVersion:
    return ModelVersion(
        model_name=row["model_name"],
        version=int(row["version"]),
        trained_at=pd.Timestamp(row["trained_at"]),
        train_start=pd.Timestamp(row["train_start"]).date(),
        train_end=pd.Timestamp(row["train_end"]).date(),
        usable_from=pd.Timestamp(row["usable_from"]).date(),
        metrics=json.loads(row["metrics"]),
        artifact_uri=row["artifact_uri"],
    )


def register(
    warehouse,
    *,
    location: str,
    model_name: str,
    payload: dict,
    train_start: dt.date,
    train_end: dt.date,
    usable_from: dt.date,
    metrics: dict,
    trained_at: pd.Timestamp | None = None,
) -> ModelVersion:
    """Write the artifact of the next version of `model_name` and register it."""
    if usable_from <= train_end:
        raise ValueError(f"usable_from {usable_from} must be after the last training day {train_end}")
    version = int(warehouse.query("model_registry_next_version", {"model_name": model_name})["next_version"].iloc[0])
    uri = save_artifact(artifact_uri(location, model_name, version), payload)
    trained_at = pd.Timestamp(trained_at if trained_at is not None else pd.Timestamp.now(tz="UTC"))
    warehouse.execute(
        "insert_model_registry",
        {
            "model_name": model_name, "version": version, "trained_at": trained_at.to_pydatetime(),
            "train_start": train_start, "train_end": train_end, "usable_from": usable_from,
            "metrics": json.dumps(metrics, sort_keys=True, default=float), "artifact_uri": uri,
        },
    )  # fmt: skip
    return ModelVersion(model_name, version, trained_at, train_start, train_end, usable_from, metrics, uri)


def versions(warehouse, model_name: str) -> list[ModelVersion]:
    """Every registered version of a model, newest first."""
    return [
        _version(row) for _, row in warehouse.query("model_registry_versions", {"model_name": model_name}).iterrows()
    ]


def usable_version(warehouse, model_name: str, day: dt.date) -> ModelVersion | None:
    """The newest version of `model_name` usable on `day`, or None."""
    rows = warehouse.query("model_registry_usable", {"model_name": model_name, "day": calendar.as_date(day)})
    return None if rows.empty else _version(rows.iloc[0])
