"""Model artifacts and the model_registry table.

An artifact is one file, `<location>/<model_name>/v<version>-<trained_at>-<random hex>.pt` (e.g.
`data/models/ppo_agent/v3-20261124T210512Z-9f2c41d0.pt`), written with torch.save: the weights (a
state dict), the model's config and the feature scaler, plain values otherwise, so it loads back
with `torch.load(weights_only=True)` and gives bit-for-bit the same weights. `location` is a local
folder (default data/models) or a gs://bucket/prefix (google-cloud-storage, installed with
dagster-gcp; credentials from the environment).

Every training run registers a version (model_registry): train window, usable_from (the first
trading day on which every training label was already known), metrics and the artifact's URI.
The version number is the registry's; the file name is unique on its own (a timestamp and random
bits), so two warehouses sharing one store (a second RL_ASSETS_DUCKDB_PATH, or a fresh warehouse
after `make clean`, which keeps data/models) never collide, and a file is never overwritten.

The artifact is saved before its registry row is written, so a kill between the two leaves an
orphan file. An orphan is harmless: no row points at it, nothing reads it, and it blocks no later
version (the next run writes a file of its own). Orphans are the files under `location` that no
model_registry row's artifact_uri names (of this warehouse and of any other sharing the store).

The artifact carries its identity (model_name, version, kind): `load_version` checks it against
the registry row and refuses an artifact of another model or version; every load error names the
model, the version and the file. Artifacts written before identities were stored
(`<model_name>/v<version>.pt`) are identified by that path.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import secrets
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


@dataclass(frozen=True)
class ModelName:
    """One of the project's models: `name` is its asset's and its model_registry rows' name,
    `short` the name of its scores in the evaluation metrics (score_<short>, metrics[<short>]),
    `kind` what its artifact holds."""

    name: str
    short: str
    kind: str


BASELINE_MODEL = ModelName("baseline_model", "baseline", "hit_classifier")
PPO_AGENT = ModelName("ppo_agent", "ppo", "ppo_actor_critic")
MODELS = (BASELINE_MODEL, PPO_AGENT)  # trained together (training_job, the retraining rule)
MODEL_NAMES = tuple(model.name for model in MODELS)


def new_artifact_uri(location: str, model_name: str, version: int, trained_at: pd.Timestamp) -> str:
    """A file name no other training run writes: the version, when it was trained (UTC) and 32
    random bits, so stores shared by several warehouses (each numbering its own versions) and
    orphans of killed runs never collide."""
    if not isinstance(model_name, str) or not MODEL_NAME.match(model_name):
        raise ValueError(f"invalid model name {model_name!r}: use letters, digits and underscores")
    if version < 1:
        raise ValueError(f"version must be >= 1; got {version}")
    stamp = _utc(trained_at).strftime("%Y%m%dT%H%M%SZ")
    return f"{location.rstrip('/')}/{model_name}/v{version}-{stamp}-{secrets.token_hex(4)}.pt"


def _utc(timestamp) -> pd.Timestamp:
    timestamp = pd.Timestamp(timestamp)
    return timestamp.tz_localize("UTC") if timestamp.tzinfo is None else timestamp.tz_convert("UTC")


def _gcs_blob(uri: str):
    from google.cloud import storage

    bucket, _, name = uri.removeprefix("gs://").partition("/")
    if not bucket or not name:
        raise ValueError(f"not a gs://bucket/object URI: {uri!r}")
    return storage.Client().bucket(bucket).blob(name)


def save_artifact(uri: str, payload: dict) -> str:
    """Write a new artifact; never overwrite one (an existing file or object is an error)."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    if uri.startswith("gs://"):
        # if_generation_match=0: the upload fails if the object exists.
        _gcs_blob(uri).upload_from_string(
            buffer.getvalue(), content_type="application/octet-stream", if_generation_match=0
        )
        return uri
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("xb") as file:  # exclusive: fails if the file exists
            file.write(buffer.getvalue())
            file.flush()
            os.fsync(file.fileno())  # on disk before a registry row points at it
    except FileExistsError as error:
        raise FileExistsError(f"artifact {uri} exists already: artifacts are never overwritten") from error
    return uri


def load_artifact(uri: str) -> dict:
    """The payload stored at `uri`, unchecked (`load_version` checks it against the registry)."""
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


class ArtifactError(Exception):
    """A registered version whose artifact cannot be used; the message names the model, the
    version and the file."""

    def __init__(self, version: ModelVersion, reason: str):
        self.version, self.reason = version, reason
        super().__init__(f"{version.model_name} v{version.version} (artifact {version.artifact_uri}): {reason}")


def load_version(version: ModelVersion, kind: str | None = None) -> dict:
    """The artifact of a registered version, checked to be that model's and that version's (and,
    given `kind`, of that kind); ArtifactError otherwise, or if it cannot be read."""
    try:
        artifact = load_artifact(version.artifact_uri)
    except Exception as error:  # missing, truncated, garbage, unreachable: all mean "cannot be loaded"
        raise ArtifactError(version, f"cannot be loaded: {type(error).__name__}: {error}") from error
    if not isinstance(artifact, dict):
        raise ArtifactError(version, f"holds a {type(artifact).__name__}, not a model artifact")
    held = (artifact.get("model_name"), artifact.get("version"))
    if held == (None, None):
        # Written before artifacts carried their identity: then the path was <model_name>/v<version>.pt.
        if version.artifact_uri.rsplit("/", 2)[-2:] != [version.model_name, f"v{version.version}.pt"]:
            raise ArtifactError(
                version, "the artifact does not say which model it holds, and its path is not the model's"
            )
    elif held != (version.model_name, version.version):
        raise ArtifactError(
            version,
            f"the registry row is {version.model_name} v{version.version} but the artifact holds "
            f"{held[0]} v{held[1]}: refusing another model's weights",
        )
    if kind is not None and artifact.get("kind") != kind:
        raise ArtifactError(version, f"holds a {artifact.get('kind')!r} model; {version.model_name} needs {kind!r}")
    return artifact


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
    """Write the artifact of the next version of `model_name` and register it. The payload is
    stored with the model's identity (model_name, version, trained_at) added; it must say its
    `kind`."""
    if usable_from <= train_end:
        raise ValueError(f"usable_from {usable_from} must be after the last training day {train_end}")
    if not isinstance(payload.get("kind"), str):
        raise ValueError(f"the payload of {model_name} must say its kind (e.g. 'hit_classifier')")
    if payload.get("model_name", model_name) != model_name:
        raise ValueError(f"the payload says model {payload['model_name']!r}, registered as {model_name!r}")
    version = int(warehouse.query("model_registry_next_version", {"model_name": model_name})["next_version"].iloc[0])
    trained_at = _utc(trained_at if trained_at is not None else pd.Timestamp.now(tz="UTC"))
    metrics_json = json.dumps(metrics, sort_keys=True, default=float)  # before the file: a bad value writes nothing
    stamped = {**payload, "model_name": model_name, "version": version, "trained_at": trained_at.isoformat()}
    uri = save_artifact(new_artifact_uri(location, model_name, version, trained_at), stamped)
    warehouse.execute(
        "insert_model_registry",
        {
            "model_name": model_name, "version": version, "trained_at": trained_at.to_pydatetime(),
            "train_start": train_start, "train_end": train_end, "usable_from": usable_from,
            "metrics": metrics_json, "artifact_uri": uri,
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
