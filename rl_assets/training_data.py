"""What a training run reads of rl_dataset: a bounded, stratified per-day sample, read a few days at a time.

A year of the full US market is ~340M labelled candidates (~40 GB of features); no training pass needs
them all, and no process should hold them. So the warehouse chooses and filters, and Python only ever
receives the sample (sql/rl_dataset_training_rows.sql):

- at most `max_per_day` rows a day (SamplingPolicy), stratified by underlying and log-moneyness bucket,
  each stratum keeping its share of the day; a day with fewer candidates is read whole. The env's day
  structure survives: every sampled row of a day is there, and only rows of whole days are read;
- at most `max_rows` rows in all: a history longer than max_rows / max_per_day days gets a smaller
  per-day cap (every day the same), so a run's memory does not grow with the history's length;
- only rows whose labels were all known before `labels_before` (a model "as of" a day): the filter
  runs in the warehouse, not after the read;
- one statement per `days_per_read` trading days, so the warehouse's result and the driver's copy of
  it stay bounded whatever the history's length (BigQuery prunes the other days' partitions).

Memory is then bounded by the sample: at most max_rows rows of 32 float32 features and a few keys (about
450 bytes a row through training: ~120 MB at the default), independent of how many candidates the
market lists and of how many days the history holds. Walk-forward
evaluation scores the test days' sampled rows: the same policy, so training and evaluation see days
of the same shape.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from itertools import batched

import numpy as np
import pandas as pd

from rl_assets import calendar
from rl_assets.features import STATE_FEATURES, raw_matrix

TRAINING_ROWS_STATEMENT = "rl_dataset_training_rows"
NO_CUTOFF = dt.date(9999, 12, 31)  # labels_before when every label counts (BigQuery's largest DATE)


@dataclass(frozen=True)
class SamplingPolicy:
    """How many rows of each day a training run reads, and how."""

    max_per_day: int = 2048  # rows a day, stratified by underlying x moneyness (a day with fewer is read whole)
    # Rows a run holds at most, whatever the history's length: beyond max_rows / max_per_day days (128
    # at the defaults) each day gives max_rows / days rows. About 450 bytes a row while training.
    max_rows: int = 262_144
    seed: int = 0  # the within-stratum order: the same seed, the same sample
    days_per_read: int = 10  # trading days per statement

    def rows_per_day(self, days: int) -> int:
        """The per-day cap for a history of `days` trading days."""
        return max(1, min(self.max_per_day, self.max_rows // max(days, 1)))

    def __post_init__(self) -> None:
        for name in ("max_per_day", "max_rows", "days_per_read"):
            if getattr(self, name) < 1:
                raise ValueError(f"SamplingPolicy.{name} must be >= 1; got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return asdict(self)


class NoTrainingRows(ValueError):
    """rl_dataset holds no labelled row the run may train on."""


def read_training_rows(
    wh, policy: SamplingPolicy = SamplingPolicy(), labels_before: dt.date | None = None
) -> pd.DataFrame:
    """The sampled labelled rows of every day rl_dataset holds (only those whose labels were known before
    `labels_before`, when given), read `policy.days_per_read` trading days per statement; features as
    float32. Raises NoTrainingRows when there is none."""
    span = wh.query("rl_dataset_date_range").iloc[0]
    if not span["row_count"]:
        raise NoTrainingRows("rl_dataset has no labelled rows: materialise rl_dataset first")
    first, last = pd.Timestamp(span["first_date"]).date(), pd.Timestamp(span["last_date"]).date()
    cutoff = NO_CUTOFF if labels_before is None else labels_before
    # A label ends after its snapshot: no day on or after the cutoff can hold a usable row.
    days = [d for d in calendar.trading_days(first, last) if d < cutoff]
    per_day = policy.rows_per_day(len(days))
    parts = []
    for chunk in batched(days, policy.days_per_read):
        params = {
            "start_date": chunk[0], "end_date": chunk[-1], "labels_before": cutoff,
            "max_per_day": per_day, "seed": policy.seed,
        }  # fmt: skip
        part = wh.query(TRAINING_ROWS_STATEMENT, params)
        if len(part):
            parts.append(_compact(part))
    if not parts:
        raise NoTrainingRows(f"no rl_dataset row has all its labels known before {labels_before}")
    return pd.concat(parts, ignore_index=True)


def _compact(part: pd.DataFrame) -> pd.DataFrame:
    """Dates as datetime.date, symbols as Arrow strings, the state features as float32 (booleans 0/1, missing NaN): half the
    memory of float64, and the models compute in float32 anyway."""
    for column in ("snapshot_date", "label_end_date"):
        part[column] = pd.to_datetime(part[column]).dt.date
    for column in ("contract_symbol", "underlying"):  # Arrow strings: a few bytes a row, not a Python object
        part[column] = part[column].astype("string[pyarrow]")
    features = raw_matrix(part, STATE_FEATURES).astype(np.float32)
    return part.assign(**{column: features[:, i] for i, column in enumerate(STATE_FEATURES)})
