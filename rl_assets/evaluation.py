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
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    weights = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=float)
    positive_weight, negative_weight = weights[labels].sum(), weights[~labels].sum()
    if positive_weight <= 0 or negative_weight <= 0:
        return float("nan")
    order = np.argsort(scores, kind="stable")
    sorted_scores, sorted_weights, sorted_labels = scores[order], weights[order], labels[order]
    # Negative weight strictly below each distinct score, and at it (ties count half).
    distinct, first, inverse = np.unique(sorted_scores, return_index=True, return_inverse=True)
    negative_at = np.bincount(inverse, weights=np.where(sorted_labels, 0.0, sorted_weights), minlength=len(distinct))
    negative_below = np.cumsum(negative_at) - negative_at
    credit = negative_below[inverse] + 0.5 * negative_at[inverse]
    return float((sorted_weights * credit)[sorted_labels].sum() / (positive_weight * negative_weight))


def bootstrap_by_date(
    statistic: Callable[[np.ndarray], float],
    dates: np.ndarray,
    *,
    resamples: int = 400,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(estimate, low, high): `statistic(row_indices)` on all rows, and its percentile interval
    when whole dates are drawn with replacement."""
    dates = np.asarray(dates)
    unique, inverse = np.unique(dates, return_inverse=True)
    rows_of = [np.flatnonzero(inverse == i) for i in range(len(unique))]
    rng = np.random.default_rng(seed)
    estimate = statistic(np.arange(len(dates)))
    draws = []
    for _ in range(resamples):
        picked = rng.integers(0, len(unique), len(unique))
        value = statistic(np.concatenate([rows_of[i] for i in picked]))
        if np.isfinite(value):
            draws.append(value)
    tail = (1 - level) / 2
    low, high = np.quantile(draws, [tail, 1 - tail]) if draws else (np.nan, np.nan)
    return float(estimate), float(low), float(high)


def mean_interval(values, dates, **bootstrap) -> tuple[float, float, float]:
    """Mean with a date-clustered bootstrap interval: (mean, low, high)."""
    values = np.asarray(values, dtype=float)
    return bootstrap_by_date(lambda rows: float(values[rows].mean()), dates, **bootstrap)


def interval_dict(estimate: tuple[float, float, float], digits: int = 4) -> dict:
    """(value, low, high) as a dict for metadata and JSON."""
    return {"value": round(estimate[0], digits), "low": round(estimate[1], digits), "high": round(estimate[2], digits)}


def auc_interval(labels, scores, dates, weights=None, **bootstrap) -> tuple[float, float, float]:
    """(Weighted) AUC with a date-clustered bootstrap interval: (auc, low, high)."""
    labels, scores = np.asarray(labels, dtype=bool), np.asarray(scores, dtype=float)
    weights = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=float)
    return bootstrap_by_date(lambda rows: roc_auc(labels[rows], scores[rows], weights[rows]), dates, **bootstrap)


def auc_lift_interval(labels, scores, reference_scores, dates, **bootstrap) -> tuple[float, float, float]:
    """AUC(scores) - AUC(reference_scores) on the same rows and the same resampled dates."""
    labels = np.asarray(labels, dtype=bool)
    scores, reference = np.asarray(scores, dtype=float), np.asarray(reference_scores, dtype=float)
    return bootstrap_by_date(
        lambda rows: roc_auc(labels[rows], scores[rows]) - roc_auc(labels[rows], reference[rows]), dates, **bootstrap
    )


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
