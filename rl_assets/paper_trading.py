"""The paper-trading loop: screen each day's candidates, let each model pick from them, record the
picks before any outcome is known, resolve them with the shared reward once T+3 has landed, and
track how the picks do.

Model selection follows docs/design.md: day T's picks come from the newest version usable at T
(model_registry.usable_from <= T: every training label was known before T), also in a historical
backfill, where each day gets the version that was usable then; a day without one is recorded as
such, never filled from a later model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from rl_assets import calendar
from rl_assets.archive import replace_date_range
from rl_assets.baseline import HitClassifier, predict_proba
from rl_assets.evaluation import interval_dict, mean_interval
from rl_assets.features import Scaler
from rl_assets.model_store import (
    BASELINE_MODEL,
    PPO_AGENT,
    ArtifactError,
    ModelVersion,
    load_version,
    usable_version,
)
from rl_assets.model_store import (
    MODELS as REGISTERED_MODELS,
)
from rl_assets.ppo import ActorCritic, take_probability
from rl_assets.warehouse.backend import PAPER_TRADES_STAGING

MODELS = (PPO_AGENT.name, BASELINE_MODEL.name)  # the agent's picks, and the baseline's for comparison
PERFORMANCE_TABLE = "paper_trading_performance"
ALL_RECOMMENDATIONS = "all_recommendations"  # sql/recommendations_outcomes.sql's model_name for every recommendation
ROLLING_DAYS = 20  # trade days in the rolling hit rate the retraining sensor compares
# A pick as recorded (recorded_at is added when the day's picks are written).
PICK_COLUMNS = [
    "trade_date", "contract_symbol", "underlying", "model_name", "model_version", "model_usable_from",
    "pick_rank", "score", "entry_price",
]  # fmt: skip


@dataclass(frozen=True)
class ScreenerRules:
    """The rule screener: which of rl_state's candidates are worth showing the agent."""

    min_volume: int = 10
    min_open_interest: int = 50
    min_dte: int = 3
    max_dte: int = 45
    min_abs_delta: float = 0.10
    max_abs_delta: float = 0.70
    max_spread_pct: float = 0.35
    min_entry_price: float = 0.10

    def __post_init__(self):
        problems = []
        if self.min_dte > self.max_dte:
            problems.append(f"min_dte {self.min_dte} > max_dte {self.max_dte}")
        if not 0 <= self.min_abs_delta <= self.max_abs_delta <= 1:
            problems.append(
                f"need 0 <= min_abs_delta <= max_abs_delta <= 1; got {self.min_abs_delta}, {self.max_abs_delta}"
            )
        if self.max_spread_pct <= 0 or self.min_entry_price < 0 or self.min_volume < 0 or self.min_open_interest < 0:
            problems.append("spread limit must be > 0; volume, open interest and entry price limits >= 0")
        if problems:
            raise ValueError("invalid screener rules: " + "; ".join(problems))

    def parameters(self) -> dict:
        return asdict(self)


def build_recommendations(warehouse, start: dt.date, end: dt.date, rules: ScreenerRules) -> dict[str, int]:
    """Replace recommendations[start..end] with rl_state's rows that pass the rules; rows per day."""
    window = {"start_date": start, "end_date": end}
    with warehouse.transaction():
        warehouse.execute("delete_recommendations_range", window)
        warehouse.execute("insert_recommendations", {**window, **rules.parameters()})
        counts = warehouse.query("recommendations_row_counts", window)
    by_day = {pd.Timestamp(d).date(): int(n) for d, n in zip(counts["snapshot_date"], counts["row_count"], strict=True)}
    return {str(day): by_day.get(day, 0) for day in calendar.trading_days(start, end)}


MODEL_KINDS = {model.name: model.kind for model in REGISTERED_MODELS}  # what each model's artifact holds
Scorer = Callable[[pd.DataFrame], np.ndarray]


def load_scorer(version: ModelVersion) -> Scorer:
    """The version's scoring function (candidates -> score), from its artifact; ArtifactError
    (naming model, version and file) if the artifact is missing, unreadable, another model's, of
    the wrong kind or incomplete."""
    artifact = load_version(version, MODEL_KINDS.get(version.model_name))
    try:
        scaler = Scaler.from_dict(artifact["scaler"])
        if artifact["kind"] == BASELINE_MODEL.kind:
            model = HitClassifier(artifact["n_features"], artifact["hidden"])
            model.load_state_dict(artifact["state_dict"])
            return lambda frame: predict_proba(model.eval(), scaler.transform(frame))
        if artifact["kind"] == PPO_AGENT.kind:
            model = ActorCritic(artifact["n_observations"], artifact["hidden"])
            model.load_state_dict(artifact["state_dict"])
            return lambda frame: take_probability(model.eval(), scaler.transform(frame))
    except (KeyError, TypeError, ValueError, RuntimeError) as error:  # a field missing or weights of another shape
        raise ArtifactError(version, f"incomplete or inconsistent artifact: {type(error).__name__}: {error}") from error
    raise ArtifactError(version, f"unknown model kind {artifact['kind']!r}")


class Scorers:
    """Each version's scorer, loaded once per run. A version whose artifact cannot be loaded is
    remembered with the reason and the days its picks were skipped (`skipped`)."""

    def __init__(self):
        self._loaded: dict[tuple[str, int, str], Scorer | ArtifactError] = {}
        self.skipped: dict[tuple[str, int], dict] = {}

    def get(self, version: ModelVersion, day: dt.date) -> Scorer:
        """The version's scorer; ArtifactError (also recorded in `skipped` for `day`) if its
        artifact cannot be loaded."""
        key = (version.model_name, version.version, version.artifact_uri)
        if key not in self._loaded:
            try:
                self._loaded[key] = load_scorer(version)
            except ArtifactError as error:
                self._loaded[key] = error
        loaded = self._loaded[key]
        if isinstance(loaded, ArtifactError):
            entry = self.skipped.setdefault(
                (version.model_name, version.version),
                {"model_name": version.model_name, "version": version.version,
                 "artifact_uri": version.artifact_uri, "reason": loaded.reason, "days": []},
            )  # fmt: skip
            entry["days"].append(str(day))
            raise loaded
        return loaded


def pick(
    candidates: pd.DataFrame, version: ModelVersion, day: dt.date, picks_per_day: int, scorer: Scorer | None = None
) -> pd.DataFrame:
    """The version's top `picks_per_day` candidates of `day` by score (ties by contract symbol);
    `scorer` is the version's (loaded from its artifact if not given)."""
    if version.usable_from > day:  # the registry query already guarantees it; a pick must never break it
        raise RuntimeError(
            f"{version.model_name} v{version.version} is usable from {version.usable_from}, not on {day}"
        )
    scored = candidates.assign(score=(scorer or load_scorer(version))(candidates))
    top = scored.sort_values(["score", "contract_symbol"], ascending=[False, True]).head(picks_per_day)
    picks = pd.DataFrame(
        {
            "trade_date": day,
            "contract_symbol": top["contract_symbol"].to_numpy(),
            "underlying": top["underlying"].to_numpy(),
            "model_name": version.model_name,
            "model_version": version.version,
            "model_usable_from": version.usable_from,
            "pick_rank": np.arange(1, len(top) + 1),
            "score": top["score"].to_numpy(float),
            "entry_price": top["entry_price"].to_numpy(float),
        }
    )
    return picks[PICK_COLUMNS]


def record_paper_trades(
    warehouse,
    days: list[dt.date],
    *,
    picks_per_day: int,
    recorded_at: pd.Timestamp,
    models: tuple[str, ...] = MODELS,
    repick: bool = False,
    scorers: Scorers | None = None,
) -> dict[str, dict[str, str]]:
    """Record each day's picks for each model, then resolve every open trade of the days whose
    rl_dataset row exists. Returns, per day and model, what happened.

    A day's picks of a model, once recorded, are kept (they were made before the outcome was
    known) unless `repick`; a (day, model) without picks is tried again, so a re-run fills what an
    earlier one skipped. A model whose artifact cannot be loaded is skipped for the day, with the
    reason (model, version, file) in the report and in `scorers.skipped`: the other models' picks
    are recorded all the same, and that model's earlier picks of the day, if any, are kept.
    Rows kept on a day that is partly re-recorded are written back as they were and resolved again
    (same outcome, from rl_dataset; resolved_at becomes this run's)."""
    if picks_per_day < 1:
        raise ValueError(f"picks_per_day must be >= 1; got {picks_per_day}")
    scorers = scorers if scorers is not None else Scorers()
    window = {"start_date": days[0], "end_date": days[-1]}
    recorded = warehouse.query("paper_trades_days", window)
    already = {(pd.Timestamp(d).date(), m) for d, m in zip(recorded["trade_date"], recorded["model_name"], strict=True)}
    report: dict[str, dict[str, str]] = {str(d): {} for d in days}
    rows, replaced = [], {}  # replaced: day -> the models whose picks of that day this run writes
    for day in days:
        todo = [m for m in models if repick or (day, m) not in already]
        report[str(day)] = {m: "already recorded" for m in models if m not in todo}
        if not todo:
            continue
        candidates = warehouse.query("recommended_states", {"start_date": day, "end_date": day})
        replaced[day] = []
        for model in todo:
            version = usable_version(warehouse, model, day)
            if candidates.empty:
                report[str(day)][model] = "no recommendations"
            elif version is None:
                report[str(day)][model] = "no usable model version"
            else:
                try:
                    scorer = scorers.get(version, day)
                except ArtifactError as error:
                    report[str(day)][model] = f"skipped: {error}"
                    continue  # not replaced: picks recorded earlier, if any, stay
                chosen = pick(candidates, version, day, picks_per_day, scorer)
                rows.append(chosen)
                report[str(day)][model] = (
                    f"{len(chosen)} picks by v{version.version} (usable from {version.usable_from})"
                )
            replaced[day].append(model)
        report[str(day)] = {m: report[str(day)][m] for m in models}  # in the models' order
    replaced = {day: chosen for day, chosen in replaced.items() if chosen}
    if replaced:
        frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=PICK_COLUMNS)
        frame["recorded_at"] = pd.Timestamp(recorded_at)
        kept = _kept_picks(warehouse, already, replaced)
        if not kept.empty:
            frame = pd.concat([frame, kept], ignore_index=True)
        # Replace each run of consecutive trading days to (re)record in one transaction.
        for start, end in _runs(sorted(replaced)):
            part = frame[(frame["trade_date"] >= start) & (frame["trade_date"] <= end)]
            replace_date_range(
                warehouse, part, start, end,
                staging_table=PAPER_TRADES_STAGING,
                delete_statement="delete_paper_trades_range",
                insert_statement="insert_paper_trades",
            )  # fmt: skip
    resolve_paper_trades(warehouse, days[0], days[-1], recorded_at)
    return report


def _kept_picks(warehouse, already: set, replaced: dict[dt.date, list[str]]) -> pd.DataFrame:
    """The recorded picks, as recorded, of the days about to be replaced whose model is not
    re-recorded (read only if there are any)."""
    kept = {(day, model) for day, model in already if day in replaced and model not in replaced[day]}
    if not kept:
        return pd.DataFrame()
    dates = sorted(day for day, _ in kept)
    rows = warehouse.query("paper_trades_window", {"start_date": dates[0], "end_date": dates[-1]})
    rows["trade_date"] = pd.to_datetime(rows["trade_date"]).dt.date
    rows["model_usable_from"] = pd.to_datetime(rows["model_usable_from"]).dt.date
    rows["recorded_at"] = pd.to_datetime(rows["recorded_at"], utc=True)  # as the new picks' (stored as UTC)
    keep = [(d, m) in kept for d, m in zip(rows["trade_date"], rows["model_name"], strict=True)]
    return rows.loc[keep, [*PICK_COLUMNS, "recorded_at"]]


def _runs(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive trading-day runs of `days`, as (first, last)."""
    runs, start, previous = [], days[0], days[0]
    for day in days[1:]:
        if calendar.shift_trading_days(previous, 1) != day:
            runs.append((start, previous))
            start = day
        previous = day
    runs.append((start, previous))
    return runs


def resolve_paper_trades(warehouse, start: dt.date, end: dt.date, resolved_at: pd.Timestamp) -> None:
    """Fill the outcome of open trades of [start, end] from rl_dataset (the shared reward)."""
    warehouse.execute(
        "resolve_paper_trades",
        {"start_date": start, "end_date": end, "resolved_at": pd.Timestamp(resolved_at).to_pydatetime()},
    )


def performance(
    trades: pd.DataFrame, recommendations: pd.DataFrame, rolling_days: int = ROLLING_DAYS
) -> tuple[pd.DataFrame, dict]:
    """Per model (and for all recommendations) and resolved trading day: picks, hits, mean reward,
    the equity curve (cumulative mean reward of the day's picks, equal weights) and the running hit
    rate; and per model the overall hit rate and mean reward with 95% date-bootstrap intervals, and
    the hit rate over its last `rolling_days` resolved trade days (`rolling`).

    trades: resolved paper_trades rows; recommendations: resolved recommendations with hit_50 and
    reward (sql/recommendations_outcomes.sql), named ALL_RECOMMENDATIONS.
    """
    frames = [trades[["trade_date", "model_name", "hit_50", "reward"]], recommendations]
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[rows["reward"].notna()].assign(hit=lambda f: f["hit_50"].astype(bool).astype(float))
    daily = (
        rows.groupby(["model_name", "trade_date"], as_index=False)
        .agg(picks=("hit", "size"), hits=("hit", "sum"), mean_reward=("reward", "mean"))
        .sort_values(["model_name", "trade_date"], ignore_index=True)
    )
    daily["equity"] = daily.groupby("model_name")["mean_reward"].cumsum()
    cumulative = daily.groupby("model_name")[["hits", "picks"]].cumsum()
    daily["running_hit_rate"] = cumulative["hits"] / cumulative["picks"]
    summary = {}
    for model, group in rows.groupby("model_name"):
        dates = group["trade_date"].to_numpy()
        summary[model] = {
            "resolved_picks": len(group),
            "days": int(group["trade_date"].nunique()),
            "hit_rate": interval_dict(mean_interval(group["hit"], dates)),
            "mean_reward": interval_dict(mean_interval(group["reward"], dates)),
            "rolling": _rolling_hit_rate(daily[daily["model_name"] == model], rolling_days),
        }
    return daily, summary


def _rolling_hit_rate(daily: pd.DataFrame, days: int) -> dict:
    recent = daily.tail(days)  # daily is sorted by trade date
    return {
        "days": len(recent),
        "first_date": str(pd.Timestamp(recent["trade_date"].iloc[0]).date()),
        "last_date": str(pd.Timestamp(recent["trade_date"].iloc[-1]).date()),
        "picks": int(recent["picks"].sum()),
        "hit_rate": float(recent["hits"].sum() / recent["picks"].sum()),
    }
