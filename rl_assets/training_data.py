"""What a training run reads of rl_dataset: a bounded, stratified per-day sample, whole days per statement.

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
- whole days per statement, at most `candidates_per_read` candidates each (one full-market day is a
  statement of its own), so the warehouse's work, its result and the driver's copy of it stay bounded
  whatever the history's length (BigQuery prunes the other days' partitions). The sample is chosen on
  the keys alone and only its rows are read back; after each statement the backend lets go of the
  table blocks it cached (DuckDB keeps them up to its memory limit, and no day is read twice).

Memory is then bounded by the sample: at most max_rows rows of 32 float32 features and a few keys (about
450 bytes a row through training: ~120 MB at the default), independent of how many candidates the
market lists and of how many days the history holds. Walk-forward evaluation scores the test days'
sampled rows: the same policy, so training and evaluation see days of the same shape.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rl_assets.features import STATE_FEATURES, raw_matrix

TRAINING_ROWS_STATEMENT = "rl_dataset_training_rows"
LABELLED_DAYS_STATEMENT = "rl_dataset_labelled_days"
NO_CUTOFF = dt.date(9999, 12, 31)  # labels_before when every label counts (BigQuery's largest DATE)


@dataclass(frozen=True)
class SamplingPolicy:
    """How many rows of each day a training run reads, and how."""

    max_per_day: int = 2048  # rows a day, stratified by underlying x moneyness (a day with fewer is read whole)
    # Rows a run holds at most, whatever the history's length: beyond max_rows / max_per_day days (128
    # at the defaults) each day gives max_rows / days rows. About 450 bytes a row while training.
    max_rows: int = 262_144
    seed: int = 0  # the within-stratum order: the same seed, the same sample
    # Candidates one statement samples from (whole days; a day with more is read alone): bounds the
    # warehouse's work per statement. The demo's 60 days are one statement, a full-market day its own.
    candidates_per_read: int = 2_000_000

    def rows_per_day(self, days: int) -> int:
        """The per-day cap for a history of `days` trading days."""
        return max(1, min(self.max_per_day, self.max_rows // max(days, 1)))

    def __post_init__(self) -> None:
        for name in ("max_per_day", "max_rows", "candidates_per_read"):
            if getattr(self, name) < 1:
                raise ValueError(f"SamplingPolicy.{name} must be >= 1; got {getattr(self, name)}")


class NoTrainingRows(ValueError):
    """rl_dataset holds no labelled row the run may train on."""


def read_training_rows(
    wh, policy: SamplingPolicy = SamplingPolicy(), labels_before: dt.date | None = None
) -> pd.DataFrame:
    """The sampled labelled rows of every day rl_dataset holds (only those whose labels were known before
    `labels_before`, when given), whole days per statement, at most `policy.candidates_per_read`
    candidates a statement (at least one day); features as float32. Raises NoTrainingRows when there
    is none."""
    cutoff = NO_CUTOFF if labels_before is None else labels_before
    days = wh.query(LABELLED_DAYS_STATEMENT, {"labels_before": cutoff})
    if days.empty:
        if labels_before is None or not wh.query("rl_dataset_date_range").iloc[0]["row_count"]:
            raise NoTrainingRows("rl_dataset has no labelled rows: materialise rl_dataset first")
        raise NoTrainingRows(f"no rl_dataset row has all its labels known before {labels_before}")
    per_day = policy.rows_per_day(len(days))
    parts = []
    for first, last in statement_windows(days["snapshot_date"], days["labelled_rows"], policy.candidates_per_read):
        params = {
            "start_date": first, "end_date": last, "labels_before": cutoff, "max_per_day": per_day,
            "seed": policy.seed,
        }  # fmt: skip
        parts.append(_compact(wh.query(TRAINING_ROWS_STATEMENT, params)))
        wh.release_cached_blocks()  # no day is read twice: DuckDB's cache would only grow with the history
    return pd.concat(parts, ignore_index=True)


def statement_windows(dates, candidates, budget: int) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days grouped into [first, last] windows of at most `budget` candidates each (a
    day with more is a window of its own)."""
    windows, first, last, total = [], None, None, 0
    for day, count in zip(pd.to_datetime(pd.Series(dates)).dt.date, candidates, strict=True):
        if first is not None and total + count > budget:
            windows.append((first, last))
            first, total = None, 0
        first = day if first is None else first
        last, total = day, total + int(count)
    if first is not None:
        windows.append((first, last))
    return windows


def _compact(part: pd.DataFrame) -> pd.DataFrame:
    """Dates as datetime.date, symbols as Arrow strings, the state features as float32 (booleans 0/1, missing NaN): half the
    memory of float64, and the models compute in float32 anyway."""
    for column in ("snapshot_date", "label_end_date"):
        part[column] = pd.to_datetime(part[column]).dt.date
    for column in ("contract_symbol", "underlying"):  # Arrow strings: a few bytes a row, not a Python object
        part[column] = part[column].astype("string[pyarrow]")
    features = raw_matrix(part, STATE_FEATURES).astype(np.float32)
    return part.assign(**{column: features[:, i] for i, column in enumerate(STATE_FEATURES)})
