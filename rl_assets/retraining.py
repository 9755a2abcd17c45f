"""When to retrain the models: the rule behind the retraining sensor, without Dagster.

Retrain both models (they are trained together, on the same folds) when
- a model has no registered version yet and rl_dataset holds enough labelled days for the
  walk-forward evaluation;
- `new_label_days` labelled trading days have landed after the day the current versions were
  trained through; or
- on paper, the agent's rolling hit rate of >50%-in-3-days fell below the baseline's over the same
  trade days, counted only on days the current agent version picked (a retrain resets the window).

Each decision carries a run key built from the current versions and the reason, so one set of
versions is retrained at most once for each reason however often the rule is evaluated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rl_assets.model_store import BASELINE_MODEL, MODEL_NAMES, PPO_AGENT
from rl_assets.training import EvaluationConfig


@dataclass(frozen=True)
class RetrainPolicy:
    new_label_days: int = 5  # a trading week of new labels
    min_rolling_picks: int = 25  # per model, before hit rates are compared
    first_training_days: int = EvaluationConfig().min_dates

    def __post_init__(self):
        for name in ("new_label_days", "min_rolling_picks", "first_training_days"):
            if getattr(self, name) < 1:
                raise ValueError(f"RetrainPolicy.{name} must be >= 1; got {getattr(self, name)}")


@dataclass(frozen=True)
class ModelVersionState:
    """The current version of a model, as its latest materialisation reports it."""

    version: int
    train_end: dt.date  # the newest snapshot_date it was trained on
    usable_from: dt.date


@dataclass(frozen=True)
class Retrain:
    reason: str  # first_version | new_labels | hit_rate_below_baseline
    detail: str
    run_key: str


def retraining_due(
    policy: RetrainPolicy,
    label_days: Sequence[dt.date],
    models: Mapping[str, ModelVersionState | None],
    rolling: Mapping[str, Mapping] | None = None,
) -> Retrain | None:
    """The reason to retrain now, or None.

    label_days: rl_dataset's materialised (resolved) partitions; models: the current version of
    each of model_store.MODEL_NAMES (None if it has none); rolling: paper_trading_performance's
    per-model rolling hit rate ({"hit_rate", "picks", "first_date", ...}), if it has been computed.
    """
    days = sorted(set(label_days))
    missing = [name for name in MODEL_NAMES if models.get(name) is None]
    if missing:
        if len(days) < policy.first_training_days:
            return None
        return Retrain(
            "first_version",
            f"no registered version of {', '.join(missing)}; rl_dataset has {len(days)} labelled days "
            f"(walk-forward needs {policy.first_training_days})",
            f"retrain:first-version:through-{days[-1]}",
        )
    current = {name: models[name] for name in MODEL_NAMES}
    versions = "+".join(f"{name}-v{state.version}" for name, state in current.items())
    trained_through = min(state.train_end for state in current.values())
    new_days = [d for d in days if d > trained_through]
    if len(new_days) >= policy.new_label_days:
        return Retrain(
            "new_labels",
            f"{len(new_days)} labelled days after {trained_through} (through {new_days[-1]}); "
            f"retrain after {policy.new_label_days}",
            f"retrain:new-labels:{versions}",
        )
    agent, baseline = (rolling or {}).get(PPO_AGENT.name), (rolling or {}).get(BASELINE_MODEL.name)
    if agent is None or baseline is None:
        return None
    enough = min(agent["picks"], baseline["picks"]) >= policy.min_rolling_picks
    by_current_agent = dt.date.fromisoformat(agent["first_date"]) >= current[PPO_AGENT.name].usable_from
    if enough and by_current_agent and agent["hit_rate"] < baseline["hit_rate"]:
        return Retrain(
            "hit_rate_below_baseline",
            f"paper hit rate over {agent['first_date']}..{agent['last_date']}: {PPO_AGENT.name} "
            f"{agent['hit_rate']:.1%} ({agent['picks']} picks) < {BASELINE_MODEL.name} {baseline['hit_rate']:.1%} "
            f"({baseline['picks']} picks)",
            f"retrain:hit-rate-below-baseline:{versions}",
        )
    return None
