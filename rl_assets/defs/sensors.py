"""The sensors: what follows a daily run, the sidecar's live-chain observer, and retraining.

Each evening of an NYSE session, `trading_day_schedule` (defs/schedules.py) runs `daily_job` for
that day's partition (live chain → archive → technicals → rl_state → recommendations → paper
picks). When it succeeds, `labels_after_daily_run` runs `labels_job` for the session three trading
days earlier, whose label window has just closed (rl_dataset, the resolution of its paper trades,
the performance summary). `retraining_sensor` retrains both models when enough new labels have
landed or the agent falls behind the baseline on paper. Runs that open the warehouse share the
"warehouse" pool, which the embedded dagster.yaml limits to one run at a time (one DuckDB writer).

In sidecar mode (RL_ASSETS_MARKET=warehouse) an existing pipeline loads options_chain and
price_data, on its own clock: `live_chain_sensor` replaces the evening schedule, observing the
live table and running the day once it holds that session's quotes.
"""

import datetime as dt

import dagster as dg

from rl_assets import calendar
from rl_assets.archive import ArchiveRefused, observe_live_chain
from rl_assets.defs.assets.models import version_state
from rl_assets.defs.jobs import Jobs
from rl_assets.defs.partitions import range_run_tags, run_days
from rl_assets.defs.resources import Warehouse
from rl_assets.model_store import MODEL_NAMES
from rl_assets.retraining import ModelVersionState, RetrainPolicy, retraining_due
from rl_assets.reward import HORIZON_DAYS

OPTIONS_CHAIN, RL_DATASET = dg.AssetKey("options_chain"), dg.AssetKey("rl_dataset")
PAPER_TRADING_PERFORMANCE = dg.AssetKey("paper_trading_performance")
MODEL_KEYS = {name: dg.AssetKey(name) for name in MODEL_NAMES}
RETRAIN_POLICY = RetrainPolicy()


def build_sensors(jobs: Jobs, daily: dg.TimeWindowPartitionsDefinition, sidecar: bool) -> list[dg.SensorDefinition]:
    sensors = [build_labels_after_daily_run(jobs, daily), build_retraining_sensor(jobs)]
    return [*sensors, build_live_chain_sensor(jobs)] if sidecar else sensors


def build_labels_after_daily_run(jobs: Jobs, daily: dg.TimeWindowPartitionsDefinition) -> dg.SensorDefinition:
    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[jobs.daily],
        request_job=jobs.labels,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def labels_after_daily_run(context: dg.RunStatusSensorContext):
        """When a daily run for T succeeds, T-3's label window is complete: build rl_dataset for T-3,
        resolve its paper trades and refresh the paper-trading performance (labels_job)."""
        days = run_days(context.dagster_run.tags)
        if not days:
            return dg.SkipReason(f"run {context.dagster_run.run_id} has no trading-day partition")
        first, last = (calendar.shift_trading_days(d, -HORIZON_DAYS) for d in (days[0], days[-1]))
        first = max(first, dt.date.fromisoformat(daily.get_first_partition_key()))
        if first > last:
            return dg.SkipReason(f"no partition {HORIZON_DAYS} sessions before {days[-1]}")
        if first == last:
            return dg.RunRequest(run_key=f"labels:{last}", partition_key=str(last))
        return dg.RunRequest(run_key=f"labels:{first}..{last}", tags=range_run_tags(first, last))

    return labels_after_daily_run


def build_live_chain_sensor(jobs: Jobs) -> dg.SensorDefinition:
    """Sidecar mode: the existing pipeline's clock, not ours."""

    @dg.sensor(
        jobs=[jobs.daily, jobs.live_archive],
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
            try:
                state = observe_live_chain(wh, warehouse.live_chain(wh))
            except ArchiveRefused as refused:  # the table is missing or its format does not fit it
                return dg.SensorResult(skip_reason=dg.SkipReason(str(refused)))
            day = state.first_quote_date
            prices_landed = day is not None and bool(
                len(wh.query("price_data_row_counts", {"start_date": day, "end_date": day}))
            )
        version = state.data_version
        events = []
        if version != context.cursor:
            events.append(
                dg.AssetObservation(
                    asset_key=OPTIONS_CHAIN,
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
            request = dg.RunRequest(run_key=f"daily:{day}:{version}", job_name=jobs.daily.name, partition_key=str(day))
        else:
            context.log.info(f"price_data has no rows for {day} yet: archiving the chain now, the rest once it lands")
            request = dg.RunRequest(
                run_key=f"archive:{day}:{version}", job_name=jobs.live_archive.name, partition_key=str(day)
            )
        return dg.SensorResult(run_requests=[request], asset_events=events, cursor=version)

    return live_chain_sensor


# ---- Retraining
_WATCHED = (RL_DATASET, PAPER_TRADING_PERFORMANCE, *MODEL_KEYS.values())


def latest_materialization(instance: dg.DagsterInstance, key: dg.AssetKey) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(key, limit=1).records
    return records[0] if records else None


def model_state(record: dg.EventLogRecord | None) -> ModelVersionState | None:
    """The current version, from a model asset's latest materialisation; None if there is none, or
    if it was written before its train_end had a key of its own (see legacy_models)."""
    if record is None:
        return None
    return version_state({key: value.value for key, value in record.asset_materialization.metadata.items()})


def legacy_models(latest: dict[dg.AssetKey, dg.EventLogRecord | None]) -> list[str]:
    """The models whose latest materialisation predates the train_end key. Their train window is
    not read from the display string: the rule counts them as having no known version, so they are
    retrained once (reason first_version) and the new materialisation carries train_end."""
    return [name for name, key in MODEL_KEYS.items() if latest[key] is not None and model_state(latest[key]) is None]


def rolling_hit_rates(record: dg.EventLogRecord | None) -> dict | None:
    """Each model's rolling paper hit rate, from paper_trading_performance's latest materialisation."""
    if record is None:
        return None
    metrics = record.asset_materialization.metadata.get("metrics")  # absent while there are no picks
    return {model: stats["rolling"] for model, stats in metrics.value.items()} if metrics else None


def build_retraining_sensor(jobs: Jobs) -> dg.SensorDefinition:
    @dg.sensor(
        job=jobs.training,
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
        label_days = [dt.date.fromisoformat(key) for key in context.instance.get_materialized_partitions(RL_DATASET)]
        models = {name: model_state(latest[key]) for name, key in MODEL_KEYS.items()}
        for name in legacy_models(latest):
            context.log.warning(
                f"{name}'s latest materialisation has no train_end (written by an older version): "
                "counted as no known version, so a retrain writes one"
            )
        rolling = rolling_hit_rates(latest[PAPER_TRADING_PERFORMANCE])
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

    return retraining_sensor
