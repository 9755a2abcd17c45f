"""Train and evaluate the two models on rl_dataset rows, on the same walk-forward folds.

For each fold, fit on the training dates only (the scaler included), score the test dates, and
compare: the daily top-k picks' hit rate of >50%-in-3-days against the base rate (every candidate
of those days) and against each other, with intervals from a bootstrap over dates, the picks' mean
reward beside it, and the AUC of hit_50. A contract-only classifier (the same network on the
option's own features) is the reference for skill the market has not priced (docs/design.md).

Both model assets run one workflow, `train_and_register`: evaluate walk-forward with the model's
scorers, compare, fit on every row, register a version. What differs per model is its
`ModelRecipe` (BASELINE_RECIPE, PPO_RECIPE): scorers, comparisons, fit and artifact payload.
"""

from __future__ import annotations

import datetime as dt
import time
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
from rl_assets.model_store import BASELINE_MODEL, PPO_AGENT, ModelName, ModelVersion, usable_from
from rl_assets.ppo import ActorCritic, PPOConfig, TrainingReport, take_probability, train_ppo
from rl_assets.rl_env import candidate_days
from rl_assets.schema import CONTRACT_FEATURES

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


# ---- one workflow for both models: evaluate walk-forward, fit on every row, register

CONTRACT_ONLY = "contract_only"  # the baseline's network on the option's own features: the reference for skill


@dataclass(frozen=True)
class Fitted:
    """A model fit on every training row: its artifact's contents and, for metrics["training"],
    how the training went."""

    payload: dict
    training: dict | None = None
    report: TrainingReport | None = None


@dataclass(frozen=True)
class ModelRecipe:
    """How one model is evaluated and fit. `scorers` gives the walk-forward scorers, the model's own
    first (named by its short name), then its references; `comparisons` the metrics comparing it
    with them on the scored test rows; `fit` the model fit on every row (rows, evaluation config,
    device)."""

    model: ModelName
    scorers: Callable[[EvaluationConfig], dict[str, Scorer]]
    comparisons: Callable[[pd.DataFrame], dict]
    fit: Callable[[pd.DataFrame, EvaluationConfig, str], Fitted]


@dataclass(frozen=True)
class TrainingResult:
    """What train_and_register did: the registered version, the rows and folds it was evaluated
    on, the scored test rows and the metrics (also in the registry), and PPO's training report."""

    model: ModelName
    version: ModelVersion
    training_rows: int
    folds: int
    compared: tuple[str, ...]  # the scored models, the model's own first (score_<name> in `scored`)
    scored: pd.DataFrame
    metrics: dict
    report: TrainingReport | None
    seconds: float


Register = Callable[..., ModelVersion]  # model_store.register with the warehouse and the store bound


def train_and_register(
    frame: pd.DataFrame,
    folds: Sequence[Fold],
    recipe: ModelRecipe,
    evaluation: EvaluationConfig,
    register: Register,
    device: str = "cpu",
) -> TrainingResult:
    """Score `frame`'s folds out of sample with the recipe's scorers, compare, fit the model on every
    row of `frame` and register it (`register(model_name=, payload=, train_start=, train_end=,
    usable_from=, metrics=)`): usable from the session after the last training label."""
    started = time.perf_counter()
    scorers = recipe.scorers(evaluation)
    scored = out_of_sample(frame, folds, scorers)
    metrics = pick_metrics(scored, list(scorers))
    metrics.update(recipe.comparisons(scored))
    fitted = recipe.fit(frame, evaluation, device)
    if fitted.training is not None:
        metrics["training"] = fitted.training
    train_start, train_end = train_window(frame)
    version = register(
        model_name=recipe.model.name, payload=fitted.payload, train_start=train_start, train_end=train_end,
        usable_from=usable_from(frame["label_end_date"]), metrics=metrics,
    )  # fmt: skip
    return TrainingResult(
        recipe.model, version, len(frame), len(folds), tuple(scorers), scored, metrics, fitted.report,
        time.perf_counter() - started,
    )  # fmt: skip


def train_window(frame: pd.DataFrame) -> tuple[dt.date, dt.date]:
    """The first and the last snapshot_date of the training rows."""
    return min(frame["snapshot_date"]), max(frame["snapshot_date"])


def _baseline_scorers(evaluation: EvaluationConfig) -> dict[str, Scorer]:
    return {
        BASELINE_MODEL.short: score_baseline(evaluation.baseline),
        CONTRACT_ONLY: score_baseline(evaluation.baseline, CONTRACT_FEATURES),
    }


def _baseline_comparisons(scored: pd.DataFrame) -> dict:
    name = f"{BASELINE_MODEL.short}_minus_{CONTRACT_ONLY}_top_5_hit_rate"
    return {name: pick_difference(scored, BASELINE_MODEL.short, CONTRACT_ONLY, 5)}


def _fit_baseline(frame: pd.DataFrame, evaluation: EvaluationConfig, device: str) -> Fitted:
    scaler, model = fit_baseline(frame, evaluation.baseline)  # small: always on the CPU
    return Fitted({
        "kind": BASELINE_MODEL.kind, "state_dict": model.state_dict(), "n_features": model.n_features,
        "hidden": model.hidden, "config": evaluation.baseline.to_dict(), "scaler": scaler.to_dict(),
    })  # fmt: skip


def _ppo_scorers(evaluation: EvaluationConfig) -> dict[str, Scorer]:
    return {
        PPO_AGENT.short: score_ppo(evaluation.ppo, evaluation.max_candidates_per_day),
        BASELINE_MODEL.short: score_baseline(evaluation.baseline),
    }


def _ppo_comparisons(scored: pd.DataFrame) -> dict:
    ppo, baseline = PPO_AGENT.short, BASELINE_MODEL.short
    return {
        f"{ppo}_minus_{baseline}_top_5_hit_rate": pick_difference(scored, ppo, baseline, 5),
        f"{ppo}_minus_{baseline}_top_5_mean_reward": pick_difference(scored, ppo, baseline, 5, "reward"),
    }


def _fit_ppo(frame: pd.DataFrame, evaluation: EvaluationConfig, device: str) -> Fitted:
    scaler, model, report = fit_ppo(frame, evaluation.ppo, evaluation.max_candidates_per_day, device=device)
    payload = {
        "kind": PPO_AGENT.kind, "state_dict": model.state_dict(), "n_observations": model.n_observations,
        "hidden": model.hidden, "config": evaluation.ppo.to_dict(), "scaler": scaler.to_dict(),
        "features": list(STATE_FEATURES),
    }  # fmt: skip
    training = {"env_steps": report.env_steps, "steps_per_second": round(report.steps_per_second), "device": device}
    return Fitted(payload, training, report)


BASELINE_RECIPE = ModelRecipe(BASELINE_MODEL, _baseline_scorers, _baseline_comparisons, _fit_baseline)
PPO_RECIPE = ModelRecipe(PPO_AGENT, _ppo_scorers, _ppo_comparisons, _fit_ppo)
