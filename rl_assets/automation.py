"""How the graph runs itself: the jobs, the trading-day schedule, the sensors and the
partition-aware freshness checks.

Each evening of an NYSE session, `trading_day_schedule` runs `daily_job` for that day's partition
(live chain → archive → technicals → rl_state → recommendations → paper picks). When it succeeds,
`labels_after_daily_run` runs `labels_job` for the session three trading days earlier, whose label
window has just closed (rl_dataset, the resolution of its paper trades, the performance summary).
`retraining_sensor` retrains both models when enough new labels have landed or the agent falls
behind the baseline on paper. Runs that open the warehouse share the "warehouse" pool, which the
embedded dagster.yaml limits to one run at a time (one DuckDB writer).

In sidecar mode (RL_ASSETS_MARKET=warehouse) an existing pipeline loads options_chain and
price_data, on its own clock: `live_chain_sensor` replaces the evening schedule, observing the
live table and running the day once it holds that session's quotes.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd

from rl_assets import calendar
from rl_assets.archive import observe_live_chain
from rl_assets.assets.dataset import rl_dataset, rl_state
from rl_assets.assets.market import options_chain, options_chain_history, price_data
from rl_assets.assets.models import baseline_model, ppo_agent
from rl_assets.assets.paper_trading import paper_trades, paper_trading_performance, recommendations
from rl_assets.assets.technicals import technicals_history
from rl_assets.partitions import (
    DAILY_RUN_CRON,
    FRESHNESS_DEADLINE,
    FRESHNESS_DEADLINE_CRON,
    range_run_tags,
    run_days,
    trading_days,
)
from rl_assets.resources import Warehouse
from rl_assets.retraining import ModelVersionState, RetrainPolicy, retraining_due
from rl_assets.reward import HORIZON_DAYS
from rl_assets.settings import Settings

# Sidecar mode: options_chain and price_data are the existing pipeline's (external assets).
SIDECAR = Settings.from_env().market == "warehouse"

# ---- Freshness: has the latest session's partition landed by the deadline? The assets' plain
# FreshnessPolicy only sees the newest materialisation of any partition, which a backfill of an old
# day would fake. (Dagster's build_time_partition_freshness_checks reads the partitions definition's
# end_offset=1 as "tomorrow's session is due" on the evening of a holiday, so the expected day
# comes from the exchange calendar here.)
HISTORY_ASSETS = (
    (options_chain_history, technicals_history) if SIDECAR else (price_data, options_chain_history, technicals_history)
)
LATEST_SESSION_LANDED = "latest_session_landed"


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            LATEST_SESSION_LANDED,
            asset=asset,
            description=f"Fails when the newest NYSE session whose {FRESHNESS_DEADLINE:%H:%M} New York deadline has "
            "passed has no materialised partition.",
        )
        for asset in HISTORY_ASSETS
    ],
    can_subset=True,
)
def history_freshness_checks(context: dg.AssetCheckExecutionContext):
    expected = calendar.latest_session_due(pd.Timestamp.now(tz="UTC"), FRESHNESS_DEADLINE)
    for check_key in context.selected_asset_check_keys:
        landed = context.instance.get_materialized_partitions(check_key.asset_key)
        newest = max(landed, default=None)
        passed = str(expected) in landed
        yield dg.AssetCheckResult(
            asset_key=check_key.asset_key,
            check_name=check_key.name,
            passed=passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"partition {expected} {'has landed' if passed else 'is overdue'} "
            f"(deadline {FRESHNESS_DEADLINE:%H:%M} New York); newest partition: {newest}",
            metadata={"expected_partition": str(expected), "newest_partition": str(newest)},
        )


freshness_deadline_schedule = dg.ScheduleDefinition(
    name="freshness_deadline_schedule",
    cron_schedule=FRESHNESS_DEADLINE_CRON,
    execution_timezone=calendar.TIMEZONE,
    target=dg.AssetSelection.checks(history_freshness_checks),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At each weekday's deadline: has the session's partition of every history asset landed?",
)


def _assets(*assets: dg.AssetsDefinition) -> dg.AssetSelection:
    """The assets Dagster materialises (not the external tables of sidecar mode), with their data
    checks; the freshness checks run on their own schedule."""
    return dg.AssetSelection.assets(*assets).materializable() - dg.AssetSelection.checks(history_freshness_checks)


# ---- Jobs
archive_job = dg.define_asset_job(
    "archive_job",
    selection=_assets(price_data, options_chain_history, technicals_history),
    description="Prices, the chain archive and technicals for a trading day or a range of them (one run).",
)
dataset_job = dg.define_asset_job(
    "dataset_job",
    selection=_assets(rl_state, rl_dataset),
    description="rl_state and rl_dataset for a trading day or a range (rl_dataset needs T+3's snapshot).",
)
training_job = dg.define_asset_job(
    "training_job",
    selection=_assets(baseline_model, ppo_agent),
    description="Train, evaluate walk-forward and register new versions of both models.",
)
paper_trading_job = dg.define_asset_job(
    "paper_trading_job",
    selection=_assets(recommendations, paper_trades, paper_trading_performance),
    description="Screen the day's candidates, record the models' picks, resolve and track them.",
)
daily_job = dg.define_asset_job(
    "daily_job",
    selection=_assets(
        options_chain, price_data, options_chain_history, technicals_history, rl_state, recommendations, paper_trades
    ),
    description="A session end to end, after the close: load and archive the live chain, prices, technicals, "
    "rl_state, the screened recommendations and the models' paper picks.",
)
live_archive_job = dg.define_asset_job(
    "live_archive_job",
    selection=_assets(options_chain_history),
    description="Archive the live chain as its trading day's partition, before the pipeline wipes it.",
)
labels_job = dg.define_asset_job(
    "labels_job",
    selection=_assets(rl_dataset, paper_trades, paper_trading_performance),
    description=f"Day T once T+{HORIZON_DAYS} has landed: rl_dataset's labels, the resolution of T's paper trades "
    "and the paper-trading performance.",
)


# ---- The evening schedule and what follows it
@dg.schedule(
    job=daily_job,
    cron_schedule=DAILY_RUN_CRON,
    execution_timezone=calendar.TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def trading_day_schedule(context: dg.ScheduleEvaluationContext):
    """After each NYSE session's close: that session's partition end to end (the live chain is
    archived before the next wipe). Weekdays without a session (exchange holidays) are skipped."""
    day = context.scheduled_execution_time.astimezone(ZoneInfo(calendar.TIMEZONE)).date()
    if not calendar.is_trading_day(day):
        return dg.SkipReason(f"{day} ({day:%A}) is not an NYSE session")
    return dg.RunRequest(run_key=f"daily:{day}", partition_key=str(day))


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[daily_job],
    request_job=labels_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def labels_after_daily_run(context: dg.RunStatusSensorContext):
    """When a daily run for T succeeds, T-3's label window is complete: build rl_dataset for T-3,
    resolve its paper trades and refresh the paper-trading performance (labels_job)."""
    days = run_days(context.dagster_run.tags)
    if not days:
        return dg.SkipReason(f"run {context.dagster_run.run_id} has no trading-day partition")
    first, last = (calendar.shift_trading_days(d, -HORIZON_DAYS) for d in (days[0], days[-1]))
    first = max(first, dt.date.fromisoformat(trading_days.get_first_partition_key()))
    if first > last:
        return dg.SkipReason(f"no partition {HORIZON_DAYS} sessions before {days[-1]}")
    if first == last:
        return dg.RunRequest(run_key=f"labels:{last}", partition_key=str(last))
    return dg.RunRequest(run_key=f"labels:{first}..{last}", tags=range_run_tags(first, last))


# ---- Sidecar mode: the existing pipeline's clock, not ours
@dg.sensor(
    jobs=[daily_job, live_archive_job],
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def live_chain_sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse):
    """Observe the existing pipeline's live options_chain (row count, quote dates; cheap aggregate)
    and, when it changed and holds one NYSE session's quotes, run that session: daily_job once
    price_data has the session too, otherwise archive the chain at once (live_archive_job) so it
    is kept before the next wipe. A table that cannot be archived (empty, mixed or non-trading
    dates, missing quote times) is reported, never archived."""
    with warehouse.session() as wh:
        state = observe_live_chain(wh)
        day = state.first_quote_date
        prices_landed = day is not None and bool(
            len(wh.query("price_data_row_counts", {"start_date": day, "end_date": day}))
        )
    version = state.data_version
    events = []
    if version != context.cursor:
        events.append(
            dg.AssetObservation(
                asset_key=options_chain.key,
                metadata={
                    "dagster/row_count": state.rows,
                    "first_quote_time": str(state.first_quote_time),
                    "last_quote_time": str(state.last_quote_time),
                    "trading_date": str(day),
                    "archivable": state.problem() or "yes",
                },
                tags={"dagster/data_version": version},
            )
        )
    problem = state.problem()
    if problem:
        return dg.SensorResult(skip_reason=dg.SkipReason(problem), asset_events=events, cursor=version)
    if prices_landed:
        request = dg.RunRequest(run_key=f"daily:{day}:{version}", job_name=daily_job.name, partition_key=str(day))
    else:
        context.log.info(f"price_data has no rows for {day} yet: archiving the chain now, the rest once it lands")
        request = dg.RunRequest(
            run_key=f"archive:{day}:{version}", job_name=live_archive_job.name, partition_key=str(day)
        )
    return dg.SensorResult(run_requests=[request], asset_events=events, cursor=version)


# ---- Retraining
RETRAIN_POLICY = RetrainPolicy()
_MODEL_KEYS = {asset.key.to_user_string(): asset.key for asset in (baseline_model, ppo_agent)}
_WATCHED = (rl_dataset.key, paper_trading_performance.key, *_MODEL_KEYS.values())


def latest_materialization(instance: dg.DagsterInstance, key: dg.AssetKey) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(key, limit=1).records
    return records[0] if records else None


def model_state(record: dg.EventLogRecord | None) -> ModelVersionState | None:
    """The current version, from a model asset's latest materialisation."""
    if record is None:
        return None
    metadata = record.asset_materialization.metadata
    train_end = metadata["train_window"].value.split(" .. ")[1]
    return ModelVersionState(
        version=int(metadata["version"].value),
        train_end=dt.date.fromisoformat(train_end),
        usable_from=dt.date.fromisoformat(metadata["usable_from"].value),
    )


def rolling_hit_rates(record: dg.EventLogRecord | None) -> dict | None:
    """Each model's rolling paper hit rate, from paper_trading_performance's latest materialisation."""
    if record is None:
        return None
    metrics = record.asset_materialization.metadata.get("metrics")  # absent while there are no picks
    return {model: stats["rolling"] for model, stats in metrics.value.items()} if metrics else None


@dg.sensor(
    job=training_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def retraining_sensor(context: dg.SensorEvaluationContext):
    """Retrain baseline_model and ppo_agent when enough new labelled days have landed since the
    current versions were trained, or when the agent's rolling paper hit rate falls below the
    baseline's (rl_assets.retraining). Reads only the Dagster instance, never the warehouse; the
    cursor is the newest event it has seen, the run key names the versions it replaces."""
    latest = {key: latest_materialization(context.instance, key) for key in _WATCHED}
    newest = max((record.storage_id for record in latest.values() if record), default=0)
    if newest <= int(context.cursor or 0):
        return dg.SkipReason("no new rl_dataset, model or paper-trading materialisation since the last evaluation")
    label_days = [dt.date.fromisoformat(key) for key in context.instance.get_materialized_partitions(rl_dataset.key)]
    models = {name: model_state(latest[key]) for name, key in _MODEL_KEYS.items()}
    rolling = rolling_hit_rates(latest[paper_trading_performance.key])
    decision = retraining_due(RETRAIN_POLICY, label_days, models, rolling)
    if decision is None:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(f"no retraining due ({len(label_days)} labelled days)"), cursor=str(newest)
        )
    context.log.info(f"retraining ({decision.reason}): {decision.detail}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=decision.run_key, tags={"rl_assets/retrain_reason": decision.reason})],
        cursor=str(newest),
    )


schedules = [freshness_deadline_schedule] if SIDECAR else [trading_day_schedule, freshness_deadline_schedule]
sensors = [labels_after_daily_run, retraining_sensor, *([live_chain_sensor] if SIDECAR else [])]
jobs = [daily_job, labels_job, archive_job, dataset_job, training_job, paper_trading_job, live_archive_job]
