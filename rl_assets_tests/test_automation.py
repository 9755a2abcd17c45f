"""The schedule, the sensors and the freshness guards, evaluated against real Dagster instances."""

import asyncio
import datetime as dt
import shutil
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.definitions.freshness_evaluator import TimeWindowFreshnessPolicyEvaluator
from dagster._core.instance.config import dagster_instance_config
from dagster._core.loader import LoadingContextForTest
from dagster._core.test_utils import freeze_time
from dagster._utils.schedules import cron_string_iterator

from rl_assets import calendar
from rl_assets.defs import sensors
from rl_assets.defs.assets.models import version_metadata
from rl_assets.defs.checks import HISTORY_ASSETS
from rl_assets.defs.partitions import FRESHNESS_DEADLINE, range_run_tags
from rl_assets.defs.resources import ModelStore, SyntheticMarketProvider, Warehouse
from rl_assets.model_store import MODEL_NAMES, PPO_AGENT, ModelVersion
from rl_assets.retraining import ModelVersionState, RetrainPolicy, retraining_due
from rl_assets.reward import HORIZON_DAYS
from rl_assets.settings import REPO_ROOT
from rl_assets.warehouse.duckdb_backend import open_duckdb
from rl_assets_tests.code_location import DEFS, history_freshness_checks, price_data, sensor
from rl_assets_tests.conftest import DAY, SMALL_UNIVERSE

defs = DEFS
trading_days = price_data.partitions_def

NEW_YORK = ZoneInfo(calendar.TIMEZONE)
THANKSGIVING = dt.date(2026, 11, 26)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK)


# ---- The schedule
def test_schedule_runs_each_session_after_the_close_and_skips_holidays():
    schedule = defs.get_schedule_def("trading_day_schedule")
    assert schedule.execution_timezone == calendar.TIMEZONE
    assert schedule.job_name == "daily_job"
    with dg.instance_for_test() as instance:
        for day in (DAY, dt.date(2026, 11, 27)):  # a full session and the half day after Thanksgiving
            tick = _at(day, 17)
            request = schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=tick))
            assert request.partition_key == str(day) and request.run_key == f"daily:{day}"
            # The partition already exists at the tick (end_offset=1), so the run can target it.
            assert str(day) in trading_days.get_partition_keys(current_time=tick)
        skipped = schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=_at(THANKSGIVING, 17)))
        assert (
            isinstance(skipped, dg.SkipReason)
            and "2026-11-26 (Thursday) is not an NYSE session" in skipped.skip_message
        )
    # Weekends never tick: the cron names weekdays only, evaluated in New York time.
    ticks = cron_string_iterator(_at(DAY, 18).timestamp(), schedule.cron_schedule, schedule.execution_timezone)
    week = [next(ticks) for _ in range(5)]
    assert [t.strftime("%a %H:%M") for t in week] == ["Mon 17:00", "Tue 17:00", "Wed 17:00", "Thu 17:00", "Fri 17:00"]


# ---- The daily run end to end, then the labels run its success triggers
@pytest.fixture(scope="module")
def daily_runs(tmp_path_factory):
    """Four evening runs (T-3..T) of daily_job on a real instance and DuckDB file, after the prices
    the technicals' warm-up reads."""
    folder = tmp_path_factory.mktemp("daily")
    resources = {
        "warehouse": Warehouse(duckdb_path=str(folder / "warehouse.duckdb"), dataset="rl_test"),
        "market": SyntheticMarketProvider(seed=11, universe=SMALL_UNIVERSE),
        "model_store": ModelStore(location=str(folder / "models")),
    }
    test_defs = dg.Definitions(assets=defs.assets, asset_checks=defs.asset_checks, jobs=defs.jobs, resources=resources)
    days = calendar.trading_days(calendar.shift_trading_days(DAY, -HORIZON_DAYS), DAY)
    with dg.instance_for_test(temp_dir=str(folder)) as instance:
        first = dt.date.fromisoformat(trading_days.get_first_partition_key())
        prices = dg.materialize(
            [price_data], instance=instance, resources=resources,
            tags=range_run_tags(first, calendar.shift_trading_days(days[0], -1)),
        )  # fmt: skip
        assert prices.success
        daily_job = test_defs.resolve_job_def("daily_job")
        runs = {day: daily_job.execute_in_process(instance=instance, partition_key=str(day)) for day in days}
        yield {"instance": instance, "defs": test_defs, "runs": runs, "days": days, "resources": resources}


def test_the_daily_run_materialises_the_sessions_partitions_end_to_end(daily_runs):
    instance, days = daily_runs["instance"], daily_runs["days"]
    assert all(result.success for result in daily_runs["runs"].values())
    job = daily_runs["defs"].resolve_job_def("daily_job")
    for key in job.asset_layer.selected_asset_keys:
        if key == dg.AssetKey("options_chain"):
            assert instance.get_latest_materialization_event(key) is not None
        else:
            assert {str(d) for d in days} <= instance.get_materialized_partitions(key), key
    failed = [
        e.check_name for r in daily_runs["runs"].values() for e in r.get_asset_check_evaluations() if not e.passed
    ]
    assert failed == []
    with open_duckdb(daily_runs["resources"]["warehouse"].duckdb_path, "rl_test") as wh:
        archived = wh.query("options_chain_history_row_counts", {"start_date": days[0], "end_date": days[-1]})
    assert (archived["row_count"] > 0).sum() == len(days)


def _success_event(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterEvent:
    (record,) = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records
    return record.event_log_entry.dagster_event


def test_a_successful_daily_run_resolves_the_session_three_days_back(daily_runs):
    instance, days = daily_runs["instance"], daily_runs["days"]
    newest = daily_runs["runs"][days[-1]]
    context = dg.build_run_status_sensor_context(
        sensor_name="labels_after_daily_run",
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(newest.run_id),
        dagster_event=_success_event(instance, newest.run_id),
    )
    request = sensor("labels_after_daily_run")(context)
    assert request.partition_key == str(days[0]) and request.run_key == f"labels:{days[0]}"
    labels = (
        daily_runs["defs"]
        .resolve_job_def("labels_job")
        .execute_in_process(instance=instance, partition_key=request.partition_key)
    )
    assert labels.success
    assert str(days[0]) in instance.get_materialized_partitions(dg.AssetKey("rl_dataset"))
    (dataset,) = labels.asset_materializations_for_node("rl_dataset")
    assert dataset.metadata["dagster/row_count"].value > 0
    # No model is registered yet, so there are no picks; the performance summary says so, no failure.
    (summary,) = labels.asset_materializations_for_node("paper_trading_performance")
    assert summary.metadata["dagster/row_count"].value == 0


def test_the_labels_sensor_skips_a_run_without_a_partition_and_maps_ranges(daily_runs):
    instance, days = daily_runs["instance"], daily_runs["days"]
    run = instance.get_run_by_id(daily_runs["runs"][days[-1]].run_id)
    event = _success_event(instance, run.run_id)

    def evaluate(tags):
        context = dg.build_run_status_sensor_context(
            sensor_name="labels_after_daily_run",
            dagster_instance=instance,
            dagster_run=run.with_tags(tags),
            dagster_event=event,
        )
        return sensor("labels_after_daily_run")(context)

    assert isinstance(evaluate({}), dg.SkipReason)
    ranged = evaluate(range_run_tags(days[0], days[-1]))
    first, last = (calendar.shift_trading_days(d, -HORIZON_DAYS) for d in (days[0], days[-1]))
    assert ranged.tags == range_run_tags(first, last) and ranged.run_key == f"labels:{first}..{last}"
    assert isinstance(evaluate({"dagster/partition": trading_days.get_first_partition_key()}), dg.SkipReason)


# ---- Retraining
SESSIONS = calendar.trading_days("2026-06-01", "2026-10-30")
TRAINED_THROUGH = SESSIONS[-10]


def _report(instance, asset: str, partition: str | None = None, **metadata):
    instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition=partition, metadata=metadata))


def _register_versions(instance, version: int, train_end: dt.date = TRAINED_THROUGH):
    """Each model's materialisation as the asset writes it (version_metadata)."""
    usable = calendar.shift_trading_days(train_end, HORIZON_DAYS + 1)
    for name in MODEL_NAMES:
        registered = ModelVersion(name, version, pd.Timestamp.now(tz="UTC"), SESSIONS[0], train_end, usable, {}, "-")
        _report(instance, name, **version_metadata(registered))


def _evaluate(instance, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, sensor_name="retraining_sensor")
    return sensor("retraining_sensor")(context), context


def _requests(result) -> list[dg.RunRequest]:
    return list(result.run_requests or []) if isinstance(result, dg.SensorResult) else []


def test_retraining_waits_for_enough_labels_then_trains_a_first_version():
    with dg.instance_for_test() as instance:
        result, _ = _evaluate(instance)
        assert isinstance(result, dg.SkipReason) and "no new" in result.skip_message
        needed = RetrainPolicy().first_training_days
        for day in SESSIONS[: needed - 1]:
            _report(instance, "rl_dataset", str(day))
        result, _ = _evaluate(instance)
        assert _requests(result) == [] and "no retraining due" in result.skip_reason.skip_message
        _report(instance, "rl_dataset", str(SESSIONS[needed - 1]))
        (request,) = _requests(_evaluate(instance)[0])
        assert request.run_key == f"retrain:first-version:through-{SESSIONS[needed - 1]}"
        assert request.tags["rl_assets/retrain_reason"] == "first_version"


def test_retraining_after_n_new_labelled_days_once_per_version_with_a_cursor():
    policy = RetrainPolicy()
    with dg.instance_for_test() as instance:
        labelled = [d for d in SESSIONS if d <= TRAINED_THROUGH]
        for day in labelled:
            _report(instance, "rl_dataset", str(day))
        _register_versions(instance, version=3)
        new_days = [d for d in SESSIONS if d > TRAINED_THROUGH]
        for day in new_days[: policy.new_label_days - 1]:
            _report(instance, "rl_dataset", str(day))
        result, _ = _evaluate(instance)
        assert _requests(result) == []
        cursor = result.cursor
        # Nothing new since the cursor: the sensor does not look again.
        again, _ = _evaluate(instance, cursor)
        assert isinstance(again, dg.SkipReason) and "no new" in again.skip_message
        # Re-materialising an old day is not a new label.
        _report(instance, "rl_dataset", str(labelled[5]))
        assert _requests(_evaluate(instance, cursor)[0]) == []
        _report(instance, "rl_dataset", str(new_days[policy.new_label_days - 1]))
        result, _ = _evaluate(instance, cursor)
        (request,) = _requests(result)
        assert request.run_key == "retrain:new-labels:baseline_model-v3+ppo_agent-v3"
        assert request.tags["rl_assets/retrain_reason"] == "new_labels"
        # While the retraining runs, more labels land: the same key, so Dagster launches it once.
        _report(instance, "rl_dataset", str(new_days[policy.new_label_days]))
        (same,) = _requests(_evaluate(instance, result.cursor)[0])
        assert same.run_key == request.run_key
        # The new versions are trained through the new days: nothing is due any more.
        _register_versions(instance, version=4, train_end=new_days[policy.new_label_days])
        assert _requests(_evaluate(instance, result.cursor)[0]) == []


def _performance(instance, agent_rate: float, baseline_rate: float, first_date: dt.date, picks: int = 40):
    def rolling(rate):
        return {"days": 20, "first_date": str(first_date), "last_date": str(SESSIONS[-1]), "picks": picks,
                "hit_rate": rate}  # fmt: skip

    metrics = {"ppo_agent": {"rolling": rolling(agent_rate)}, "baseline_model": {"rolling": rolling(baseline_rate)}}
    _report(instance, "paper_trading_performance", metrics=dg.MetadataValue.json(metrics))


def test_retraining_when_the_agents_paper_hit_rate_falls_below_the_baselines():
    with dg.instance_for_test() as instance:
        for day in [d for d in SESSIONS if d <= TRAINED_THROUGH]:
            _report(instance, "rl_dataset", str(day))
        _register_versions(instance, version=2)
        usable = calendar.shift_trading_days(TRAINED_THROUGH, HORIZON_DAYS + 1)
        _performance(instance, agent_rate=0.30, baseline_rate=0.20, first_date=usable)
        assert _requests(_evaluate(instance)[0]) == []  # the agent is ahead
        _performance(instance, agent_rate=0.10, baseline_rate=0.20, first_date=calendar.shift_trading_days(usable, -1))
        assert _requests(_evaluate(instance)[0]) == []  # behind, but the window includes an older version's picks
        _performance(instance, agent_rate=0.10, baseline_rate=0.20, first_date=usable, picks=10)
        assert _requests(_evaluate(instance)[0]) == []  # behind on too few picks
        _performance(instance, agent_rate=0.10, baseline_rate=0.20, first_date=usable)
        (request,) = _requests(_evaluate(instance)[0])
        assert request.run_key == "retrain:hit-rate-below-baseline:baseline_model-v2+ppo_agent-v2"
        assert request.tags["rl_assets/retrain_reason"] == "hit_rate_below_baseline"


def test_the_sensor_reads_train_end_from_its_own_key_and_an_older_materialisation_means_no_known_version():
    usable = calendar.shift_trading_days(TRAINED_THROUGH, HORIZON_DAYS + 1)
    with dg.instance_for_test() as instance:
        for day in [d for d in SESSIONS if d <= TRAINED_THROUGH]:
            _report(instance, "rl_dataset", str(day))
        # train_window is for people: the sensor never parses it.
        for name in MODEL_NAMES:
            _report(
                instance, name, version=3, usable_from=str(usable), train_start=str(SESSIONS[0]),
                train_end=str(TRAINED_THROUGH), train_window="June to mid-October",
            )  # fmt: skip
        latest = sensors.latest_materialization(instance, dg.AssetKey(PPO_AGENT.name))
        assert sensors.model_state(latest) == ModelVersionState(3, TRAINED_THROUGH, usable)
        result, _ = _evaluate(instance)
        assert _requests(result) == [] and "no retraining due" in result.skip_reason.skip_message
        # Written before train_end had a key of its own: no known version (never a crash, never the
        # display string): the models are retrained once and the new materialisation has the key.
        legacy = {"version": 3, "usable_from": str(usable), "train_window": f"{SESSIONS[0]} .. {TRAINED_THROUGH}"}
        _report(instance, PPO_AGENT.name, **legacy)
        latest = sensors.latest_materialization(instance, dg.AssetKey(PPO_AGENT.name))
        assert sensors.model_state(latest) is None
        (request,) = _requests(_evaluate(instance)[0])
        assert request.tags["rl_assets/retrain_reason"] == "first_version"
        assert request.run_key == f"retrain:first-version:through-{TRAINED_THROUGH}"


def test_retrain_policy_refuses_nonsense():
    with pytest.raises(ValueError, match="new_label_days must be >= 1"):
        RetrainPolicy(new_label_days=0)
    state = ModelVersionState(version=1, train_end=TRAINED_THROUGH, usable_from=SESSIONS[-5])
    due = retraining_due(RetrainPolicy(), SESSIONS, {"baseline_model": state, "ppo_agent": None})
    assert due.reason == "first_version" and "ppo_agent" in due.detail


# ---- Freshness
HISTORY = ("price_data", "options_chain_history", "technicals_history")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (_at(dt.date(2026, 11, 24), 19, 59), dt.date(2026, 11, 23)),  # Tuesday before the deadline: Monday
        (_at(dt.date(2026, 11, 24), 20, 0), dt.date(2026, 11, 24)),  # at the deadline: Tuesday itself
        (_at(dt.date(2026, 11, 26), 21), dt.date(2026, 11, 25)),  # Thanksgiving evening: Wednesday
        (_at(dt.date(2026, 11, 27), 10), dt.date(2026, 11, 25)),  # the half day's morning: still Wednesday
        (_at(dt.date(2026, 11, 30), 9), dt.date(2026, 11, 27)),  # Monday morning: Friday's half day
        (pd.Timestamp("2026-11-25 00:30", tz="UTC"), dt.date(2026, 11, 23)),  # 19:30 in New York: Monday
        (pd.Timestamp("2026-11-25 01:30", tz="UTC"), dt.date(2026, 11, 24)),  # 20:30 in New York: Tuesday
    ],
)
def test_the_session_a_freshness_check_expects(now, expected):
    assert calendar.latest_session_due(now, FRESHNESS_DEADLINE) == expected


def _run_freshness_checks(instance) -> dict[str, dg.AssetCheckEvaluation]:
    result = dg.materialize(
        [history_freshness_checks, *(defs.get_assets_def(asset) for asset in HISTORY_ASSETS)],
        instance=instance,
        selection=dg.AssetSelection.checks(history_freshness_checks),
        resources=defs.resources,  # bound, never opened: only the checks run
    )
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


def _plain_policy(instance, asset: str) -> FreshnessState:
    node = defs.resolve_asset_graph().get(dg.AssetKey(asset))
    return asyncio.run(TimeWindowFreshnessPolicyEvaluator().evaluate_freshness(LoadingContextForTest(instance), node))


def test_freshness_check_fails_until_the_latest_sessions_partition_lands():
    expected = calendar.latest_session_due(pd.Timestamp.now(tz="UTC"), FRESHNESS_DEADLINE)
    older = calendar.shift_trading_days(expected, -15)
    with dg.instance_for_test() as instance:
        never = _run_freshness_checks(instance)
        assert set(never) == set(HISTORY) and not any(e.passed for e in never.values())
        assert never["price_data"].severity == dg.AssetCheckSeverity.ERROR
        # A backfill of an old day: the plain policy (newest materialisation) calls that fresh,
        # the partition-aware check does not.
        for asset in HISTORY:
            _report(instance, asset, str(older))
        assert _plain_policy(instance, "price_data") == FreshnessState.PASS
        backfilled = _run_freshness_checks(instance)
        assert not any(e.passed for e in backfilled.values())
        assert f"partition {expected} is overdue" in backfilled["price_data"].description
        for asset in HISTORY[:2]:
            _report(instance, asset, str(expected))
        landed = _run_freshness_checks(instance)
        assert landed["price_data"].passed and landed["options_chain_history"].passed
        assert not landed["technicals_history"].passed  # each asset on its own
        # Four and a half days without anything new: the plain policy fails too.
        with freeze_time(pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=4, hours=12)):
            assert _plain_policy(instance, "price_data") == FreshnessState.FAIL


def test_history_assets_carry_the_plain_freshness_policy_and_a_deadline_schedule():
    graph = defs.resolve_asset_graph()
    for asset in HISTORY:
        window = graph.get(dg.AssetKey(asset)).freshness_policy.fail_window.to_timedelta()
        assert dt.timedelta(days=4) < window < dt.timedelta(days=5), asset
    schedule = defs.resolve_schedule_def("freshness_deadline_schedule")
    assert schedule.cron_schedule == "0 20 * * 1-5" and schedule.execution_timezone == calendar.TIMEZONE


# ---- Instance configuration
@pytest.mark.parametrize("name", ["dagster.yaml", "dagster.production.yaml"])
def test_the_instance_files_are_valid_dagster_config(name, tmp_path, monkeypatch):
    shutil.copy(REPO_ROOT / name, tmp_path / "dagster.yaml")
    for variable in ("DAGSTER_PG_HOST", "DAGSTER_PG_DB", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD"):
        monkeypatch.setenv(variable, "set-in-production")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["concurrency"]["pools"]["granularity"] == "run"
    assert config["freshness"] == {"enabled": True}
    if name == "dagster.yaml":  # one DuckDB writer
        assert config["concurrency"]["pools"]["default_limit"] == 1
    else:
        assert "postgres" in config["storage"]


def test_a_misspelt_instance_setting_is_refused(tmp_path):
    text = (REPO_ROOT / "dagster.yaml").read_text().replace("default_limit: 1", "default_limt: 1")
    (tmp_path / "dagster.yaml").write_text(text)
    with pytest.raises(dg.DagsterInvalidConfigError, match="default_limt"):
        dagster_instance_config(str(tmp_path))
