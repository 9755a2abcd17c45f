"""Paper trading on the null synthetic market (conftest's null_market, copied per module):
recommendations through the screener, model selection by usable_from (also in a backfill),
resolution with the shared reward, days without a model or without recommendations, a model whose
artifact is corrupt (skipped, the other recorded, the check failed), performance, and the three
assets end to end."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from rl_assets import calendar
from rl_assets.baseline import BaselineConfig, train_classifier
from rl_assets.defs import sensors
from rl_assets.defs.partitions import range_run_tags
from rl_assets.defs.resources import Warehouse
from rl_assets.features import Scaler
from rl_assets.model_store import BASELINE_MODEL, PPO_AGENT, register, usable_from
from rl_assets.paper_trading import MODELS, ScreenerRules, build_recommendations, performance, record_paper_trades
from rl_assets.ppo import PPOConfig, train_ppo
from rl_assets.rl_env import candidate_days
from rl_assets.warehouse.duckdb_backend import open_duckdb
from rl_assets_bench.history import table
from rl_assets_tests.code_location import paper_trades, paper_trading_performance, recommendations

RECORDED_AT = pd.Timestamp("2026-11-24 21:00", tz="UTC")


def _train_and_register(wh, labelled: pd.DataFrame, cutoff, location: str) -> dict:
    """A small version of each model, trained by the real code on the labels known before
    `cutoff`, registered with its artifact in `location`; the versions by model name."""
    rows = labelled[labelled["label_end_date"] < cutoff]
    scaler = Scaler.fit(rows)
    classifier = train_classifier(scaler.transform(rows), rows["hit_50"].astype(bool), BaselineConfig(epochs=1))
    agent, _ = train_ppo(
        candidate_days(rows, scaler, 16), PPOConfig(n_envs=64, n_steps=16, total_steps=4096, minibatch_size=512)
    )
    common = {
        "train_start": min(rows["snapshot_date"]), "train_end": max(rows["snapshot_date"]),
        "usable_from": usable_from(rows["label_end_date"]), "metrics": {"cutoff": str(cutoff)},
    }  # fmt: skip
    return {
        BASELINE_MODEL.name: register(
            wh, location=location, model_name=BASELINE_MODEL.name, **common,
            payload={"kind": BASELINE_MODEL.kind, "state_dict": classifier.state_dict(),
                     "n_features": classifier.n_features, "hidden": classifier.hidden, "scaler": scaler.to_dict()},
        ),
        PPO_AGENT.name: register(
            wh, location=location, model_name=PPO_AGENT.name, **common,
            payload={"kind": PPO_AGENT.kind, "state_dict": agent.state_dict(),
                     "n_observations": agent.n_observations, "hidden": agent.hidden, "scaler": scaler.to_dict()},
        ),
    }  # fmt: skip


def _copy_market(null_market, tmp_path_factory, name: str) -> dict:
    path = str(tmp_path_factory.mktemp(name) / "warehouse.duckdb")
    shutil.copy(null_market["path"], path)
    dataset = null_market["dataset"]
    labelled = dataset[dataset["reward"].notna()].copy()
    labelled["label_end_date"] = pd.to_datetime(labelled["label_end_date"]).dt.date
    days = sorted(labelled["snapshot_date"].unique())
    return {"path": path, "days": days, "dataset": dataset, "labelled": labelled}


@pytest.fixture(scope="module")
def market(null_market, tmp_path_factory):
    """A copy of the null market's warehouse with two walk-forward versions of each model."""
    market = _copy_market(null_market, tmp_path_factory, "paper")
    days = market["days"]
    cutoffs = [days[120], days[160]]  # each version trains on labels known before its cutoff
    location = str(tmp_path_factory.mktemp("models"))
    with open_duckdb(market["path"], "rl_test") as wh:
        for cutoff in cutoffs:
            _train_and_register(wh, market["labelled"], cutoff, location)
    return {**market, "cutoffs": cutoffs}


def test_screener_rules_are_applied_and_bad_rules_refused(market):
    rules = ScreenerRules(min_volume=5, max_dte=30, min_abs_delta=0.2, max_abs_delta=0.6, max_spread_pct=0.3)
    day = market["days"][50]
    with open_duckdb(market["path"], "rl_test") as wh:
        by_day = build_recommendations(wh, day, day, rules)
        picked = table(wh, "recommendations")
    state = market["dataset"][market["dataset"]["snapshot_date"] == day]
    expected = state[
        (state["volume"] >= 5) & (state["open_interest"] >= rules.min_open_interest)
        & state["dte"].between(rules.min_dte, 30) & state["delta"].abs().between(0.2, 0.6)
        & (state["spread_pct"] <= 0.3) & (state["entry_price"] >= rules.min_entry_price)
    ]  # fmt: skip
    assert by_day == {str(day): len(expected)} and 0 < len(expected) < len(state)
    assert set(picked["contract_symbol"]) == set(expected["contract_symbol"])
    with pytest.raises(ValueError, match="min_dte 40 > max_dte 30"):
        ScreenerRules(min_dte=40, max_dte=30)
    with pytest.raises(ValueError, match="min_abs_delta"):
        ScreenerRules(min_abs_delta=0.8, max_abs_delta=0.5)


def test_a_backfill_picks_each_day_with_the_version_usable_then(market):
    """Over days from before the first version to after the second: no picks before the first is
    usable, v1 until v2 is, then v2; no pick ever from a model whose training labels were not all
    known that day."""
    days, (first_cutoff, second_cutoff) = market["days"], market["cutoffs"]
    start, end = days[days.index(first_cutoff) - 3], days[days.index(second_cutoff) + 3]
    run = calendar.trading_days(start, end)
    with open_duckdb(market["path"], "rl_test") as wh:
        build_recommendations(wh, start, end, ScreenerRules())
        report = record_paper_trades(wh, run, picks_per_day=3, recorded_at=RECORDED_AT)
        trades = table(wh, "paper_trades", "trade_date, model_name, pick_rank")
        registry = {
            (row.model_name, row.version): row
            for row in wh.connection.execute("SELECT * FROM rl_test.model_registry").df().itertuples()
        }
    trades["trade_date"] = pd.to_datetime(trades["trade_date"]).dt.date
    first_usable = {m: registry[(m, 1)].usable_from.date() for m in MODELS}
    for day in run:
        for model in MODELS:
            mine = trades[(trades["trade_date"] == day) & (trades["model_name"] == model)]
            if day < first_usable[model]:
                assert report[str(day)][model] == "no usable model version" and mine.empty
                continue
            version = 2 if day >= registry[(model, 2)].usable_from.date() else 1
            assert set(mine["model_version"]) == {version}, (day, model)
            assert len(mine) == 3 and list(mine["pick_rank"]) == [1, 2, 3]
            assert (mine["score"].diff().dropna() <= 0).all()  # ranked by score
            trained_until = registry[(model, version)].train_end.date()
            assert calendar.shift_trading_days(trained_until, 3) < day  # every training label known before
    assert {d for d in run if d < first_cutoff} and {d for d in run if d >= second_cutoff}


def test_resolution_uses_the_datasets_outcome_and_reruns_only_resolve(market):
    days = market["days"]
    run = calendar.trading_days(days[-8], calendar.shift_trading_days(days[-1], 3))  # the last 3 have no labels
    with open_duckdb(market["path"], "rl_test") as wh:
        build_recommendations(wh, run[0], run[-1], ScreenerRules())
        record_paper_trades(wh, run, picks_per_day=2, recorded_at=RECORDED_AT)
        first = table(wh, "paper_trades", "trade_date, model_name, pick_rank")
        later = RECORDED_AT + pd.Timedelta(days=1)
        report = record_paper_trades(wh, run, picks_per_day=2, recorded_at=later)
        second = table(wh, "paper_trades", "trade_date, model_name, pick_rank")
    first = first[pd.to_datetime(first["trade_date"]).dt.date.isin(run)]
    second = second[pd.to_datetime(second["trade_date"]).dt.date.isin(run)]
    assert all(v == "already recorded" for models in report.values() for v in models.values())
    pd.testing.assert_series_equal(first["recorded_at"], second["recorded_at"])  # picks kept, not re-made
    outcomes = market["dataset"].set_index(["snapshot_date", "contract_symbol"])
    second["trade_date"] = pd.to_datetime(second["trade_date"]).dt.date
    resolved = second[second["resolved_at"].notna()]
    assert len(resolved) > 0
    for row in resolved.itertuples():
        expected = outcomes.loc[(row.trade_date, row.contract_symbol)]
        assert row.reward == pytest.approx(expected["reward"], rel=1e-12)
        assert bool(row.hit_50) == bool(expected["hit_50"]) and row.exit_reason == expected["exit_reason"]
        assert row.entry_price == expected["entry_price"]
    unlabelled = second[second["trade_date"] > days[-1]]
    assert len(unlabelled) > 0 and unlabelled["resolved_at"].isna().all()  # T+3 not landed: open


def test_days_without_recommendations_are_recorded_plainly(market):
    day = market["days"][200]
    with open_duckdb(market["path"], "rl_test") as wh:
        build_recommendations(wh, day, day, ScreenerRules(min_volume=10**9))
        report = record_paper_trades(wh, [day], picks_per_day=3, recorded_at=RECORDED_AT, repick=True)
        rows = wh.query("paper_trades_days", {"start_date": day, "end_date": day})
    assert report == {str(day): {"ppo_agent": "no recommendations", "baseline_model": "no recommendations"}}
    assert rows.empty


def test_performance_tracks_picks_and_all_recommendations():
    rng = np.random.default_rng(0)
    days = calendar.trading_days("2025-03-03", "2025-03-28")
    trades = pd.DataFrame(
        {
            "trade_date": np.repeat(days, 2), "model_name": "ppo_agent",
            "hit_50": rng.uniform(size=2 * len(days)) < 0.3, "reward": rng.normal(0, 0.2, 2 * len(days)),
        }
    )  # fmt: skip
    everything = trades.assign(model_name="all_recommendations")
    daily, summary = performance(trades, everything)
    agent = daily[daily["model_name"] == "ppo_agent"]
    np.testing.assert_allclose(agent["equity"], trades.groupby("trade_date")["reward"].mean().cumsum().to_numpy())
    assert agent["running_hit_rate"].iloc[-1] == pytest.approx(trades["hit_50"].mean())
    assert summary["ppo_agent"]["resolved_picks"] == len(trades)
    hit = summary["ppo_agent"]["hit_rate"]
    assert hit["low"] <= trades["hit_50"].mean() <= hit["high"]
    # The rolling hit rate covers the last ROLLING_DAYS trade days only.
    _, short = performance(trades, everything, rolling_days=5)
    recent = trades[trades["trade_date"] >= days[-5]]
    assert short["ppo_agent"]["rolling"] == {
        "days": 5, "first_date": str(days[-5]), "last_date": str(days[-1]),
        "picks": len(recent), "hit_rate": pytest.approx(recent["hit_50"].mean()),
    }  # fmt: skip


def test_assets_screen_pick_and_track(market):
    days = market["days"]
    start, end = days[-20], days[-1]
    resources = {"warehouse": Warehouse(duckdb_path=market["path"], dataset="rl_test")}
    result = dg.materialize(
        [recommendations, paper_trades, paper_trading_performance],
        resources=resources, tags=range_run_tags(start, end),
        selection=dg.AssetSelection.assets(recommendations, paper_trades),
    )  # fmt: skip
    assert result.success
    (event,) = result.asset_materializations_for_node("paper_trades")[-1:]
    assert event.metadata["dagster/row_count"].value > 0
    instance = dg.DagsterInstance.ephemeral()
    performance_run = dg.materialize([paper_trading_performance], resources=resources, instance=instance)
    assert performance_run.success
    # The retraining sensor reads each model's rolling hit rate from this materialisation.
    rolling = sensors.rolling_hit_rates(
        sensors.latest_materialization(instance, dg.AssetKey("paper_trading_performance"))
    )
    assert {"ppo_agent", "baseline_model"} <= set(rolling) and rolling["ppo_agent"]["picks"] > 0
    (metadata,) = [e.metadata for e in performance_run.asset_materializations_for_node("paper_trading_performance")]
    assert "data:image/png;base64," in metadata["summary"].value
    assert {"ppo_agent", "baseline_model", "all_recommendations"} <= set(metadata["metrics"].value)
    with open_duckdb(market["path"], "rl_test") as wh:
        stored = table(wh, "paper_trading_performance", "model_name, trade_date")
    assert set(stored["model_name"]) >= {"ppo_agent", "baseline_model", "all_recommendations"}


# ---- a corrupt artifact --------------------------------------------------------------------------

CORRUPTIONS = {
    "truncated": lambda data: data[: len(data) // 2],
    "garbage": lambda data: bytes(range(256)) * 64,
    "missing": None,
}


@pytest.fixture(scope="module")
def one_version_each(null_market, tmp_path_factory):
    """Another copy of the null market with one version of each model (whose artifacts the tests
    corrupt and restore) and recommendations for a few days on which both are usable."""
    market = _copy_market(null_market, tmp_path_factory, "corrupt")
    location = str(tmp_path_factory.mktemp("corrupt_models"))
    with open_duckdb(market["path"], "rl_test") as wh:
        versions = _train_and_register(wh, market["labelled"], market["days"][120], location)
        first_usable = max(v.usable_from for v in versions.values())
        run = [d for d in market["days"] if d >= first_usable][:4]
        build_recommendations(wh, run[0], run[-1], ScreenerRules())
    return {**market, "versions": versions, "run": run}


def _picks_of(wh, day) -> pd.DataFrame:
    picks = table(wh, "paper_trades", "trade_date, model_name, pick_rank")
    return picks[pd.to_datetime(picks["trade_date"]).dt.date == day].reset_index(drop=True)


def test_a_corrupt_artifact_skips_its_models_picks_only_and_names_model_version_and_file(one_version_each):
    """Truncated, garbage or missing: ppo_agent's picks of the day are skipped with a reason that
    names the model, the version and the file; the baseline's are recorded. With the file restored,
    a re-run makes the skipped picks and keeps the recorded ones as they were."""
    ppo = one_version_each["versions"]["ppo_agent"]
    path, path_db = Path(ppo.artifact_uri), one_version_each["path"]
    original = path.read_bytes()
    later = RECORDED_AT + pd.Timedelta(days=1)
    for day, (how, corrupt) in zip(one_version_each["run"], CORRUPTIONS.items(), strict=False):
        if corrupt is None:
            path.unlink()
        else:
            path.write_bytes(corrupt(original))
        try:
            with open_duckdb(path_db, "rl_test") as wh:
                report = record_paper_trades(wh, [day], picks_per_day=3, recorded_at=RECORDED_AT)
                first = _picks_of(wh, day)
        finally:
            path.write_bytes(original)
        assert report[str(day)]["baseline_model"].startswith("3 picks by v1"), (how, report)
        assert report[str(day)]["ppo_agent"].startswith(
            f"skipped: ppo_agent v1 (artifact {ppo.artifact_uri}): cannot be loaded: "
        ), (how, report)
        assert list(first["model_name"]) == ["baseline_model"] * 3, how
        with open_duckdb(path_db, "rl_test") as wh:
            again = record_paper_trades(wh, [day], picks_per_day=3, recorded_at=later)
            second = _picks_of(wh, day)
        assert again[str(day)]["baseline_model"] == "already recorded"
        assert again[str(day)]["ppo_agent"].startswith("3 picks by v1"), (how, again)
        kept = second[second["model_name"] == "baseline_model"].reset_index(drop=True)
        columns = ["trade_date", "contract_symbol", "model_version", "pick_rank", "score", "entry_price", "recorded_at"]
        pd.testing.assert_frame_equal(kept[columns], first[columns])
        made = second[second["model_name"] == "ppo_agent"]
        assert len(made) == 3 and (pd.to_datetime(made["recorded_at"], utc=True) == later).all()


def test_the_asset_records_the_other_models_picks_and_fails_its_check(one_version_each):
    """The run succeeds (the labels and the other model keep coming); the failure shows as a failed
    ERROR check and in the metadata, naming model, version, file, reason and day."""
    baseline = one_version_each["versions"]["baseline_model"]
    day = one_version_each["run"][-1]
    path = Path(baseline.artifact_uri)
    original = path.read_bytes()
    path.write_bytes(CORRUPTIONS["garbage"](original))
    try:
        result = dg.materialize(
            [paper_trades],
            resources={"warehouse": Warehouse(duckdb_path=one_version_each["path"], dataset="rl_test")},
            partition_key=str(day),
        )
    finally:
        path.write_bytes(original)
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "every_model_loaded" and not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    (skipped,) = check.metadata["skipped_models"].value
    assert skipped["model_name"] == "baseline_model" and skipped["version"] == 1
    assert skipped["artifact_uri"] == baseline.artifact_uri and skipped["days"] == [str(day)]
    assert skipped["reason"].startswith("cannot be loaded: ")
    (event,) = result.asset_materializations_for_node("paper_trades")
    assert event.metadata["skipped_models"].value == [skipped]
    with open_duckdb(one_version_each["path"], "rl_test") as wh:
        assert set(_picks_of(wh, day)["model_name"]) == {"ppo_agent"}
