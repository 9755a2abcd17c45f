"""baseline_model and ppo_agent: trained on rl_dataset, evaluated walk-forward on the same folds,
registered as versions in model_registry."""

import json
import time

import dagster as dg
import pandas as pd
import torch
from pydantic import Field

from rl_assets import calendar
from rl_assets.baseline import BaselineConfig
from rl_assets.evaluation import Fold
from rl_assets.features import STATE_FEATURES
from rl_assets.model_store import register, usable_from
from rl_assets.ppo import PPOConfig
from rl_assets.defs.resources import WAREHOUSE_POOL, ModelStore, Warehouse
from rl_assets.schema import CONTRACT_FEATURES
from rl_assets.training import (
    PICKS,
    EvaluationConfig,
    fit_baseline,
    fit_ppo,
    folds_for,
    markdown_image,
    out_of_sample,
    pick_difference,
    pick_metrics,
    plot_png,
    score_baseline,
    score_ppo,
)


class TrainingConfig(dg.Config):
    n_folds: int = Field(default=EvaluationConfig.n_folds, description="walk-forward test blocks")
    min_train_dates: int = Field(
        default=EvaluationConfig.min_train_dates, description="trading dates in the first fold's training slice"
    )
    embargo: int = Field(default=EvaluationConfig.embargo, description="trading dates skipped after the 3-day purge")
    ppo_total_steps: int = Field(default=PPOConfig.total_steps, description="PPO env steps per training run")
    seed: int = Field(default=0, description="seed of every model and sampler")
    as_of: str | None = Field(
        default=None,
        description="Train only on rows whose labels were all known before this trading day (YYYY-MM-DD): "
        "a walk-forward version for historical paper trading, usable from that day at the latest.",
    )

    def evaluation(self) -> EvaluationConfig:
        return EvaluationConfig(
            n_folds=self.n_folds, min_train_dates=self.min_train_dates, embargo=self.embargo,
            baseline=BaselineConfig(seed=self.seed), ppo=PPOConfig(total_steps=self.ppo_total_steps, seed=self.seed),
        )  # fmt: skip


def _training_rows(warehouse: Warehouse, as_of: str | None = None) -> pd.DataFrame:
    with warehouse.session() as wh:
        span = wh.query("rl_dataset_date_range").iloc[0]
        if not span["row_count"]:
            raise dg.Failure(description="rl_dataset has no labelled rows: materialise rl_dataset first")
        rows = wh.query("rl_dataset_training_rows", {"start_date": span["first_date"], "end_date": span["last_date"]})
    for column in ("snapshot_date", "label_end_date"):
        rows[column] = pd.to_datetime(rows[column]).dt.date
    if as_of is not None:
        cutoff = calendar.require_trading_day(as_of)
        rows = rows[rows["label_end_date"] < cutoff]
        if rows.empty:
            raise dg.Failure(description=f"no rl_dataset row has all its labels known before {cutoff}")
    return rows


def _folds(frame: pd.DataFrame, config: EvaluationConfig) -> list[Fold]:
    try:
        return folds_for(frame, config)
    except ValueError as error:
        raise dg.Failure(description=f"rl_dataset is too short to evaluate walk-forward: {error}") from error


def _register(warehouse: Warehouse, store: ModelStore, name: str, payload: dict, frame: pd.DataFrame, metrics: dict):
    with warehouse.session() as wh:
        return register(
            wh, location=store.location, model_name=name, payload=payload,
            train_start=min(frame["snapshot_date"]), train_end=max(frame["snapshot_date"]),
            usable_from=usable_from(frame["label_end_date"]), metrics=metrics,
        )  # fmt: skip


def _pick_table(metrics: dict, models: list[str]) -> str:
    lines = ["| k | " + " | ".join(models) + " | base rate |", "|---|" + "---|" * (len(models) + 1)]
    base = metrics["base_rate"]
    for k in PICKS:
        cells = []
        for model in models:
            hit, reward = metrics[model][f"top_{k}"]["hit_rate"], metrics[model][f"top_{k}"]["mean_reward"]
            cells.append(f"{hit['value']:.1%} [{hit['low']:.1%}, {hit['high']:.1%}], reward {reward['value']:+.1%}")
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {base['value']:.1%} |")
    return "\n".join(lines)


def _metadata(version, frame, folds, metrics, models, plot, started) -> dict:
    return {
        "version": version.version,
        "usable_from": str(version.usable_from),
        "train_window": f"{version.train_start} .. {version.train_end}",
        "training_rows": len(frame),
        "artifact_uri": version.artifact_uri,
        "folds": len(folds),
        "test_days": metrics["test_days"],
        "base_rate": metrics["base_rate"]["value"],
        "top_5_hit_rate": metrics[models[0]]["top_5"]["hit_rate"]["value"],
        "top_5_mean_reward": metrics[models[0]]["top_5"]["mean_reward"]["value"],
        "out_of_sample": dg.MetadataValue.md(_pick_table(metrics, models) + "\n\n" + plot),
        "metrics": dg.MetadataValue.json(metrics),
        "seconds": round(time.perf_counter() - started, 2),
    }


@dg.asset(group_name="models", kinds={"torch"}, deps=["rl_dataset"], pool=WAREHOUSE_POOL)
def baseline_model(
    context: dg.AssetExecutionContext, config: TrainingConfig, warehouse: Warehouse, model_store: ModelStore
) -> dg.MaterializeResult:
    """Supervised baseline: a torch MLP classifier of hit_50 from rl_state's features. Evaluated
    walk-forward (purge 3 + embargo) against the base rate and a contract-only classifier, then fit
    on every labelled row and registered as a new version in model_registry."""
    started = time.perf_counter()
    evaluation = config.evaluation()
    frame = _training_rows(warehouse, config.as_of)
    folds = _folds(frame, evaluation)
    scorers = {
        "baseline": score_baseline(evaluation.baseline),
        "contract_only": score_baseline(evaluation.baseline, CONTRACT_FEATURES),
    }
    scored = out_of_sample(frame, folds, scorers)
    metrics = pick_metrics(scored, list(scorers))
    metrics["baseline_minus_contract_only_top_5_hit_rate"] = pick_difference(scored, "baseline", "contract_only", 5)
    scaler, model = fit_baseline(frame, evaluation.baseline)
    payload = {
        "kind": "hit_classifier", "state_dict": model.state_dict(), "n_features": model.n_features,
        "hidden": model.hidden, "config": evaluation.baseline.to_dict(), "scaler": scaler.to_dict(),
    }  # fmt: skip
    version = _register(warehouse, model_store, "baseline_model", payload, frame, metrics)
    context.log.info(f"registered baseline_model v{version.version}, usable from {version.usable_from}")
    plot = markdown_image(plot_png(scored, metrics, list(scorers)), "baseline out of sample")
    return dg.MaterializeResult(
        metadata={
            **_metadata(version, frame, folds, metrics, list(scorers), plot, started),
            "auc_hit_50": metrics["baseline"]["auc_hit_50"]["value"],
        }
    )


@dg.asset(group_name="models", kinds={"torch"}, deps=["rl_dataset"], pool=WAREHOUSE_POOL)
def ppo_agent(
    context: dg.AssetExecutionContext, config: TrainingConfig, warehouse: Warehouse, model_store: ModelStore
) -> dg.MaterializeResult:
    """PPO agent (torch) on the OptionsFilterEnv: skip or take each candidate within a daily budget
    of picks, rewarded with the shared 3-day reward. Evaluated on the same walk-forward folds as the
    supervised baseline (both in this asset's metadata), then trained on every labelled row and
    registered as a new version in model_registry. Uses CUDA when present."""
    started = time.perf_counter()
    evaluation = config.evaluation()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    frame = _training_rows(warehouse, config.as_of)
    folds = _folds(frame, evaluation)
    scorers = {
        "ppo": score_ppo(evaluation.ppo, evaluation.max_candidates_per_day),
        "baseline": score_baseline(evaluation.baseline),
    }
    scored = out_of_sample(frame, folds, scorers)
    metrics = pick_metrics(scored, list(scorers))
    metrics["ppo_minus_baseline_top_5_hit_rate"] = pick_difference(scored, "ppo", "baseline", 5)
    metrics["ppo_minus_baseline_top_5_mean_reward"] = pick_difference(scored, "ppo", "baseline", 5, "reward")
    scaler, model, report = fit_ppo(frame, evaluation.ppo, evaluation.max_candidates_per_day, device=device)
    payload = {
        "kind": "ppo_actor_critic", "state_dict": model.state_dict(), "n_observations": model.n_observations,
        "hidden": model.hidden, "config": evaluation.ppo.to_dict(), "scaler": scaler.to_dict(),
        "features": list(STATE_FEATURES),
    }  # fmt: skip
    metrics["training"] = {
        "env_steps": report.env_steps,
        "steps_per_second": round(report.steps_per_second),
        "device": device,
    }
    version = _register(warehouse, model_store, "ppo_agent", payload, frame, metrics)
    context.log.info(
        f"registered ppo_agent v{version.version}, usable from {version.usable_from}: {json.dumps(metrics['training'])}"
    )
    plot = markdown_image(plot_png(scored, metrics, list(scorers)), "ppo out of sample")
    return dg.MaterializeResult(
        metadata={
            **_metadata(version, frame, folds, metrics, list(scorers), plot, started),
            "env_steps_per_second": round(report.steps_per_second),
            "device": device,
        }
    )
