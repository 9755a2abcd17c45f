"""The walk-forward splitter (purge, embargo, no overlap), AUC against scikit-learn's, the
date-clustered bootstrap, and out-of-sample scoring that never sees a test date in training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from rl_assets import calendar
from rl_assets.evaluation import (
    auc_interval,
    auc_lift_interval,
    bootstrap_by_date,
    mean_interval,
    roc_auc,
    walk_forward_scores,
    walk_forward_splits,
)
from rl_assets.reward import label_days

DATES = calendar.trading_days("2025-01-02", "2025-12-31")


@pytest.mark.parametrize(("purge", "embargo"), [(3, 0), (3, 2), (5, 4)])
def test_folds_walk_forward_with_purge_and_embargo(purge, embargo):
    folds = walk_forward_splits(DATES, n_folds=5, min_train_dates=60, purge=purge, embargo=embargo)
    assert len(folds) == 5
    tested = [d for f in folds for d in f.test_dates]
    assert tested == sorted(tested) and len(tested) == len(set(tested))  # consecutive, disjoint test blocks
    assert tested[-1] == DATES[-1]
    for fold in folds:
        last_train, first_test = fold.train_dates[-1], fold.test_dates[0]
        assert len(fold.train_dates) >= 60 and fold.train_dates == DATES[: len(fold.train_dates)]
        gap = DATES.index(first_test) - DATES.index(last_train) - 1
        assert gap == purge + embargo == fold.gap
        # No training label reaches into the test block: T+3 of the last training day is before it.
        assert label_days(last_train)[-1] < first_test


def test_splitter_refuses_a_purge_shorter_than_the_label_horizon_and_too_few_dates():
    with pytest.raises(ValueError, match=r"purge must be >= the label horizon \(3"):
        walk_forward_splits(DATES, purge=2)
    with pytest.raises(ValueError, match="embargo must be >= 0"):
        walk_forward_splits(DATES, embargo=-1)
    with pytest.raises(ValueError, match="too few for 4 folds"):
        walk_forward_splits(DATES[:64], n_folds=4, min_train_dates=60)


def test_auc_equals_scikit_learn_with_ties_and_weights():
    rng = np.random.default_rng(1)
    for _ in range(20):
        labels = rng.uniform(size=400) < rng.uniform(0.05, 0.6)
        scores = np.round(rng.normal(size=400) + labels * rng.uniform(0, 1), 1)  # many ties
        weights = rng.uniform(0, 3, 400)
        assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
        assert roc_auc(labels, scores, weights) == pytest.approx(
            roc_auc_score(labels, scores, sample_weight=weights), abs=1e-12
        )
    assert np.isnan(roc_auc(np.ones(5, bool), np.arange(5.0)))


def test_return_weighted_auc_is_fair_on_skewed_martingale_returns_where_sign_auc_is_not():
    """Returns whose volatility is known in advance: a plain sign AUC 'predicts' direction from
    volatility alone (skewed, mean-zero returns), the return-weighted AUC does not."""
    rng = np.random.default_rng(7)
    vol = rng.choice([0.05, 0.6], 200_000)
    returns = np.exp(vol * rng.normal(size=vol.size) - 0.5 * vol**2) - 1  # E[return | vol] = 0
    up = returns > 0
    assert roc_auc(up, -vol) > 0.55
    assert roc_auc(up, -vol, np.abs(returns)) == pytest.approx(0.5, abs=0.01)


def test_bootstrap_by_date_resamples_whole_dates():
    dates = np.repeat(np.arange(50), 20)
    values = np.repeat(np.random.default_rng(2).normal(size=50), 20)  # one value per date
    estimate, low, high = bootstrap_by_date(lambda weights: np.average(values, weights=weights), dates, resamples=300)
    assert estimate == pytest.approx(values.mean())
    # Treating the 1,000 rows as independent would give an interval about sqrt(20) times narrower.
    assert (high - low) > 3 * 1.96 * values.std() / np.sqrt(len(values))
    assert low < estimate < high


def test_bootstrap_intervals_equal_resampling_the_rows_themselves():
    """The weighted bootstrap (a date drawn k times weighs k) against the plain one: every resample's
    rows concatenated and the statistic recomputed on them, with the same draws."""
    rng = np.random.default_rng(5)
    dates = np.repeat(np.arange(40), rng.integers(1, 30, 40))
    labels = rng.uniform(size=dates.size) < 0.3
    scores = np.round(labels + rng.normal(size=dates.size), 1)  # rounded: ties across rows
    values = rng.normal(size=dates.size)
    draws = np.random.default_rng(0)
    rows_of = [np.flatnonzero(dates == d) for d in range(40)]
    auc_draws, mean_draws = [], []
    for _ in range(200):
        rows = np.concatenate([rows_of[i] for i in draws.integers(0, 40, 40)])
        auc_draws.append(roc_auc_score(labels[rows], scores[rows]))
        mean_draws.append(values[rows].mean())
    for ours, theirs, estimate in (
        (auc_interval(labels, scores, dates, resamples=200), auc_draws, roc_auc_score(labels, scores)),
        (mean_interval(values, dates, resamples=200), mean_draws, values.mean()),
    ):
        expected = (estimate, *np.quantile(theirs, [0.025, 0.975]))
        assert ours == pytest.approx(expected, abs=1e-12)


def test_auc_intervals_cover_known_skill_and_its_absence():
    rng = np.random.default_rng(3)
    dates = np.repeat(np.arange(120), 50)
    labels = rng.uniform(size=dates.size) < 0.3
    informative = labels + rng.normal(scale=2.0, size=dates.size)
    noise = rng.normal(size=dates.size)
    auc, low, high = auc_interval(labels, informative, dates)
    assert 0.5 < low < auc < high
    auc, low, high = auc_interval(labels, noise, dates)
    assert low < 0.5 < high
    lift, low, high = auc_lift_interval(labels, informative, noise, dates)
    assert low > 0


def test_walk_forward_scores_fit_on_training_dates_only():
    days = DATES[:120]
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"snapshot_date": np.repeat(days, 10), "x": rng.normal(size=1200)})
    frame["y"] = (frame["x"] + rng.normal(size=1200)) > 0
    folds = walk_forward_splits(days, n_folds=3, min_train_dates=40)
    seen: list[set] = []

    class Recording(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            seen.append({tuple(row) for row in X})
            return super().fit(X, y, sample_weight=sample_weight)

    scored = walk_forward_scores(frame, ["x"], "y", folds, Recording)
    assert sorted(scored["snapshot_date"].unique()) == [d for f in folds for d in f.test_dates]
    for fold, training_rows in zip(folds, seen, strict=True):
        test_rows = {(x,) for x in frame.loc[frame["snapshot_date"].isin(fold.test_dates), "x"]}
        assert not training_rows & test_rows
    assert roc_auc(scored["y"], scored["score"]) > 0.65
    with pytest.raises(ValueError, match=r"columns \['nope'\] are not in the frame"):
        walk_forward_scores(frame, ["nope"], "y", folds, Recording)
