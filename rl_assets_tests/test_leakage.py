"""Leakage guards (docs/design.md, "Honest evaluation rules"), on datasets built by the real pipeline
(prices, archive, technicals, rl_state, rl_dataset in DuckDB) from two synthetic markets that differ
only in the signal knob:

- null market (signal 0, a martingale): a strong learner we did not write (scikit-learn's
  gradient-boosted trees) finds no out-of-sample skill at the underlying's 3-day direction from
  rl_state, and the underlying's technicals add no lift over a contract-only model of hit_50;
- a positive control: one column that peeks at T+1's close is caught as skill (if this did not
  fail the null test, the test could not see leakage);
- planted market (signal 2): the same learner finds skill, the technicals add lift, and shuffled
  labels remove it.

Direction skill is the return-weighted AUC (weights |3-day return|): under a martingale a plain
sign AUC can beat 0.5 from volatility alone (skewed returns), the weighted one cannot. Folds are
walk-forward with a 3-day purge and a 2-day embargo; intervals are bootstrapped over dates.
The two markets are conftest's `null_market` and `planted_market` fixtures (built once per test
session, shared with the model tests).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from rl_assets.evaluation import auc_interval, auc_lift_interval, walk_forward_scores, walk_forward_splits
from rl_assets.schema import CONTRACT_FEATURES, TECHNICAL_FEATURES


def learner():
    return HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, random_state=0)


def _folds(frame: pd.DataFrame):
    return walk_forward_splits(
        sorted(frame["snapshot_date"].unique()), n_folds=4, min_train_dates=60, purge=3, embargo=2
    )


def _underlying_days(market: dict) -> pd.DataFrame:
    """One row per underlying and day: its technicals at T and its 3-day return."""
    frame = market["dataset"].groupby(["underlying", "snapshot_date"], as_index=False).first()
    frame["up"] = frame["underlying_return_3d"] > 0
    frame["abs_return"] = frame["underlying_return_3d"].abs()
    return frame


def direction_skill(frame: pd.DataFrame, features: list[str]) -> tuple[float, float, float]:
    scored = walk_forward_scores(frame, features, "up", _folds(frame), learner, weight="abs_return")
    return auc_interval(scored["up"], scored["score"], scored["snapshot_date"], weights=scored["abs_return"])


def technicals_lift(market: dict) -> tuple[float, float, float]:
    """AUC of hit_50 with contract + technical features minus contract features alone, same rows."""
    frame = market["dataset"][market["dataset"]["hit_50"].notna()].copy()
    frame["hit"] = frame["hit_50"].astype(bool)
    folds = _folds(frame)
    contract_only = walk_forward_scores(frame, CONTRACT_FEATURES, "hit", folds, learner)
    full = walk_forward_scores(frame, CONTRACT_FEATURES + TECHNICAL_FEATURES, "hit", folds, learner)
    assert (contract_only["contract_symbol"].to_numpy() == full["contract_symbol"].to_numpy()).all()
    return auc_lift_interval(full["hit"], full["score"], contract_only["score"], full["snapshot_date"])


def with_peek(market: dict, frame: pd.DataFrame) -> pd.DataFrame:
    """The positive control: the underlying's return from T's close to T+1's, a column from the future."""
    prices = market["prices"].sort_values(["ticker", "date"])
    prices = prices.assign(peek_return_1d=prices.groupby("ticker")["close"].shift(-1) / prices["close"] - 1)
    peek = prices[["ticker", "date", "peek_return_1d"]].rename(
        columns={"ticker": "underlying", "date": "snapshot_date"}
    )
    return frame.merge(peek, on=["underlying", "snapshot_date"], how="left", validate="one_to_one")


STATE_FEATURES = CONTRACT_FEATURES + TECHNICAL_FEATURES


def test_null_market_direction_is_not_predictable(null_market):
    auc, low, high = direction_skill(_underlying_days(null_market), STATE_FEATURES)
    assert low <= 0.5 <= high, f"skill on a martingale (leak?): return-weighted AUC {auc:.4f} [{low:.4f}, {high:.4f}]"
    assert high - low < 0.06  # the interval is narrow enough for the test to see skill at all


def test_null_market_technicals_add_no_lift(null_market):
    lift, low, high = technicals_lift(null_market)
    assert low <= 0.0 <= high, f"technicals add lift on a martingale (leak?): {lift:.4f} [{low:.4f}, {high:.4f}]"


def test_a_column_peeking_at_t_plus_1_is_caught(null_market):
    frame = with_peek(null_market, _underlying_days(null_market))
    assert frame["peek_return_1d"].notna().all()
    auc, low, high = direction_skill(frame, [*STATE_FEATURES, "peek_return_1d"])
    assert low > 0.55, f"the peeking column was not caught: AUC {auc:.4f} [{low:.4f}, {high:.4f}]"


def test_planted_signal_is_learnable(planted_market):
    auc, low, high = direction_skill(_underlying_days(planted_market), STATE_FEATURES)
    assert low > 0.52, f"planted signal not found: AUC {auc:.4f} [{low:.4f}, {high:.4f}]"
    lift, low, high = technicals_lift(planted_market)
    assert low > 0.0, f"technicals add no lift where the signal lives in them: {lift:.4f} [{low:.4f}, {high:.4f}]"


def test_shuffled_labels_remove_the_planted_skill(planted_market):
    frame = _underlying_days(planted_market)
    shuffled = np.random.default_rng(0).permutation(len(frame))
    frame = frame.assign(up=frame["up"].to_numpy()[shuffled], abs_return=frame["abs_return"].to_numpy()[shuffled])
    auc, low, high = direction_skill(frame, STATE_FEATURES)
    assert low <= 0.5 <= high, f"skill survived shuffled labels: AUC {auc:.4f} [{low:.4f}, {high:.4f}]"
