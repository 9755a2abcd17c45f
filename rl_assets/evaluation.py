"""Honest evaluation: walk-forward splits by trading date, AUC, and confidence intervals.

Rules (docs/design.md): splits are by date and walk forward; between a training slice and its test
slice lie `purge` trading days (>= the 3-day label horizon, so no training label reaches into the
test slice) plus an `embargo` (features such as 20-day returns overlap across neighbouring days).
Scalers and models are fit on the training slice only; that is the caller's side of the contract.

Rows of one trading date share a market: they are not independent draws. Confidence intervals
therefore come from a bootstrap over dates (every row of a drawn date comes with it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rl_assets.reward import HORIZON_DAYS


@dataclass(frozen=True)
class Fold:
    train_dates: list[dt.date]
    test_dates: list[dt.date]
    gap: int  # dates of the data skipped between the last training date and the first test date


def walk_forward_splits(
    dates: Sequence[dt.date],
    *,
    n_folds: int = 4,
    min_train_dates: int = 60,
    purge: int = HORIZON_DAYS,
    embargo: int = 2,
) -> list[Fold]:
    """Expanding-window folds over the sorted distinct `dates` (trading dates of the data).

    The dates after the first min_train_dates + purge + embargo are cut into n_folds consecutive
    test blocks; fold k trains on every date up to purge + embargo dates before its test block.
    """
    if purge < HORIZON_DAYS:
        raise ValueError(f"purge must be >= the label horizon ({HORIZON_DAYS} trading days); got {purge}")
    if embargo < 0:
        raise ValueError(f"embargo must be >= 0; got {embargo}")
    if n_folds < 1 or min_train_dates < 1:
        raise ValueError(f"need n_folds >= 1 and min_train_dates >= 1; got {n_folds}, {min_train_dates}")
    ordered = sorted(set(dates))
    gap = purge + embargo
    first_test = min_train_dates + gap
    if len(ordered) - first_test < n_folds:
        raise ValueError(
            f"{len(ordered)} dates are too few for {n_folds} folds after {min_train_dates} training dates "
            f"and a gap of {gap} (purge {purge} + embargo {embargo})"
        )
    bounds = np.linspace(first_test, len(ordered), n_folds + 1).round().astype(int)
    return [
        Fold(train_dates=ordered[: start - gap], test_dates=ordered[start:end], gap=gap)
        for start, end in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def roc_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC curve: the (weighted) share of positive-negative pairs the score orders
    right, ties counted half; NaN without both classes.

    With weights = |3-day return| this is the return-weighted AUC of a direction call: under a
    martingale E[R+ | past] = E[R- | past], so no score built from the past beats 0.5 in
    expectation, however skewed the returns (a plain sign AUC can, from volatility alone).
    """
    return RankedScores(labels, scores).auc(weights)


class RankedScores:
    """Labels and scores sorted once, so that the AUC under many weightings (a bootstrap's
    resamples) costs a pass over the rows each, not a sort."""

    def __init__(self, labels, scores):
        labels = np.asarray(labels, dtype=bool)
        scores = np.asarray(scores, dtype=float)
        self.order = np.argsort(scores, kind="stable")
        self.labels = labels[self.order]
        # The distinct score of each sorted row: tied rows share one (ties count half).
        _, self.tie_group = np.unique(scores[self.order], return_inverse=True)
        self.groups = int(self.tie_group.max()) + 1 if len(scores) else 0

    def auc(self, weights: np.ndarray | None = None) -> float:
        """The weighted AUC; `weights` in the rows' original order (None: all 1)."""
        w = np.ones(len(self.order)) if weights is None else np.asarray(weights, dtype=float)[self.order]
        positive, negative = np.where(self.labels, w, 0.0), np.where(self.labels, 0.0, w)
        positive_weight, negative_weight = positive.sum(), negative.sum()
        if positive_weight <= 0 or negative_weight <= 0:
            return float("nan")
        # Negative weight strictly below each distinct score, and at it.
        negative_at = np.bincount(self.tie_group, weights=negative, minlength=self.groups)
        negative_below = np.cumsum(negative_at) - negative_at
        credit = negative_below[self.tie_group] + 0.5 * negative_at[self.tie_group]
        return float((positive * credit).sum() / (positive_weight * negative_weight))


def date_draws(dates: np.ndarray, resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A bootstrap over dates: (each row's date index, [resamples, dates] how often each date is
    drawn), whole dates drawn with replacement as many times as there are dates."""
    unique, inverse = np.unique(np.asarray(dates), return_inverse=True)
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, len(unique), (resamples, len(unique)))
    counts = np.zeros((resamples, len(unique)))
    np.add.at(counts, (np.arange(resamples)[:, None], picked), 1.0)
    return inverse.reshape(-1), counts


def bootstrap_by_date(
    statistic: Callable[[np.ndarray], float],
    dates: np.ndarray,
    *,
    resamples: int = 400,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(estimate, low, high): `statistic(row_weights)` with every row's weight 1, and its percentile
    interval when whole dates are drawn with replacement. A row's weight in a resample is how often
    its date was drawn: a statistic must treat weight k as k copies of the row."""
    inverse, counts = date_draws(dates, resamples, seed)
    estimate = statistic(np.ones(len(inverse)))
    draws = [value for value in (statistic(row[inverse]) for row in counts) if np.isfinite(value)]
    return float(estimate), *_percentile_interval(draws, level)


def _percentile_interval(draws, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2
    low, high = np.quantile(draws, [tail, 1 - tail]) if len(draws) else (np.nan, np.nan)
    return float(low), float(high)


def mean_interval(values, dates, *, resamples: int = 400, level: float = 0.95, seed: int = 0):
    """Mean with a date-clustered bootstrap interval: (mean, low, high). Per-date sums make each
    resample a dot product, so it costs nothing however many rows there are."""
    values = np.asarray(values, dtype=float)
    inverse, counts = date_draws(dates, resamples, seed)
    sums = np.bincount(inverse, weights=values, minlength=counts.shape[1])
    rows = np.bincount(inverse, minlength=counts.shape[1]).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = (counts @ sums) / (counts @ rows)
    estimate = values.mean() if len(values) else np.nan
    return float(estimate), *_percentile_interval(draws[np.isfinite(draws)], level)


def interval_dict(estimate: tuple[float, float, float], digits: int = 4) -> dict:
    """(value, low, high) as a dict for metadata and JSON."""
    return {"value": round(estimate[0], digits), "low": round(estimate[1], digits), "high": round(estimate[2], digits)}


def auc_interval(labels, scores, dates, weights=None, **bootstrap) -> tuple[float, float, float]:
    """(Weighted) AUC with a date-clustered bootstrap interval: (auc, low, high)."""
    ranked = RankedScores(labels, scores)
    base = np.ones(len(ranked.order)) if weights is None else np.asarray(weights, dtype=float)
    return bootstrap_by_date(lambda w: ranked.auc(base * w), dates, **bootstrap)


def auc_lift_interval(labels, scores, reference_scores, dates, **bootstrap) -> tuple[float, float, float]:
    """AUC(scores) - AUC(reference_scores) on the same rows and the same resampled dates."""
    ours, theirs = RankedScores(labels, scores), RankedScores(labels, reference_scores)
    return bootstrap_by_date(lambda w: ours.auc(w) - theirs.auc(w), dates, **bootstrap)


def walk_forward_scores(
    frame: pd.DataFrame,
    features: Sequence[str],
    target: str,
    folds: Sequence[Fold],
    make_model: Callable[[], object],
    *,
    date_column: str = "snapshot_date",
    weight: str | None = None,
) -> pd.DataFrame:
    """Out-of-sample scores: for each fold a fresh model (fit(X, y[, sample_weight]) and
    predict_proba, as scikit-learn's) is fit on the fold's training dates only and scores its test
    dates. Returns the test rows of every fold with a `score` and a `fold` column."""
    missing = [c for c in [*features, target, date_column] if c not in frame.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the frame")
    parts = []
    for number, fold in enumerate(folds):
        train = frame[frame[date_column].isin(fold.train_dates)]
        test = frame[frame[date_column].isin(fold.test_dates)]
        if train.empty or test.empty:
            raise ValueError(f"fold {number} has no training or no test rows")
        model = make_model()
        fit_kwargs = {"sample_weight": train[weight].to_numpy(float)} if weight else {}
        model.fit(train[list(features)].to_numpy(float), train[target].to_numpy(), **fit_kwargs)
        scores = model.predict_proba(test[list(features)].to_numpy(float))[:, 1]
        parts.append(test.assign(score=scores, fold=number))
    return pd.concat(parts, ignore_index=True)
