"""rl_state and rl_dataset on the synthetic market: candidates, features recomputed independently
in pandas, outcomes equal to the Python rule row by row, point in time, idempotent, refusals,
asset checks, and the Dagster assets with their partition mappings."""

from __future__ import annotations

import shutil

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from rl_assets import calendar, quality
from rl_assets.dataset import DatasetRefused, build_rl_dataset, build_rl_state
from rl_assets.defs.partitions import range_run_tags
from rl_assets.market.synthetic import SyntheticMarket
from rl_assets.reward import label_days, resolve
from rl_assets.schema import OPTIONS_CHAIN_HISTORY_COLUMNS, RL_DATASET_COLUMNS, RL_STATE_COLUMNS
from rl_assets.technicals import compute_technicals, prepare_prices, update_technicals
from rl_assets.warehouse.duckdb_backend import open_duckdb
from rl_assets_bench.history import ThinnedMarket, build_history, table
from rl_assets_tests.code_location import (
    options_chain_history,
    price_data,
    rl_dataset,
    rl_dataset_checks,
    rl_state,
    rl_state_checks,
    technicals_history,
)
from rl_assets_tests.conftest import DAY
from rl_assets_tests.history import run_statement

DAYS = calendar.trading_days(calendar.shift_trading_days(DAY, -11), DAY)  # 12 sessions through DAY
LABELLED = DAYS[:-3]
MARKET = SyntheticMarket(seed=11, tickers=5)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("dataset") / "warehouse.duckdb")
    with open_duckdb(path, "rl_test") as wh:
        wh.ensure_tables()
        build_history(wh, MARKET, DAYS)
        return {
            "path": path,
            "history": table(wh, "options_chain_history"),
            "technicals": table(wh, "technicals_history", "ticker, date"),
            "prices": table(wh, "price_data", "ticker, date"),
            "state": table(wh, "rl_state"),
            "dataset": table(wh, "rl_dataset"),
        }


def _dates(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_datetime(frame[column]).dt.date


def test_rl_state_holds_exactly_the_candidates(built):
    history, state = built["history"], built["state"]
    assert list(state.columns) == RL_STATE_COLUMNS
    candidates = history[
        (history["bid"] > 0) & (history["ask"] > 0) & (_dates(history, "expiration") > _dates(history, "snapshot_date"))
    ]
    assert len(candidates) < len(history)  # zero-bid contracts exist and are left out
    assert set(zip(_dates(state, "snapshot_date"), state["contract_symbol"], strict=True)) == set(
        zip(_dates(candidates, "snapshot_date"), candidates["contract_symbol"], strict=True)
    )
    assert not state.duplicated(["snapshot_date", "contract_symbol"]).any()
    assert (state["entry_price"] == state["ask"]).all()


def test_rl_state_features_recomputed_in_pandas(built):
    """Every derived feature against a pandas computation from the two source tables."""
    state, technicals = built["state"], built["technicals"]
    merged = state.merge(
        technicals.rename(columns={"ticker": "underlying", "date": "snapshot_date"}),
        on=["underlying", "snapshot_date"],
        suffixes=("", "_tech"),
    )
    assert len(merged) == len(state)
    s, k = merged["underlying_price"], merged["strike"]
    intrinsic = np.where(merged["option_type"] == "call", np.maximum(s - k, 0), np.maximum(k - s, 0))
    expected = {
        "moneyness": k / s,
        "log_moneyness": np.log(k / s),
        "spread_pct": (merged["ask"] - merged["bid"]) / ((merged["ask"] + merged["bid"]) / 2),
        "intrinsic_pct": intrinsic / merged["ask"],
        "leverage": merged["delta"].abs() * s / merged["ask"],
        "theta_pct": merged["theta"] / merged["ask"],
        "log_volume": np.log1p(merged["volume"]),
        "log_open_interest": np.log1p(merged["open_interest"]),
        "close_to_sma_20": merged["close"] / merged["sma_20_tech"] - 1,
        "close_to_sma_200": merged["close"] / merged["sma_200_tech"] - 1,
        "bb_position": (merged["close"] - merged["bb_lower_tech"])
        / (merged["bb_upper_tech"] - merged["bb_lower_tech"]),
        "atr_pct": merged["atr_14_tech"] / merged["close"],
        "macd_hist_pct": merged["macd_hist_tech"] / merged["close"],
        "iv_minus_realized_vol": merged["implied_volatility"] - merged["realized_vol_20_tech"],
        "rsi_14": merged["rsi_14_tech"],
    }
    for column, values in expected.items():
        np.testing.assert_allclose(merged[column], values, rtol=1e-12, atol=1e-12, err_msg=column)
    assert (merged["is_call"] == (merged["option_type"] == "call")).all()
    assert (_dates(merged, "technicals_date") == _dates(merged, "snapshot_date")).all()


def test_rl_dataset_outcomes_equal_the_python_rule_on_every_row(built):
    state, dataset, history, prices = built["state"], built["dataset"], built["history"], built["prices"]
    assert list(dataset.columns) == RL_DATASET_COLUMNS
    labelled_state = state[_dates(state, "snapshot_date").isin(LABELLED)]
    assert len(dataset) == len(labelled_state) > 0
    assert set(_dates(dataset, "snapshot_date")) == set(LABELLED)  # nothing for the last three days
    bids = {
        (d, s): b
        for d, s, b in zip(_dates(history, "snapshot_date"), history["contract_symbol"], history["bid"], strict=True)
    }
    closes = {(t, d): c for t, d, c in zip(prices["ticker"], _dates(prices, "date"), prices["close"], strict=True)}
    reasons = set()
    for row in dataset.itertuples():
        day, expiration = row.snapshot_date.date(), row.expiration.date()
        window = label_days(day)
        outcome = resolve(
            snapshot_date=day, entry_price=row.entry_price, option_type=row.option_type, strike=row.strike,
            expiration=expiration,
            bids={d: bids[(d, row.contract_symbol)] for d in window if (d, row.contract_symbol) in bids},
            closes={d: closes[(row.underlying, d)] for d in [day, *window]},
        )  # fmt: skip
        reasons.add(outcome.exit_reason)
        assert row.exit_reason == outcome.exit_reason, row.contract_symbol
        assert row.label_end_date.date() == window[-1]
        if outcome.reward is None:
            assert pd.isna(row.reward) and pd.isna(row.hit_50)
        else:
            assert row.reward == pytest.approx(outcome.reward, rel=1e-12, abs=1e-12)
            assert bool(row.hit_50) == outcome.hit_50
            assert row.exit_date.date() == outcome.exit_date
        close_0, close_3 = closes[(row.underlying, day)], closes[(row.underlying, window[-1])]
        assert row.underlying_return_3d == pytest.approx(close_3 / close_0 - 1, rel=1e-12)
    assert {"take_profit", "horizon", "expired"} <= reasons  # the synthetic days exercise the main exits


def test_rl_state_is_point_in_time(built, tmp_path):
    """rl_state for a day built from a warehouse that holds nothing after it equals the row set
    built when later days were present."""
    day = DAYS[5]
    with open_duckdb(str(tmp_path / "early.duckdb"), "rl_test") as wh:
        wh.ensure_tables()
        build_history(wh, MARKET, DAYS[: DAYS.index(day) + 1], dataset=False)
        early = table(wh, "rl_state")
    late = built["state"]
    late = late[_dates(late, "snapshot_date") == day].reset_index(drop=True)
    early = early[_dates(early, "snapshot_date") == day].reset_index(drop=True)
    pd.testing.assert_frame_equal(early, late)


def test_rebuilds_replace_and_never_duplicate(built):
    with open_duckdb(built["path"], "rl_test") as wh:
        build_rl_state(wh, DAYS[2], DAYS[4])
        build_rl_dataset(wh, DAYS[2], DAYS[4])
        pd.testing.assert_frame_equal(table(wh, "rl_state"), built["state"])
        pd.testing.assert_frame_equal(table(wh, "rl_dataset"), built["dataset"])


@pytest.mark.parametrize("days_per_statement", [None, 4])
def test_statements_over_blocks_of_days_or_the_whole_range_give_the_same_tables(built, tmp_path, days_per_statement):
    # DuckDB runs the heavy statements one day at a time (memory); BigQuery over the whole range.
    path = str(tmp_path / "copy.duckdb")
    shutil.copy(built["path"], path)
    with open_duckdb(path, "rl_test") as wh:
        assert wh.days_per_statement == 1  # how `built` was made
        wh.days_per_statement = days_per_statement
        build_rl_state(wh, DAYS[0], DAYS[-1])
        build_rl_dataset(wh, LABELLED[0], LABELLED[-1])
        pd.testing.assert_frame_equal(table(wh, "rl_state"), built["state"])
        pd.testing.assert_frame_equal(table(wh, "rl_dataset"), built["dataset"])


def test_refusals_name_what_is_missing_and_write_nothing(built, tmp_path):
    with open_duckdb(built["path"], "rl_test") as wh:
        before = table(wh, "rl_dataset")
        with pytest.raises(
            DatasetRefused, match=rf"options_chain_history has no rows for {calendar.shift_trading_days(DAY, 1)}"
        ):
            build_rl_dataset(wh, DAYS[-3], DAYS[-1])
        pd.testing.assert_frame_equal(table(wh, "rl_dataset"), before)
    with open_duckdb(str(tmp_path / "no_state.duckdb"), "rl_test") as wh:
        wh.ensure_tables()
        build_history(wh, MARKET, DAYS[:6], dataset=False)
        wh.execute("delete_rl_state_range", {"start_date": DAYS[1], "end_date": DAYS[1]})
        with pytest.raises(DatasetRefused, match=rf"rl_state has no rows for {DAYS[1]}: materialise rl_state"):
            build_rl_dataset(wh, DAYS[0], DAYS[2])
        with pytest.raises(DatasetRefused, match=rf"options_chain_history has no rows for {DAYS[6]}: archive"):
            build_rl_state(wh, DAYS[6], DAYS[6])
        wh.execute("delete_technicals_history_range", {"start_date": DAYS[3], "end_date": DAYS[3]})
        with pytest.raises(DatasetRefused, match=rf"technicals_history has no rows for {DAYS[3]}: compute"):
            build_rl_state(wh, DAYS[3], DAYS[3])


def test_quality_rules_pass_then_catch_corruption(built, tmp_path):
    path = str(tmp_path / "corrupt.duckdb")
    shutil.copy(built["path"], path)
    with open_duckdb(path, "rl_test") as wh:
        window = {"start_date": LABELLED[0], "end_date": LABELLED[-1]}
        label_end = {d: label_days(d)[-1] for d in LABELLED}

        def outcomes():
            state = quality.rl_state_outcomes(
                wh.query("rl_state_quality", window), wh.query("rl_state_sources", window), LABELLED
            )
            data = quality.rl_dataset_outcomes(wh.query("rl_dataset_quality", window), label_end, LABELLED)
            return {f"state.{o.name}": o for o in state} | {f"dataset.{o.name}": o for o in data}

        assert all(o.passed for o in outcomes().values()), {
            k: o.description for k, o in outcomes().items() if not o.passed
        }
        day = LABELLED[2]
        wh.connection.execute(
            "UPDATE rl_test.rl_state SET technicals_date = technicals_date + INTERVAL 1 DAY "
            f"WHERE contract_symbol = (SELECT MIN(contract_symbol) FROM rl_test.rl_state WHERE snapshot_date = '{day}') "
            f"AND snapshot_date = '{day}'"
        )
        wh.connection.execute(
            f"DELETE FROM rl_test.rl_dataset WHERE snapshot_date = '{LABELLED[3]}' AND contract_symbol = "
            f"(SELECT MIN(contract_symbol) FROM rl_test.rl_dataset WHERE snapshot_date = '{LABELLED[3]}')"
        )
        wh.connection.execute(
            f"UPDATE rl_test.rl_dataset SET exit_date = label_end_date + INTERVAL 1 DAY WHERE snapshot_date = '{LABELLED[4]}' "
            "AND exit_reason = 'horizon'"
        )
        failed = {k for k, o in outcomes().items() if not o.passed}
        assert failed == {
            "state.no_feature_after_snapshot",
            "dataset.one_row_per_state_row",
            "dataset.labels_within_window",
        }


@pytest.fixture
def dagster_history(resources):
    start = calendar.shift_trading_days(DAY, -9)
    tags = range_run_tags(calendar.shift_trading_days(start, -30), DAY)
    assert dg.materialize([price_data], resources=resources, tags=tags).success
    tags = range_run_tags(start, DAY)
    assets = [options_chain_history, technicals_history, rl_state]
    result = dg.materialize(assets, resources=resources, tags=tags, selection=assets)
    assert result.success
    return start


def test_assets_build_state_and_dataset_with_checks(resources, dagster_history):
    start = dagster_history
    last_labelled = calendar.shift_trading_days(DAY, -3)
    result = dg.materialize(
        [rl_state, rl_dataset, rl_state_checks, rl_dataset_checks],
        resources=resources,
        tags=range_run_tags(start, last_labelled),
        selection=dg.AssetSelection.assets(rl_state, rl_dataset),
    )
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert len(checks) == 4 + 5 and all(c.passed for c in checks), [(c.check_name, c.description) for c in checks]
    materialisations = result.asset_materializations_for_node("rl_dataset")
    assert {m.partition for m in materialisations} == {str(d) for d in calendar.trading_days(start, last_labelled)}
    materialisation = materialisations[-1]  # one run: every partition carries the run's metadata
    meta = materialisation.metadata
    assert 0 < meta["hit_50_base_rate"].value < 0.5
    assert meta["candidates"].value == meta["dagster/row_count"].value > 0
    assert set(meta["hit_50_base_rate_by_day"].value) == {str(d) for d in calendar.trading_days(start, last_labelled)}


def test_dataset_asset_refuses_a_day_whose_window_has_not_landed(resources, dagster_history):
    result = dg.materialize([rl_dataset], resources=resources, partition_key=str(DAY), raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    assert f"options_chain_history has no rows for {calendar.shift_trading_days(DAY, 1)}" in message
    assert "nothing was written" in message


def test_partition_mappings_reach_the_next_three_sessions():
    """rl_dataset[2025-07-02] needs the snapshots of Jul 3, 7 and 8 (the 4th is a holiday) and the
    closes from Jul 2 through Jul 8."""
    partitions = rl_dataset.partitions_def
    subset = partitions.subset_with_partition_keys(["2025-07-02"])

    def upstream(asset) -> list[str]:
        mapping = rl_dataset.get_partition_mapping(asset.key) or dg.TimeWindowPartitionMapping()  # default: same day
        result = mapping.get_upstream_mapped_partitions_result_for_partitions(subset, partitions, partitions)
        return sorted(result.partitions_subset.get_partition_keys())

    assert upstream(options_chain_history) == ["2025-07-03", "2025-07-07", "2025-07-08"]
    assert upstream(price_data) == ["2025-07-02", "2025-07-03", "2025-07-07", "2025-07-08"]
    assert upstream(rl_state) == ["2025-07-02"]


def test_checks_in_a_one_partition_run_check_that_partition(resources, dagster_history, monkeypatch):
    # Asset checks are not partitioned: the day comes from the run's partition tag, not the newest day.
    checked = []
    original = quality.rl_state_outcomes
    monkeypatch.setattr(quality, "rl_state_outcomes", lambda *args: checked.append(args[-1]) or original(*args))
    old_day = dagster_history
    result = dg.materialize(
        [rl_state, rl_state_checks],
        resources=resources,
        partition_key=str(old_day),
        selection=dg.AssetSelection.assets(rl_state),
    )
    assert result.success and all(c.passed for c in result.get_asset_check_evaluations())
    assert checked == [[old_day]]


# ---- A write that would break a key does not land (both backends): a source key held twice
# multiplies the derived rows; the build refuses, names the source rows, and keeps the old partition.
LABEL_DAYS = label_days(DAY)
SMALL = ThinnedMarket(seed=11, tickers=2)  # a few dozen contracts a day: seconds on the emulator


@pytest.fixture
def one_labelled_day(warehouse):
    """DAY's rl_state and rl_dataset built on `warehouse` from a two-ticker market (sources loaded
    whole: few statements, seconds on the emulator)."""
    prices = SMALL.prices(DAY, LABEL_DAYS[-1])
    history = pd.concat(
        [SMALL.chain(d).assign(snapshot_date=d, archived_at=calendar.session_close_utc(d)) for d in [DAY, *LABEL_DAYS]],
        ignore_index=True,
    )
    technicals = compute_technicals(prepare_prices(prices)[0])
    warehouse.load_frame("price_data", prices, replace_table=False)
    # The synthetic chain is in the contract's layout: no source row, vendor IVs and greeks.
    history = history.reindex(columns=OPTIONS_CHAIN_HISTORY_COLUMNS).assign(iv_source="vendor", greeks_source="vendor")
    warehouse.load_frame("options_chain_history", history, replace_table=False)
    warehouse.load_frame("technicals_history", technicals[technicals["date"] == DAY], replace_table=False)
    build_rl_state(warehouse, DAY, DAY)
    build_rl_dataset(warehouse, DAY, DAY)
    return warehouse


def _duplicate(warehouse, source: str, where: str) -> None:
    run_statement(warehouse, f"INSERT INTO {source} SELECT * FROM {source} WHERE {where}")


def test_a_price_bar_held_twice_refuses_rl_dataset_and_keeps_the_old_partition(one_labelled_day):
    wh = one_labelled_day
    before = table(wh, "rl_dataset")
    ticker = SMALL.tickers[0]
    _duplicate(wh, "price_data", f"ticker = '{ticker}' AND date = DATE '{DAY}'")
    with pytest.raises(DatasetRefused) as refused:
        build_rl_dataset(wh, DAY, DAY)
    message = str(refused.value)
    per_ticker = int((before["underlying"] == ticker).sum())
    assert f"rl_dataset would hold {len(before) + per_ticker} rows for {len(before)} contracts on {DAY}" in message
    assert f"price_data has 2 bars for ({ticker}, {DAY})" in message
    assert "nothing was written" in message
    pd.testing.assert_frame_equal(table(wh, "rl_dataset"), before)


def test_a_contract_archived_twice_refuses_rl_state_and_keeps_the_old_partition(one_labelled_day):
    wh = one_labelled_day
    before = table(wh, "rl_state")
    symbol = before["contract_symbol"].iloc[0]
    _duplicate(wh, "options_chain_history", f"contract_symbol = '{symbol}' AND snapshot_date = DATE '{DAY}'")
    with pytest.raises(DatasetRefused) as refused:
        build_rl_state(wh, DAY, DAY)
    message = str(refused.value)
    assert f"rl_state would hold {len(before) + 1} rows for {len(before)} contracts on {DAY}" in message
    assert f"options_chain_history has 2 rows for ({symbol}, {DAY})" in message
    pd.testing.assert_frame_equal(table(wh, "rl_state"), before)


def test_an_ask_below_intrinsic_value_is_never_a_candidate(one_labelled_day):
    """Free money is a data error: a call whose ask is below underlying - strike leaves rl_state."""
    wh = one_labelled_day
    before = table(wh, "rl_state")
    deep = before[(before["option_type"] == "call") & (before["underlying_price"] - before["strike"] > 1)]
    symbol = deep["contract_symbol"].iloc[0]
    run_statement(
        wh,
        f"UPDATE options_chain_history SET ask = underlying_price - strike - 0.5, bid = underlying_price - strike - 0.6 "
        f"WHERE contract_symbol = '{symbol}' AND snapshot_date = DATE '{DAY}'",
    )
    build_rl_state(wh, DAY, DAY)
    after = table(wh, "rl_state")
    assert set(after["contract_symbol"]) == set(before["contract_symbol"]) - {symbol}


def test_rl_dataset_refuses_an_rl_state_that_holds_a_key_twice(one_labelled_day):
    wh = one_labelled_day
    before, state = table(wh, "rl_dataset"), table(wh, "rl_state")
    symbol = state["contract_symbol"].iloc[0]
    _duplicate(wh, "rl_state", f"contract_symbol = '{symbol}' AND snapshot_date = DATE '{DAY}'")
    with pytest.raises(
        DatasetRefused, match=rf"rl_state holds {len(state) + 1} rows for {len(state)} contracts on {DAY}: rebuild"
    ):
        build_rl_dataset(wh, DAY, DAY)
    pd.testing.assert_frame_equal(table(wh, "rl_dataset"), before)


def test_technicals_written_from_a_price_bar_held_twice_hold_each_key_once(one_labelled_day):
    """technicals_history's write cannot duplicate: prepare_prices collapses an identical bar (and
    skips a ticker with two different ones), compute_technicals refuses a repeated key."""
    wh = one_labelled_day
    _duplicate(wh, "price_data", f"ticker = '{SMALL.tickers[0]}' AND date = DATE '{DAY}'")
    update_technicals(wh, [DAY])
    counts = wh.query("technicals_history_row_counts", {"start_date": DAY, "end_date": DAY})
    assert counts["row_count"].tolist() == counts["tickers"].tolist() == [len(SMALL.tickers)]
