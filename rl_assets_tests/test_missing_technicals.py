"""Candidates whose underlying lacks technicals (too short a price history): rl_state keeps them with
NULL technicals and technicals_incomplete TRUE, rl_dataset carries them, an older rl_state /
rl_dataset is migrated; the models impute the missing features and see a missing-indicator fit on
the training rows only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sqlglot import exp

from rl_assets import calendar, quality
from rl_assets.baseline import BaselineConfig, predict_proba
from rl_assets.dataset import build_rl_dataset, build_rl_state
from rl_assets.features import MISSING_SUFFIX, STATE_FEATURES, Scaler
from rl_assets.ppo import PPOConfig, take_probability
from rl_assets.reward import label_days
from rl_assets.rl_env import candidate_days, observation_size
from rl_assets.schema import (
    OPTIONS_CHAIN_HISTORY_COLUMNS,
    RL_STATE_COLUMNS,
    TECHNICAL_FEATURES,
    TECHNICALS_COMPLETE_FEATURES,
)
from rl_assets.technicals import compute_technicals, prepare_prices
from rl_assets.training import fit_baseline, fit_ppo
from rl_assets.warehouse.backend import keep_candidates_without_technicals
from rl_assets.warehouse.sql import SQL_DIR, parse_statement
from rl_assets_bench.history import ThinnedMarket, table
from rl_assets_tests.conftest import DAY
from rl_assets_tests.history import run_statement

LABEL_DAYS = label_days(DAY)
MARKET = ThinnedMarket(seed=11, tickers=3)  # a few dozen contracts a day: seconds on the emulator
COMPLETE, PARTIAL, ABSENT = MARKET.tickers  # full technicals; rsi_14 NULL; no technicals row at all


def _load_sources(warehouse) -> pd.DataFrame:
    """The chain of DAY and its label days, prices with a year of history before DAY (complete
    technicals), and DAY's technicals; the technicals frame loaded."""
    prices = MARKET.prices(calendar.shift_trading_days(DAY, -260), LABEL_DAYS[-1])
    history = pd.concat(
        [
            MARKET.chain(d).assign(snapshot_date=d, archived_at=calendar.session_close_utc(d))
            for d in [DAY, *LABEL_DAYS]
        ],
        ignore_index=True,
    )
    history = history.reindex(columns=OPTIONS_CHAIN_HISTORY_COLUMNS).assign(iv_source="vendor", greeks_source="vendor")
    technicals = compute_technicals(prepare_prices(prices)[0])
    technicals = technicals[technicals["date"] == DAY].reset_index(drop=True)
    assert technicals[["ticker", *set(TECHNICAL_FEATURES) & set(technicals.columns)]].notna().all().all()
    warehouse.load_frame("price_data", prices[prices["date"] >= DAY], replace_table=False)
    warehouse.load_frame("options_chain_history", history, replace_table=False)
    return technicals


@pytest.fixture
def full_and_short_history(warehouse):
    """`warehouse` with rl_state built once with every underlying's technicals (the candidates), then
    technicals_history rewritten: PARTIAL's rsi_14 NULL, ABSENT's row gone."""
    technicals = _load_sources(warehouse)
    warehouse.load_frame("technicals_history", technicals, replace_table=False)
    build_rl_state(warehouse, DAY, DAY)
    every_candidate = table(warehouse, "rl_state")
    warehouse.execute("delete_technicals_history_range", {"start_date": DAY, "end_date": DAY})
    short = technicals[technicals["ticker"] != ABSENT].copy()
    short.loc[short["ticker"] == PARTIAL, "rsi_14"] = np.nan
    warehouse.load_frame("technicals_history", short, replace_table=False)
    return warehouse, every_candidate


def test_the_flag_in_insert_rl_state_checks_exactly_the_schemas_features():
    """sql/insert_rl_state.sql spells the flag's columns out; they are schema.TECHNICALS_COMPLETE_FEATURES."""
    (flag,) = [a for a in parse_statement("insert_rl_state").find_all(exp.Alias) if a.alias == "technicals_incomplete"]
    assert {c.name for c in flag.find_all(exp.Column)} == {"technicals_date", *TECHNICALS_COMPLETE_FEATURES}


def _flags(frame: pd.DataFrame) -> dict[str, set]:
    return {u: set(g["technicals_incomplete"].astype(bool)) for u, g in frame.groupby("underlying")}


def test_rl_state_keeps_candidates_without_technicals_flagged(full_and_short_history):
    wh, every_candidate = full_and_short_history
    assert not every_candidate["technicals_incomplete"].astype(bool).any()
    report = build_rl_state(wh, DAY, DAY)
    state = table(wh, "rl_state")
    assert list(state.columns) == RL_STATE_COLUMNS
    # No candidate dropped: the same contracts as with every underlying's technicals.
    assert sorted(state["contract_symbol"]) == sorted(every_candidate["contract_symbol"])
    assert _flags(state) == {COMPLETE: {False}, PARTIAL: {True}, ABSENT: {True}}
    by_underlying = {u: g for u, g in state.groupby("underlying")}
    absent, partial = by_underlying[ABSENT], by_underlying[PARTIAL]
    assert absent["technicals_date"].isna().all()
    assert absent[TECHNICAL_FEATURES].isna().all().all()
    assert absent[["delta", "moneyness", "spread_pct"]].notna().all().all()  # the option's own features stay
    assert partial["rsi_14"].isna().all() and (pd.to_datetime(partial["technicals_date"]).dt.date == DAY).all()
    assert partial[[c for c in TECHNICAL_FEATURES if c != "rsi_14"]].notna().all().all()
    # The flag is exactly "no technicals row, or one of TECHNICALS_COMPLETE_FEATURES NULL".
    expected = state["technicals_date"].isna() | state[TECHNICALS_COMPLETE_FEATURES].isna().any(axis=1)
    assert (state["technicals_incomplete"].astype(bool) == expected).all()
    assert int(report.by_day["technicals_incomplete"].sum()) == len(absent) + len(partial) > 0

    # The checks: the warning names the candidates without a technicals row; none is an error.
    window = {"start_date": DAY, "end_date": DAY}
    checked = quality.rl_state_outcomes(
        wh.query("rl_state_quality", window), wh.query("rl_state_sources", window), [DAY]
    )
    outcomes = {o.name: o for o in checked}
    assert {n for n, o in outcomes.items() if not o.passed} == {"every_candidate_has_technicals"}
    assert outcomes["every_candidate_has_technicals"].metadata["offending_rows"] == len(absent)

    # rl_dataset carries every row with its flag, labelled from the quotes alone.
    build_rl_dataset(wh, DAY, DAY)
    dataset = table(wh, "rl_dataset")
    assert sorted(dataset["contract_symbol"]) == sorted(state["contract_symbol"])
    assert _flags(dataset) == _flags(state)
    assert dataset.loc[dataset["underlying"] == ABSENT, "reward"].notna().any()
    checked = quality.rl_dataset_outcomes(wh.query("rl_dataset_quality", window), {DAY: LABEL_DAYS[-1]}, [DAY])
    assert all(o.passed for o in checked), {o.name: o.description for o in checked if not o.passed}


def test_technicals_of_another_day_still_fail_the_point_in_time_rule(full_and_short_history):
    wh, _ = full_and_short_history
    build_rl_state(wh, DAY, DAY)
    earlier = calendar.shift_trading_days(DAY, -1)
    run_statement(wh, f"UPDATE rl_state SET technicals_date = DATE '{earlier}' WHERE underlying = '{COMPLETE}'")
    window = {"start_date": DAY, "end_date": DAY}
    quality_rows = wh.query("rl_state_quality", window)
    complete_rows = int((table(wh, "rl_state")["underlying"] == COMPLETE).sum())
    assert quality_rows["stamped_after_snapshot"].tolist() == [complete_rows]  # a NULL technicals_date passes


def _old_create_statement(name: str) -> str:
    """sql/create_<name>.sql as it was before technicals_incomplete: technicals_date NOT NULL, no flag."""
    text = (SQL_DIR / f"{name}.sql").read_text()
    assert "    technicals_date DATE,\n    technicals_incomplete BOOL NOT NULL,\n" in text
    return text.replace(
        "    technicals_date DATE,\n    technicals_incomplete BOOL NOT NULL,\n", "    technicals_date DATE NOT NULL,\n"
    )


def test_an_older_rl_state_and_rl_dataset_are_migrated(full_and_short_history):
    wh, every_candidate = full_and_short_history
    build_rl_state(wh, DAY, DAY)
    build_rl_dataset(wh, DAY, DAY)
    # What the older version held: only candidates with a technicals row (a NULL technical possible).
    state, dataset = table(wh, "rl_state"), table(wh, "rl_dataset")
    old_state = state[state["underlying"] != ABSENT].drop(columns="technicals_incomplete")
    old_dataset = dataset[dataset["underlying"] != ABSENT].drop(columns="technicals_incomplete")
    for name, rows in (("rl_state", old_state), ("rl_dataset", old_dataset)):
        wh.drop_table(name)
        run_statement(wh, _old_create_statement(f"create_{name}"))
        wh.load_frame(name, rows, replace_table=False)
        assert "technicals_incomplete" not in wh.columns(name)

    wh.ensure_tables()  # the next session migrates both

    for name in ("rl_state", "rl_dataset"):
        assert "technicals_incomplete" in wh.columns(name)
        migrated = table(wh, name)
        assert len(migrated) == len(old_state)  # nothing lost
        assert _flags(migrated) == {COMPLETE: {False}, PARTIAL: {True}}  # set from the rows' features
        assert not keep_candidates_without_technicals(wh, name)  # once only
    # technicals_date lost NOT NULL: the candidates without technicals now land, in both tables.
    build_rl_state(wh, DAY, DAY)
    build_rl_dataset(wh, DAY, DAY)
    for name in ("rl_state", "rl_dataset"):
        rebuilt = table(wh, name)
        assert sorted(rebuilt["contract_symbol"]) == sorted(every_candidate["contract_symbol"])
        assert _flags(rebuilt) == {COMPLETE: {False}, PARTIAL: {True}, ABSENT: {True}}


# ---- The models: imputation plus missing-indicators, fit on the training rows only


def _frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_missing_indicators_come_from_the_training_rows_only():
    train = _frame(a=[1.0, np.nan, 3.0, 5.0], b=[1.0, 2.0, 3.0, 4.0], c=[np.nan, True, False, True])
    scaler = Scaler.fit(train, ["a", "b", "c"])
    assert scaler.missing_indicators == ("a", "c")
    assert scaler.feature_names == ("a", "b", "c", f"a{MISSING_SUFFIX}", f"c{MISSING_SUFFIX}")
    assert scaler.width == 5
    # b is NaN only in the test rows: imputed with the training median (0 after scaling), no column.
    test = _frame(a=[np.nan, 3.0], b=[np.nan, 2.5], c=[True, np.nan])
    values = scaler.transform(test)
    assert values.shape == (2, 5) and np.isfinite(values).all()
    np.testing.assert_array_equal(values[:, 3:], [[1, 0], [0, 1]])
    assert values[0, 0] == 0 and values[0, 1] == 0  # NaN -> the training median
    assert scaler.transform(test.fillna(1.0)).shape == (2, 5)  # the width never depends on the rows
    np.testing.assert_array_equal(scaler.transform(train)[:, 3:], [[0, 1], [1, 0], [0, 0], [0, 0]])


def test_a_scaler_round_trips_and_an_older_one_loads_without_indicators():
    train = _frame(a=[1.0, np.nan, 3.0], b=[2.0, 4.0, 8.0])
    scaler = Scaler.fit(train, ["a", "b"])
    restored = Scaler.from_dict(scaler.to_dict())
    assert restored.missing_indicators == ("a",)
    np.testing.assert_array_equal(restored.transform(train), scaler.transform(train))
    older = {k: v for k, v in scaler.to_dict().items() if k != "missing_indicators"}  # stored before indicators
    loaded = Scaler.from_dict(older)
    assert loaded.missing_indicators == () and loaded.width == 2 == loaded.transform(train).shape[1]
    with pytest.raises(ValueError, match=r"missing-indicator features \['z'\] are not among the scaler's columns"):
        Scaler.from_dict({**scaler.to_dict(), "missing_indicators": ["z"]})


@pytest.fixture(scope="module")
def short_history_rows(null_market):
    """16 labelled days of the null market (at most 150 candidates a day) where a third of the
    underlyings have no technicals (as rl_state keeps them: NULL, flagged), and another's rsi_14 is NULL."""
    frame = null_market["dataset"]
    frame = frame[frame["reward"].notna()]
    frame = frame[frame["snapshot_date"].isin(sorted(frame["snapshot_date"].unique())[:16])]
    frame = frame.groupby("snapshot_date").head(150).copy()
    underlyings = sorted(frame["underlying"].unique())
    absent = frame["underlying"].isin(underlyings[::3])
    frame[TECHNICAL_FEATURES] = frame[TECHNICAL_FEATURES].astype(object)  # booleans too may be missing
    frame.loc[absent, TECHNICAL_FEATURES] = None
    frame.loc[frame["underlying"] == underlyings[1], "rsi_14"] = None
    return frame


def test_baseline_and_ppo_train_and_score_rows_without_technicals(short_history_rows):
    frame = short_history_rows
    dates = sorted(frame["snapshot_date"].unique())
    train, test = frame[frame["snapshot_date"].isin(dates[:12])], frame[frame["snapshot_date"].isin(dates[12:])]
    scaler, classifier = fit_baseline(train, BaselineConfig(epochs=2))
    # Every technical feature was missing in training: one indicator each, none for the option's own.
    assert scaler.missing_indicators == tuple(TECHNICAL_FEATURES)
    assert classifier.n_features == scaler.width == len(STATE_FEATURES) + len(TECHNICAL_FEATURES)
    scores = predict_proba(classifier, scaler.transform(test))
    assert scores.shape == (len(test),) and np.isfinite(scores).all()

    config = PPOConfig(n_envs=32, n_steps=8, total_steps=1024, minibatch_size=128, window_days=3)
    scaler, agent, _ = fit_ppo(train, config, max_per_day=12)
    assert agent.n_observations == observation_size(scaler.width)
    assert candidate_days(train, scaler, max_per_day=12).n_features == scaler.width
    taken = take_probability(agent, scaler.transform(test))
    assert taken.shape == (len(test),) and np.isfinite(taken).all() and ((taken >= 0) & (taken <= 1)).all()
