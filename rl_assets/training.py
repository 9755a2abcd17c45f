"""Train and evaluate the two models on rl_dataset rows, on the same walk-forward folds.

For each fold, fit on the training dates only (the scaler included), score the test dates, and
compare: the daily top-k picks' hit rate of >50%-in-3-days against the base rate (every candidate
of those days) and against each other, with intervals from a bootstrap over dates, the picks' mean
reward beside it, and the AUC of hit_50. A contract-only classifier (the same network on the
option's own features) is the reference for skill the market has not priced (DESIGN.md).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rl_assets.baseline import BaselineConfig, HitClassifier, predict_proba, train_classifier
from rl_assets.evaluation import (
    Fold,
    auc_interval,
    interval_dict,
    mean_interval,
    walk_forward_splits,
)
from rl_assets.features import STATE_FEATURES, Scaler
from rl_assets.ppo import ActorCritic, PPOConfig, TrainingReport, take_probability, train_ppo
from rl_assets.rl_env import candidate_days

PICKS = (1, 3, 5, 10)


@dataclass(frozen=True)
class EvaluationConfig:
    n_folds: int = 3
    min_train_dates: int = 30
    purge: int = 3
    embargo: int = 2
    max_candidates_per_day: int = 64  # PPO episodes: candidates per day (a seeded sample)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)

    @property
    def min_dates(self) -> int:
        """Labelled trading dates the walk-forward evaluation needs: the first training slice, the
        gap after it and one test date per fold."""
        return self.min_train_dates + self.purge + self.embargo + self.n_folds


Scorer = Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]


def fit_baseline(
    train: pd.DataFrame, config: BaselineConfig, columns: Sequence[str] = STATE_FEATURES
) -> tuple[Scaler, HitClassifier]:
    """The scaler and the hit_50 classifier, both fit on `train` only."""
    scaler = Scaler.fit(train, columns)
    return scaler, train_classifier(scaler.transform(train), train["hit_50"].astype(bool).to_numpy(), config)


def fit_ppo(
    train: pd.DataFrame,
    config: PPOConfig,
    max_per_day: int,
    columns: Sequence[str] = STATE_FEATURES,
    device: str = "cpu",
) -> tuple[Scaler, ActorCritic, TrainingReport]:
    """The scaler (fit on `train` only) and a PPO agent trained on episodes of `train`'s days."""
    scaler = Scaler.fit(train, columns)
    model, report = train_ppo(candidate_days(train, scaler, max_per_day, seed=config.seed), config, device=device)
    return scaler, model, report


def score_baseline(config: BaselineConfig, columns: Sequence[str] = STATE_FEATURES) -> Scorer:
    def fit_and_score(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        scaler, model = fit_baseline(train, config, columns)
        return predict_proba(model, scaler.transform(test))

    return fit_and_score


def score_ppo(config: PPOConfig, max_per_day: int, columns: Sequence[str] = STATE_FEATURES) -> Scorer:
    def fit_and_score(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        scaler, model, _ = fit_ppo(train, config, max_per_day, columns)
        return take_probability(model, scaler.transform(test))

    return fit_and_score


def folds_for(frame: pd.DataFrame, config: EvaluationConfig) -> list[Fold]:
    return walk_forward_splits(
        sorted(frame["snapshot_date"].unique()),
        n_folds=config.n_folds, min_train_dates=config.min_train_dates, purge=config.purge, embargo=config.embargo,
    )  # fmt: skip


def out_of_sample(frame: pd.DataFrame, folds: Sequence[Fold], scorers: dict[str, Scorer]) -> pd.DataFrame:
    """Every fold's test rows with one score column per model, each fit on that fold's training
    dates only."""
    parts = []
    for number, fold in enumerate(folds):
        train = frame[frame["snapshot_date"].isin(fold.train_dates)]
        test = frame[frame["snapshot_date"].isin(fold.test_dates)]
        if train.empty or test.empty:
            raise ValueError(f"fold {number} has no training or no test rows")
        scored = test.assign(fold=number)
        for name, scorer in scorers.items():
            scored[f"score_{name}"] = scorer(train, test)
        parts.append(scored)
    return pd.concat(parts, ignore_index=True)


def daily_picks(scored: pd.DataFrame, score_column: str, k: int) -> pd.DataFrame:
    """Each test day's k highest-scored candidates (ties broken by contract symbol)."""
    ordered = scored.sort_values(["snapshot_date", score_column, "contract_symbol"], ascending=[True, False, True])
    return ordered.groupby("snapshot_date", sort=True).head(k)


def _rate(frame: pd.DataFrame, column: str) -> tuple[float, float, float]:
    return mean_interval(frame[column].astype(float), frame["snapshot_date"].to_numpy())


def pick_metrics(scored: pd.DataFrame, models: Sequence[str], picks: Sequence[int] = PICKS) -> dict:
    """Hit rate and mean reward of daily top-k picks per model, the base rate and the mean reward
    of every candidate, the AUC of hit_50 per model; 95% intervals from a bootstrap over dates."""
    scored = scored.assign(hit=scored["hit_50"].astype(bool))
    out: dict = {
        "test_days": int(scored["snapshot_date"].nunique()),
        "candidates": len(scored),
        "base_rate": interval_dict(_rate(scored, "hit")),
        "all_candidates_mean_reward": interval_dict(_rate(scored, "reward")),
    }
    for model in models:
        column = f"score_{model}"
        result = {"auc_hit_50": interval_dict(auc_interval(scored["hit"], scored[column], scored["snapshot_date"]))}
        for k in picks:
            chosen = daily_picks(scored, column, k)
            result[f"top_{k}"] = {
                "hit_rate": interval_dict(_rate(chosen, "hit")),
                "mean_reward": interval_dict(_rate(chosen, "reward")),
            }
        out[model] = result
    return out


def pick_difference(scored: pd.DataFrame, model: str, reference: str, k: int, column: str = "hit") -> dict:
    """Top-k hit rate (or mean reward) of `model` minus `reference`'s, same days, same resamples."""
    scored = scored.assign(hit=scored["hit_50"].astype(bool).astype(float))
    ours = daily_picks(scored, f"score_{model}", k).groupby("snapshot_date")[column].mean()
    theirs = daily_picks(scored, f"score_{reference}", k).groupby("snapshot_date")[column].mean()
    difference = ours - theirs  # one value per test day
    return interval_dict(mean_interval(difference, difference.index.to_numpy()))


def plot_png(scored: pd.DataFrame, metrics: dict, models: Sequence[str], picks: Sequence[int] = PICKS) -> bytes:
    """Hit rate of daily top-k picks by k (with intervals and the base rate), and the cumulative
    reward of each model's daily top-5 picks over the test days."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=90)
    for model in models:
        rates = [metrics[model][f"top_{k}"]["hit_rate"] for k in picks]
        values = [r["value"] for r in rates]
        errors = [
            [v - r["low"] for v, r in zip(values, rates, strict=True)],
            [r["high"] - v for v, r in zip(values, rates, strict=True)],
        ]
        left.errorbar(picks, values, yerr=errors, marker="o", capsize=3, label=model)
        top = daily_picks(scored, f"score_{model}", 5).groupby("snapshot_date")["reward"].mean()
        right.plot(pd.to_datetime(top.index), top.cumsum().to_numpy(), label=f"{model} top-5")
    base = metrics["base_rate"]
    left.axhline(base["value"], color="grey", linestyle="--", label="base rate")
    left.set(xlabel="picks per day (k)", ylabel="hit rate (>50% in 3 days)", title="Out-of-sample hit rate")
    everyone = scored.groupby("snapshot_date")["reward"].mean()
    right.plot(
        pd.to_datetime(everyone.index),
        everyone.cumsum().to_numpy(),
        color="grey",
        linestyle="--",
        label="all candidates",
    )
    right.set(xlabel="test day", ylabel="cumulative mean reward", title="Daily picks, cumulative reward")
    right.tick_params(axis="x", labelrotation=30)
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def markdown_image(png: bytes, title: str) -> str:
    return f"![{title}](data:image/png;base64,{base64.b64encode(png).decode()})"
