"""The reward: hand-computed cases, and the SQL (sql/insert_rl_dataset.sql) against the Python rule
(rl_assets.reward.resolve) case by case and on random positions.

T is Friday 2026-11-20; its label days are Mon 23, Tue 24 and Wed 25 November (Thursday 26 is
Thanksgiving). Entry is the ask at T. Each case has its own underlying so its closes are its own.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from rl_assets import calendar
from rl_assets.dataset import DatasetRefused, build_rl_dataset
from rl_assets.reward import TAKE_PROFIT, label_days, label_windows, resolve
from rl_assets_bench.history import table

T = dt.date(2026, 11, 20)
D1, D2, D3 = dt.date(2026, 11, 23), dt.date(2026, 11, 24), dt.date(2026, 11, 25)
LATER = dt.date(2026, 12, 18)  # an expiration after the window

# name: (option_type, strike, expiration, entry (ask at T), bids by label day (absent = not quoted),
#        underlying closes by day (T, D1, D2, D3), expected (exit_date, exit_price, reward, hit_50,
#        exit_reason, missing_quotes, max_gain_3d))
CASES = {
    "take_profit_day_1": (
        "call", 100.0, LATER, 2.0, {D1: 3.2, D2: 1.0, D3: 0.5}, (100, 103, 101, 99),
        (D1, 3.0, 0.5, True, "take_profit", 0, 0.6),
    ),
    "take_profit_day_2": (
        "call", 100.0, LATER, 2.0, {D1: 2.5, D2: 3.1, D3: 4.0}, (100, 101, 103, 104),
        (D2, 3.0, 0.5, True, "take_profit", 0, 1.0),
    ),
    "take_profit_day_3": (
        "put", 100.0, LATER, 2.0, {D1: 1.0, D2: 1.2, D3: 3.0}, (100, 100, 99, 96),
        (D3, 3.0, 0.5, True, "take_profit", 0, 0.5),
    ),
    "exactly_at_threshold": (
        "call", 50.0, LATER, 0.4, {D1: 0.6000000001, D2: 0.1, D3: 0.1}, (50, 50, 50, 50),
        (D1, 0.6000000000000001, 0.5, True, "take_profit", 0, 0.5000000002500001),
    ),
    "no_take_profit": (
        "call", 100.0, LATER, 2.0, {D1: 1.8, D2: 2.2, D3: 2.6}, (100, 100, 101, 101),
        (D3, 2.6, 0.30000000000000004, False, "horizon", 0, 0.30000000000000004),
    ),
    "just_below_threshold": (
        "call", 100.0, LATER, 2.0, {D1: 2.99, D2: 2.99, D3: 2.99}, (100, 100, 100, 100),
        (D3, 2.99, 0.4950000000000001, False, "horizon", 0, 0.4950000000000001),
    ),
    "expires_day_2_in_the_money": (
        "call", 100.0, D2, 2.0, {D1: 1.5}, (100, 101, 103, 90),
        (D2, 3.0, 0.5, True, "expired", 0, 0.5),
    ),
    "expires_day_2_worthless": (
        "put", 100.0, D2, 2.0, {D1: 1.5}, (100, 101, 103, 90),
        (D2, 0.0, -1.0, False, "expired", 0, -0.25),
    ),
    "expires_day_3_take_profit_that_day": (
        "call", 100.0, D3, 2.0, {D1: 1.0, D2: 1.1, D3: 3.5}, (100, 100, 100, 103.5),
        (D3, 3.0, 0.5, True, "take_profit", 0, 0.75),
    ),
    "expires_on_saturday_after_t": (
        "call", 100.0, dt.date(2026, 11, 21), 2.0, {}, (101, 100, 100, 100),
        (T, 1.0, -0.5, False, "expired", 0, -0.5),
    ),
    "missing_from_day_2_snapshot": (
        "call", 100.0, LATER, 2.0, {D1: 1.9, D3: 2.1}, (100, 100, 100, 100),
        (D3, 2.1, 0.05000000000000004, False, "horizon", 1, 0.05000000000000004),
    ),
    "missing_from_day_3_snapshot": (
        "call", 100.0, LATER, 2.0, {D1: 1.9, D2: 2.4}, (100, 100, 100, 100),
        (None, None, None, None, "missing_quote", 1, 0.2),
    ),
    "never_seen_again": (
        "put", 100.0, LATER, 2.0, {}, (100, 100, 100, 100),
        (None, None, None, None, "missing_quote", 3, None),
    ),
    "missing_then_take_profit": (
        "call", 100.0, LATER, 2.0, {D2: 3.4}, (100, 100, 100, 100),
        (D2, 3.0, 0.5, True, "take_profit", 2, 0.7),
    ),
    "zero_bid_at_horizon": (
        "call", 100.0, LATER, 0.05, {D1: 0.01, D2: 0.0, D3: 0.0}, (100, 99, 98, 97),
        (D3, 0.0, -1.0, False, "horizon", 0, -0.8),
    ),
}  # fmt: skip
OUTCOME_FIELDS = ["exit_date", "exit_price", "reward", "hit_50", "exit_reason", "missing_quotes", "max_gain_3d"]


def _case_rows(cases: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """rl_state rows at T, options_chain_history rows on the label days, price_data rows T..D3."""
    quote_time = calendar.session_close_utc(T)
    state, history, prices = [], [], []
    for i, (kind, strike, expiration, entry, bids, closes, _) in enumerate(cases.values()):
        underlying, symbol = f"U{i:03d}", f"C{i:03d}"
        state.append(
            {
                "snapshot_date": T, "contract_symbol": symbol, "underlying": underlying, "option_type": kind,
                "strike": strike, "expiration": expiration, "bid": max(entry - 0.1, 0.01), "ask": entry,
                "underlying_price": closes[0], "entry_price": entry, "quote_time": quote_time,
                "technicals_date": T, "technicals_incomplete": False, "is_call": kind == "call",
                "dte": (expiration - T).days,
            }
        )  # fmt: skip
        for day, bid in bids.items():
            history.append(_quote(day, symbol, underlying, kind, strike, expiration, bid))
        for day, close in zip((T, D1, D2, D3), closes, strict=True):
            prices.append({"ticker": underlying, "date": day, "open": close, "high": close, "low": close, "close": close, "volume": 1000})  # fmt: skip
    for day in (D1, D2, D3):  # a contract quoted every day, so every label snapshot exists
        history.append(_quote(day, "FILLER", "FILL", "call", 10.0, LATER, 1.0))
    return pd.DataFrame(state), pd.DataFrame(history), pd.DataFrame(prices)


def _quote(day, symbol, underlying, kind, strike, expiration, bid) -> dict:
    return {
        "underlying": underlying, "contract_symbol": symbol, "option_type": kind, "strike": strike,
        "expiration": expiration, "dte": (expiration - day).days, "bid": bid, "ask": bid + 0.05,
        "quote_time": calendar.session_close_utc(day), "snapshot_date": day,
        "archived_at": calendar.session_close_utc(day),
    }  # fmt: skip


def _load(warehouse, cases: dict) -> None:
    state, history, prices = _case_rows(cases)
    warehouse.load_frame("rl_state", state, replace_table=False)
    warehouse.load_frame("options_chain_history", history, replace_table=False)
    warehouse.load_frame("price_data", prices, replace_table=False)


def _sql_outcomes(warehouse, cases: dict) -> pd.DataFrame:
    _load(warehouse, cases)
    build_rl_dataset(warehouse, T, T)
    return table(warehouse, "rl_dataset").set_index("contract_symbol")


def _python_outcome(case) -> tuple:
    kind, strike, expiration, entry, bids, closes, _ = case
    outcome = resolve(
        snapshot_date=T, entry_price=entry, option_type=kind, strike=strike, expiration=expiration,
        bids=bids, closes=dict(zip((T, D1, D2, D3), closes, strict=True)),
    )  # fmt: skip
    return tuple(getattr(outcome, f) for f in OUTCOME_FIELDS)


def _normalise(value):
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _assert_same(actual: tuple, expected: tuple, where: str) -> None:
    for field, a, e in zip(OUTCOME_FIELDS, actual, expected, strict=True):
        a, e = _normalise(a), _normalise(e)
        if isinstance(e, float) and a is not None:
            assert a == pytest.approx(e, rel=1e-12, abs=1e-12), f"{where}: {field} {a} != {e}"
        else:
            assert a == e, f"{where}: {field} {a!r} != {e!r}"


def test_label_days_follow_the_exchange_calendar():
    assert label_days(T) == [D1, D2, D3]  # Thanksgiving (26th) is not a session
    assert label_days(dt.date(2025, 7, 2)) == [dt.date(2025, 7, 3), dt.date(2025, 7, 7), dt.date(2025, 7, 8)]
    windows = label_windows([T])
    assert windows.iloc[0].tolist() == [T, D1, D2, D3]
    with pytest.raises(ValueError, match="not an? .*trading|not a NYSE"):
        label_days(dt.date(2026, 11, 26))


@pytest.mark.parametrize("name", list(CASES))
def test_python_rule_on_hand_computed_cases(name):
    _assert_same(_python_outcome(CASES[name]), CASES[name][-1], name)


def test_sql_on_hand_computed_cases(warehouse):
    sql = _sql_outcomes(warehouse, CASES)
    assert len(sql) == len(CASES)  # every candidate kept, flagged ones included
    for i, (name, case) in enumerate(CASES.items()):
        row = sql.loc[f"C{i:03d}"]
        _assert_same(tuple(row[f] for f in OUTCOME_FIELDS), case[-1], name)
        assert row["label_end_date"].date() == D3
        expected_return = case[5][3] / case[5][0] - 1
        assert row["underlying_return_3d"] == pytest.approx(expected_return, rel=1e-12), name


def test_sql_and_python_agree_on_random_positions(warehouse):
    """300 random positions: prices near the threshold, quotes missing at random, expirations in
    and after the window, calls and puts, zero bids."""
    rng = np.random.default_rng(2026)
    expirations = [dt.date(2026, 11, 21), D1, D2, D3, dt.date(2026, 11, 27), LATER]
    cases = {}
    for i in range(300):
        entry = float(np.round(rng.uniform(0.05, 5.0), 2))
        bids = {
            d: float(max(np.round(entry * rng.uniform(0.0, 1.8), 2), 0.0)) for d in (D1, D2, D3) if rng.uniform() > 0.15
        }
        if bids and rng.uniform() < 0.1:
            bids[next(iter(bids))] = 0.0
        if rng.uniform() < 0.05:  # exactly at the take-profit price
            bids[D2] = TAKE_PROFIT * entry
        closes = tuple(float(x) for x in np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.03, 4))), 2))
        kind = "call" if rng.uniform() < 0.5 else "put"
        cases[f"r{i}"] = (kind, float(rng.choice([95.0, 100.0, 105.0])), expirations[rng.integers(len(expirations))], entry, bids, closes, None)  # fmt: skip
    sql = _sql_outcomes(warehouse, cases)
    reasons = set()
    for i, (name, case) in enumerate(cases.items()):
        row = sql.loc[f"C{i:03d}"]
        expected = _python_outcome(case)
        _assert_same(tuple(row[f] for f in OUTCOME_FIELDS), expected, name)
        reasons.add(expected[4])
    assert reasons == {"take_profit", "horizon", "expired", "missing_quote"}  # the sample covers the rule


def test_non_candidates_are_refused_by_the_python_rule():
    with pytest.raises(ValueError, match="entry_price must be > 0"):
        resolve(snapshot_date=T, entry_price=0.0, option_type="call", strike=1, expiration=LATER, bids={}, closes={})
    with pytest.raises(ValueError, match="not a candidate"):
        resolve(snapshot_date=T, entry_price=1.0, option_type="call", strike=1, expiration=T, bids={}, closes={})
    with pytest.raises(ValueError, match="option_type"):
        resolve(
            snapshot_date=T, entry_price=1.0, option_type="straddle", strike=1, expiration=D1, bids={}, closes={D1: 2}
        )


def test_no_labels_while_the_window_is_incomplete(warehouse):
    """Without T+3's snapshot the dataset refuses, names the day, and writes nothing."""
    state, history, prices = _case_rows(CASES)
    warehouse.load_frame("rl_state", state, replace_table=False)
    warehouse.load_frame("options_chain_history", history[history["snapshot_date"] != D3], replace_table=False)
    warehouse.load_frame("price_data", prices, replace_table=False)
    with pytest.raises(DatasetRefused, match=r"options_chain_history has no rows for 2026-11-25"):
        build_rl_dataset(warehouse, T, T)
    assert warehouse.query("rl_dataset_summary", {"start_date": T, "end_date": T}).empty


def test_missing_closes_refuse(warehouse):
    state, history, prices = _case_rows(CASES)
    warehouse.load_frame("rl_state", state, replace_table=False)
    warehouse.load_frame("options_chain_history", history, replace_table=False)
    warehouse.load_frame("price_data", prices[prices["date"] != D2], replace_table=False)
    with pytest.raises(DatasetRefused, match=r"price_data has no rows for 2026-11-24"):
        build_rl_dataset(warehouse, T, T)
    assert warehouse.query("rl_dataset_summary", {"start_date": T, "end_date": T}).empty


# ---- Non-finite quotes and closes (issue 16): history archived before the archive stored NaN/inf as
# NULL may hold them. Each counts as missing in the SQL and in the Python rule. A NaN cannot be
# loaded from pandas (both backends turn it into NULL), so it travels as a marker and an UPDATE
# plants the real NaN.
NAN = float("nan")
INF = float("inf")
NAN_MARKER = -999.0
NON_FINITE_CASES = {
    "nan_bids_every_label_day": (  # today: take_profit on day 1 in DuckDB (NaN sorts above every number)
        "call", 100.0, LATER, 2.0, {D1: NAN, D2: NAN, D3: NAN}, (100, 100, 100, 100),
        (None, None, None, None, "missing_quote", 3, None),
    ),
    "nan_bid_day_1_then_horizon": (
        "call", 100.0, LATER, 2.0, {D1: NAN, D2: 1.8, D3: 2.1}, (100, 100, 100, 100),
        (D3, 2.1, 0.05000000000000004, False, "horizon", 1, 0.05000000000000004),
    ),
    "inf_bid_day_2": (  # today: take_profit on day 2 (inf >= 1.5 x entry) on both backends
        "put", 100.0, LATER, 2.0, {D1: 1.0, D2: INF, D3: 1.5}, (100, 100, 100, 100),
        (D3, 1.5, -0.25, False, "horizon", 1, -0.25),
    ),
    "nan_bid_on_the_horizon_day": (
        "call", 100.0, LATER, 2.0, {D1: 1.0, D2: 1.2, D3: NAN}, (100, 100, 100, 100),
        (None, None, None, None, "missing_quote", 1, -0.4),
    ),
    "nan_close_on_the_expiration_session": (
        "call", 100.0, D2, 2.0, {D1: 1.5}, (100, 101, NAN, 104),
        (None, None, None, None, "missing_price", 0, -0.25),
    ),
    "minus_inf_close_on_the_expiration_session": (  # today: a put worth strike + inf
        "put", 100.0, D2, 2.0, {D1: 1.5}, (100, 101, -INF, 104),
        (None, None, None, None, "missing_price", 0, -0.25),
    ),
}  # fmt: skip


def _with_markers(cases: dict) -> dict:
    """The cases with each NaN replaced by NAN_MARKER (loadable from pandas)."""

    def mark(value):
        return NAN_MARKER if isinstance(value, float) and math.isnan(value) else value

    return {
        name: (kind, strike, expiration, entry, {d: mark(b) for d, b in bids.items()}, tuple(map(mark, closes)), out)
        for name, (kind, strike, expiration, entry, bids, closes, out) in cases.items()
    }


@pytest.mark.parametrize("name", list(NON_FINITE_CASES))
def test_python_rule_treats_a_non_finite_bid_or_close_as_missing(name):
    _assert_same(_python_outcome(NON_FINITE_CASES[name]), NON_FINITE_CASES[name][-1], name)


def test_sql_treats_a_non_finite_bid_or_close_as_missing(warehouse):
    from rl_assets_tests.history import run_statement

    _load(warehouse, _with_markers(NON_FINITE_CASES))
    run_statement(warehouse, f"UPDATE options_chain_history SET bid = CAST('NaN' AS FLOAT64) WHERE bid = {NAN_MARKER}")
    run_statement(warehouse, f"UPDATE price_data SET close = CAST('NaN' AS FLOAT64) WHERE close = {NAN_MARKER}")
    planted = warehouse.read_sql(
        "SELECT (SELECT COUNTIF(IS_NAN(bid)) FROM options_chain_history) AS bids, "
        "(SELECT COUNTIF(IS_NAN(close)) FROM price_data) AS closes"
    ).iloc[0]
    assert (int(planted["bids"]), int(planted["closes"])) == (5, 1)
    build_rl_dataset(warehouse, T, T)
    sql = table(warehouse, "rl_dataset").set_index("contract_symbol")
    assert len(sql) == len(NON_FINITE_CASES)
    for i, (name, case) in enumerate(NON_FINITE_CASES.items()):
        row = sql.loc[f"C{i:03d}"]
        _assert_same(tuple(row[f] for f in OUTCOME_FIELDS), case[-1], name)
        _assert_same(tuple(row[f] for f in OUTCOME_FIELDS), _python_outcome(case), f"{name} (Python rule)")
    assert not sql["hit_50"].fillna(False).astype(bool).any()


def test_a_non_finite_entry_is_not_a_candidate_for_the_python_rule():
    with pytest.raises(ValueError, match="entry_price must be > 0 and finite"):
        resolve(snapshot_date=T, entry_price=INF, option_type="call", strike=1, expiration=LATER, bids={}, closes={})
