"""baseline_model and ppo_agent: trained on rl_dataset, evaluated walk-forward on the same folds,
registered as versions in model_registry (rl_assets.training.train_and_register does the work)."""

import dataclasses
import datetime as dt
import json
import math
import time

import dagster as dg
import pandas as pd
import torch
from pydantic import Field

from rl_assets import calendar, reporting
from rl_assets.baseline import BaselineConfig
from rl_assets.defs.resources import WAREHOUSE_POOL, ModelStore, Warehouse
from rl_assets.evaluation import Fold
from rl_assets.model_store import BASELINE_MODEL, PPO_AGENT, ModelVersion, register
from rl_assets.ppo import PPOConfig
from rl_assets.retraining import ModelVersionState
from rl_assets.training import (
    BASELINE_RECIPE,
    PPO_RECIPE,
    EvaluationConfig,
    ModelRecipe,
    TrainingResult,
    folds_for,
    train_and_register,
)
from rl_assets.training_data import NoTrainingRows, SamplingPolicy, read_training_rows


class TrainingConfig(dg.Config):
    n_folds: int = Field(default=EvaluationConfig.n_folds, description="walk-forward test blocks")
    min_train_dates: int = Field(
        default=EvaluationConfig.min_train_dates, description="trading dates in the first fold's training slice"
    )
    embargo: int = Field(default=EvaluationConfig.embargo, description="trading dates skipped after the 3-day purge")
    ppo_total_steps: int = Field(default=PPOConfig.total_steps, description="PPO env steps per training run")
    seed: int = Field(default=0, description="seed of every model and sampler")
    max_rows_per_day: int = Field(
        default=SamplingPolicy.max_per_day,
        description="rl_dataset rows a day training and evaluation read, stratified by underlying and moneyness "
        "(a day with fewer is read whole)",
        ge=1,
    )
    max_training_rows: int = Field(
        default=SamplingPolicy.max_rows,
        description="rows a run reads at most: a longer history gets a smaller per-day cap (memory stays flat)",
        ge=1,
    )
    as_of: str | None = Field(
        default=None,
        description="Train only on rows whose labels were all known before this trading day (YYYY-MM-DD): "
        "a walk-forward version for historical paper trading, usable from that day at the latest.",
    )

    def sampling(self) -> SamplingPolicy:
        return SamplingPolicy(max_per_day=self.max_rows_per_day, max_rows=self.max_training_rows, seed=self.seed)

    def evaluation(self) -> EvaluationConfig:
        return EvaluationConfig(
            n_folds=self.n_folds, min_train_dates=self.min_train_dates, embargo=self.embargo,
            baseline=BaselineConfig(seed=self.seed), ppo=PPOConfig(total_steps=self.ppo_total_steps, seed=self.seed),
        )  # fmt: skip


def _training_rows(warehouse: Warehouse, policy: SamplingPolicy, as_of: str | None = None) -> pd.DataFrame:
    cutoff = None if as_of is None else calendar.require_trading_day(as_of)
    with warehouse.session() as wh:
        try:
            return read_training_rows(wh, policy, labels_before=cutoff)
        except NoTrainingRows as error:
            raise dg.Failure(description=str(error)) from error


def _folds(frame: pd.DataFrame, config: EvaluationConfig) -> list[Fold]:
    try:
        return folds_for(frame, config)
    except ValueError as error:
        raise dg.Failure(description=f"rl_dataset is too short to evaluate walk-forward: {error}") from error


def _train(recipe: ModelRecipe, config: TrainingConfig, warehouse: Warehouse, store: ModelStore, device: str):
    evaluation = config.evaluation()
    frame = _training_rows(warehouse, config.sampling(), config.as_of)

    def register_version(**version) -> ModelVersion:
        with warehouse.session() as wh:  # opened for the registration only, not for the training
            return register(wh, location=store.location, **version)

    return train_and_register(frame, _folds(frame, evaluation), recipe, evaluation, register_version, device)


# The version as the retraining sensor reads it back (version_state): train_start and train_end as
# ISO dates of their own; train_window is for people.
def version_metadata(version: ModelVersion) -> dict:
    return {
        "version": version.version,
        "usable_from": str(version.usable_from),
        "train_start": str(version.train_start),
        "train_end": str(version.train_end),
        "train_window": f"{version.train_start} .. {version.train_end}",
    }


def version_state(metadata: dict) -> ModelVersionState | None:
    """The version a model asset's materialisation metadata (values unwrapped) reports; None for one
    written before train_end had a key of its own (the sensor then treats the model as having no
    known version: its retrain writes the key)."""
    if "train_end" not in metadata:
        return None
    return ModelVersionState(
        version=int(metadata["version"]),
        train_end=dt.date.fromisoformat(metadata["train_end"]),
        usable_from=dt.date.fromisoformat(metadata["usable_from"]),
    )


def _metadata(result: TrainingResult, config: TrainingConfig, started: float) -> dict:
    metrics, own = result.metrics, result.compared[0]
    plot = reporting.out_of_sample_plot(result.scored, metrics, result.compared)
    out_of_sample = (
        reporting.pick_table(metrics, result.compared) + "\n\n" + reporting.markdown_image(plot, f"{own} out of sample")
    )
    return {
        **version_metadata(result.version),
        "training_rows": result.training_rows,
        "max_rows_per_day": config.max_rows_per_day,
        "artifact_uri": result.version.artifact_uri,
        "folds": result.folds,
        "test_days": metrics["test_days"],
        "base_rate": metrics["base_rate"]["value"],
        "top_5_hit_rate": metrics[own]["top_5"]["hit_rate"]["value"],
        "top_5_mean_reward": metrics[own]["top_5"]["mean_reward"]["value"],
        "out_of_sample": dg.MetadataValue.md(out_of_sample),
        "metrics": dg.MetadataValue.json(metrics),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _training_diagnostics(result: TrainingResult) -> dict:
    """PPO's per-update diagnostics: the series (JSON, NaN as null) and a table with the curves."""
    updates = result.report.updates
    series = [
        {name: None if isinstance(value, float) and math.isnan(value) else value for name, value in row.items()}
        for row in map(dataclasses.asdict, updates)
    ]
    curve = (
        reporting.training_table(updates)
        + "\n\n"
        + reporting.markdown_image(reporting.training_curve_plot(updates), "ppo training curves")
    )
    return {"training_updates": dg.MetadataValue.json(series), "training_curve": dg.MetadataValue.md(curve)}


@dg.asset(name=BASELINE_MODEL.name, group_name="models", kinds={"torch"}, deps=["rl_dataset"], pool=WAREHOUSE_POOL)
def baseline_model(
    context: dg.AssetExecutionContext, config: TrainingConfig, warehouse: Warehouse, model_store: ModelStore
) -> dg.MaterializeResult:
    """Supervised baseline: a torch MLP classifier of hit_50 from rl_state's features. Evaluated
    walk-forward (purge 3 + embargo) against the base rate and a contract-only classifier, then fit
    on every labelled row and registered as a new version in model_registry."""
    started = time.perf_counter()
    result = _train(BASELINE_RECIPE, config, warehouse, model_store, device="cpu")
    version = result.version
    context.log.info(f"registered {version.model_name} v{version.version}, usable from {version.usable_from}")
    auc = result.metrics[BASELINE_MODEL.short]["auc_hit_50"]["value"]
    return dg.MaterializeResult(metadata={**_metadata(result, config, started), "auc_hit_50": auc})


@dg.asset(name=PPO_AGENT.name, group_name="models", kinds={"torch"}, deps=["rl_dataset"], pool=WAREHOUSE_POOL)
def ppo_agent(
    context: dg.AssetExecutionContext, config: TrainingConfig, warehouse: Warehouse, model_store: ModelStore
) -> dg.MaterializeResult:
    """PPO agent (torch) on the OptionsFilterEnv: skip or take each candidate within a daily budget
    of picks, rewarded with the shared 3-day reward. Evaluated on the same walk-forward folds as the
    supervised baseline (both in this asset's metadata), then trained on every labelled row and
    registered as a new version in model_registry. Uses CUDA when present. The final training's
    per-update diagnostics (policy and value loss, entropy, approx_kl, clip fraction, explained
    variance, as CleanRL records them) are in training_updates and training_curve."""
    started = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    result = _train(PPO_RECIPE, config, warehouse, model_store, device)
    version, training = result.version, result.metrics["training"]
    context.log.info(
        f"registered {version.model_name} v{version.version}, usable from {version.usable_from}: {json.dumps(training)}"
    )
    return dg.MaterializeResult(
        metadata={
            **_metadata(result, config, started),
            "env_steps_per_second": training["steps_per_second"],
            "device": device,
            **_training_diagnostics(result),
        }
    )
