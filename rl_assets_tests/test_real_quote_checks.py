"""The checks real quotes need (issue 18): asks below intrinsic value, vendors' placeholder IVs,
NULL greeks counted as missing rather than out of range, price_data's close against the chain
with the offending rows named, and each day's universe taken from that day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from rl_assets import calendar, quality
from rl_assets.archive import archive_chain_frame, replace_live_chain, write_prices
from rl_assets.defs.partitions import range_run_tags
from rl_assets.defs.resources import Warehouse, WarehouseMarketProvider
from rl_assets.market.synthetic import SyntheticMarket
from rl_assets.schema import OPTIONS_CHAIN_HISTORY_COLUMNS
from rl_assets.warehouse.duckdb_backend import open_duckdb
from rl_assets_tests.code_location import (
    options_chain_history,
    options_chain_history_checks,
    price_data,
    price_data_checks,
)
from rl_assets_tests.conftest import DAY, NEXT_DAY
from rl_assets_tests.history import run_statement

VXX_FILE = Path(__file__).parent / "data" / "vxx_options_2016-12.csv.gz"


def _chain_outcomes(wh, days: list[dt.date]) -> dict[str, quality.CheckOutcome]:
    """The chain's rules as options_chain_history_checks evaluates them (the universe left out)."""
    return {o.name: o for o in quality.evaluate_options_chain_history(wh, days, {})}


def _set(wh, column: str, value: str, symbol: str) -> None:
    run_statement(wh, f"UPDATE options_chain_history SET {column} = {value} WHERE contract_symbol = '{symbol}'")


def _in_the_money(chain: pd.DataFrame, option_type: str) -> pd.Series:
    """The deepest in-the-money contract of a type."""
    side = chain[chain["option_type"] == option_type]
    intrinsic = side["underlying_price"] - side["strike"]
    return side.loc[(intrinsic if option_type == "call" else -intrinsic).idxmax()]


# ---- Ask below intrinsic value


def test_an_ask_below_intrinsic_value_fails_and_is_named(warehouse, market):
    chain = market.chain(DAY)
    archive_chain_frame(warehouse, chain, DAY)
    clean = _chain_outcomes(warehouse, [DAY])
    assert clean["ask_not_below_intrinsic"].passed, clean["ask_not_below_intrinsic"].description
    assert clean["ask_not_below_intrinsic"].metadata["examples_by_day"] == {}

    call, put = _in_the_money(chain, "call"), _in_the_money(chain, "put")
    call_intrinsic = call["underlying_price"] - call["strike"]
    _set(warehouse, "ask", f"{call_intrinsic - 0.05}", call["contract_symbol"])  # a nickel of free money
    _set(warehouse, "ask", f"{0.5 * (put['strike'] - put['underlying_price'])}", put["contract_symbol"])
    # Within a cent of intrinsic value: rounding, not an error.
    other = chain[(chain["option_type"] == "call") & (chain["underlying_price"] - chain["strike"] > 1)]
    other = other[other["contract_symbol"] != call["contract_symbol"]].iloc[0]
    _set(warehouse, "ask", f"{other['underlying_price'] - other['strike'] - 0.005}", other["contract_symbol"])

    outcome = _chain_outcomes(warehouse, [DAY])["ask_not_below_intrinsic"]
    assert not outcome.passed and not outcome.warn_only
    assert outcome.metadata["days_with_offending_rows"] == {str(DAY): 2}
    examples = outcome.metadata["examples_by_day"][str(DAY)]
    assert [e["contract_symbol"] for e in examples] == [put["contract_symbol"], call["contract_symbol"]]  # worst first
    named = examples[1]
    assert named["ask"] == pytest.approx(call_intrinsic - 0.05)
    assert named["intrinsic"] == pytest.approx(call_intrinsic, abs=1e-6)
    assert (named["strike"], named["underlying_price"]) == pytest.approx((call["strike"], call["underlying_price"]))


def test_a_deep_in_the_money_european_put_below_intrinsic_by_its_carry_is_not_flagged():
    """The synthetic market prices by BSM (European): its deep in-the-money puts sit below intrinsic
    value by up to the carry on the strike. The check's floor allows that carry, plain intrinsic
    value does not (this day holds such puts)."""
    chain = SyntheticMarket(seed=7, tickers=20).chain(DAY)
    puts = chain[chain["option_type"] == "put"]
    below_intrinsic = puts["ask"] < puts["strike"] - puts["underlying_price"] - quality.INTRINSIC_TOLERANCE
    assert below_intrinsic.sum() > 100
    years = (pd.to_datetime(puts["expiration"]) - pd.Timestamp(DAY)).dt.days / 365
    floor = puts["strike"] * np.exp(-quality.CARRY_RATE * years) - puts["underlying_price"]
    assert not (puts["ask"] < floor - quality.INTRINSIC_TOLERANCE).any()


def test_the_dagster_checks_carry_the_offending_rows(resources, market):
    """Through options_chain_history_checks: an ask below intrinsic value fails (ERROR, not blocking),
    a placeholder IV warns, and both name their rows in the metadata."""
    chain = market.chain(DAY)
    call = _in_the_money(chain, "call")
    chain.loc[call.name, ["bid", "ask"]] = [0.0, call["underlying_price"] - call["strike"] - 1.0]
    placeholder = sorted(chain["contract_symbol"])[0]
    chain.loc[chain["contract_symbol"] == placeholder, "implied_volatility"] = 0.01
    with open_duckdb(resources["warehouse"].duckdb_path, "rl_test") as wh:
        wh.ensure_tables()
        replace_live_chain(wh, chain)
    result = dg.materialize(
        [options_chain_history, options_chain_history_checks], resources=resources, partition_key=str(DAY)
    )
    outcome = {e.check_name: e for e in result.get_asset_check_evaluations()}
    ask = outcome["ask_not_below_intrinsic"]
    assert not ask.passed and ask.severity == dg.AssetCheckSeverity.ERROR
    (row,) = ask.metadata["examples_by_day"].value[str(DAY)]
    assert row["contract_symbol"] == call["contract_symbol"] and row["ask"] == pytest.approx(row["intrinsic"] - 1.0)
    iv = outcome["no_placeholder_iv"]
    assert not iv.passed and iv.severity == dg.AssetCheckSeverity.WARN
    assert [r["contract_symbol"] for r in iv.metadata["examples_by_day"].value[str(DAY)]] == [placeholder]
    failed = {name for name, e in outcome.items() if not e.passed}
    assert failed == {"ask_not_below_intrinsic", "no_placeholder_iv"}


# ---- Placeholder IVs and missing greeks


def test_placeholder_ivs_warn_with_examples(warehouse, market):
    chain = market.chain(DAY)
    archive_chain_frame(warehouse, chain, DAY)
    assert _chain_outcomes(warehouse, [DAY])["no_placeholder_iv"].passed
    first, second, zero, low = sorted(chain["contract_symbol"])[:4]
    _set(warehouse, "implied_volatility", "0.01", first)  # the VXX vendor's placeholder
    _set(warehouse, "implied_volatility", "0.00001", second)  # Yahoo's
    _set(warehouse, "implied_volatility", "0", zero)  # impossible: iv_in_range's
    _set(warehouse, "implied_volatility", "0.02", low)  # low, but not a placeholder
    outcomes = _chain_outcomes(warehouse, [DAY])
    placeholder = outcomes["no_placeholder_iv"]
    assert not placeholder.passed and placeholder.warn_only
    assert placeholder.metadata["days_with_offending_rows"] == {str(DAY): 2}
    examples = placeholder.metadata["examples_by_day"][str(DAY)]
    assert [(e["contract_symbol"], e["implied_volatility"]) for e in examples] == [(first, 0.01), (second, 0.00001)]
    assert outcomes["iv_in_range"].metadata["days_with_offending_rows"] == {str(DAY): 1}


def test_null_greeks_are_missing_not_out_of_range(warehouse, market):
    """Before issue 18 a NULL IV or delta failed iv_in_range / delta_sign_and_range (ERROR): a
    vendor without greeks, or a quote no IV solves, looked like corrupt values."""
    chain = market.chain(DAY)
    archive_chain_frame(warehouse, chain, DAY)
    assert _chain_outcomes(warehouse, [DAY])["greeks_present"].passed
    a, b, c, d, e = sorted(chain["contract_symbol"])[:5]
    _set(warehouse, "implied_volatility", "NULL", a)
    _set(warehouse, "delta", "NULL", b)
    _set(warehouse, "rho", "NULL", c)
    _set(warehouse, "gamma", "NULL", c)
    outcomes = _chain_outcomes(warehouse, [DAY])
    assert outcomes["iv_in_range"].passed, outcomes["iv_in_range"].description
    assert outcomes["delta_sign_and_range"].passed, outcomes["delta_sign_and_range"].description
    missing = outcomes["greeks_present"]
    assert not missing.passed and missing.warn_only
    assert missing.metadata["days_with_offending_rows"] == {str(DAY): 3}
    assert missing.metadata["missing_by_column_by_day"] == {
        str(DAY): {"implied_volatility": 1, "delta": 1, "gamma": 1, "rho": 1}
    }
    # Values present and wrong are still the range rules' (NaN alike on both backends).
    _set(warehouse, "implied_volatility", "CAST('NaN' AS FLOAT64)", d)
    _set(warehouse, "delta", "CAST('NaN' AS FLOAT64)", e)
    outcomes = _chain_outcomes(warehouse, [DAY])
    assert outcomes["iv_in_range"].metadata["days_with_offending_rows"] == {str(DAY): 1}
    assert outcomes["delta_sign_and_range"].metadata["days_with_offending_rows"] == {str(DAY): 1}


# ---- The real VXX file


def _vxx_history(days: list[str]) -> pd.DataFrame:
    """The VXX file's rows of `days` (MM/DD/YYYY) as options_chain_history rows (the vendor has no rho)."""
    raw = pd.read_csv(VXX_FILE)
    raw.columns = raw.columns.str.strip()
    raw = raw[raw["quotedate"].isin(days)]
    snapshot = pd.to_datetime(raw["quotedate"], format="%m/%d/%Y").dt.date
    history = pd.DataFrame(
        {
            "underlying": raw["underlying"],
            "contract_symbol": raw["optionroot"],
            "option_type": raw["type"],
            "strike": raw["strike"],
            "expiration": pd.to_datetime(raw["expiration"], format="%m/%d/%Y").dt.date,
            "bid": raw["bid"],
            "ask": raw["ask"],
            "mid": (raw["bid"] + raw["ask"]) / 2,
            "last": raw["last"],
            "volume": raw["volume"],
            "open_interest": raw["openinterest"],
            "implied_volatility": raw["impliedvol"],
            "delta": raw["delta"],
            "gamma": raw["gamma"],
            "theta": raw["theta"],
            "vega": raw["vega"],
            "rho": np.nan,
            "underlying_price": raw["underlying_last"],
            "snapshot_date": snapshot,
        }
    )
    history["dte"] = [(e - s).days for e, s in zip(history["expiration"], snapshot, strict=True)]
    history["quote_time"] = [calendar.session_close_utc(s) for s in snapshot]
    history["archived_at"] = history["quote_time"]
    return history.reindex(columns=OPTIONS_CHAIN_HISTORY_COLUMNS)  # no provenance: loaded as the vendor wrote it


def test_the_real_vxx_files_placeholder_ivs_and_asks_below_intrinsic(warehouse):
    """The vendor writes IV 0.01 with all greeks zero where its solver found nothing (deep in the
    money); most of those rows have an ask below intrinsic value. Counted here in pandas first."""
    history = _vxx_history(["12/01/2016", "12/02/2016"])
    first, second = dt.date(2016, 12, 1), dt.date(2016, 12, 2)
    placeholder = history["implied_volatility"].between(0, quality.PLACEHOLDER_IV, inclusive="right")
    assert (history.loc[placeholder, ["delta", "gamma", "theta", "vega"]] == 0).all().all()
    assert placeholder.groupby(history["snapshot_date"]).sum().to_dict() == {first: 61, second: 66}
    warehouse.load_frame("options_chain_history", history, replace_table=False)

    outcomes = _chain_outcomes(warehouse, [first, second])
    iv = outcomes["no_placeholder_iv"]
    assert not iv.passed and iv.metadata["days_with_offending_rows"] == {str(first): 61, str(second): 66}
    assert all(e["implied_volatility"] == 0.01 and e["delta"] == 0 for e in iv.metadata["examples_by_day"][str(second)])
    ask = outcomes["ask_not_below_intrinsic"]
    assert not ask.passed and ask.metadata["days_with_offending_rows"] == {str(first): 2, str(second): 64}
    examples = ask.metadata["examples_by_day"][str(second)]
    assert len(examples) == quality.EXAMPLE_ROWS
    worst = examples[0]
    assert worst["contract_symbol"] == "VXX161202C00028000"  # ask 0.13 below intrinsic, the day's largest gap
    assert worst["intrinsic"] - worst["ask"] == pytest.approx(0.1292, abs=1e-6)
    # The vendor has no rho: missing, a warning, and not an out-of-range IV or delta.
    assert outcomes["greeks_present"].metadata["missing_by_column_by_day"][str(first)] == {
        "rho": int((history["snapshot_date"] == first).sum())
    }
    assert outcomes["delta_sign_and_range"].passed
    # The file's far out-of-the-money rows carry IVs up to 141 (14,100%): out of range, as counted here.
    high = history["implied_volatility"] > 5
    assert outcomes["iv_in_range"].metadata["days_with_offending_rows"] == {
        str(day): int(n) for day, n in high.groupby(history["snapshot_date"]).sum().items()
    }
    assert all(o.passed for name, o in outcomes.items() if name in {"unique_key", "bid_not_above_ask"})


# ---- price_data's close against the chain's underlying price


def _close_vs_chain(wh, days) -> quality.CheckOutcome:
    """As price_data_matches_chain evaluates it."""
    params = {"start_date": days[0], "end_date": days[-1], "tolerance": quality.UNDERLYING_PRICE_TOLERANCE}
    compared = wh.query("price_data_vs_chain", params)
    rows = None
    if compared["mismatched"].sum() > 0:
        rows = wh.query("price_data_vs_chain_rows", {**params, "examples": quality.EXAMPLE_ROWS})
    return quality.close_matches_chain_outcome(compared, days, rows)


def test_the_close_check_names_its_rows_and_skips_missing_underlying_prices(warehouse, market):
    """A split ticker is named with its close, the chain's underlying price and the gap; a ticker
    whose chain rows have a NULL (or NaN) underlying price is not compared; a day without chain
    rows passes."""
    days = [DAY, NEXT_DAY]
    write_prices(warehouse, market.prices(DAY, NEXT_DAY), DAY, NEXT_DAY)
    archive_chain_frame(warehouse, market.chain(DAY), DAY)  # no chain archived for NEXT_DAY
    no_price, split, nan_price = market.tickers[0], market.tickers[1], market.tickers[2]  # noqa: F841 (read by .query)
    run_statement(
        warehouse, f"UPDATE options_chain_history SET underlying_price = NULL WHERE underlying = '{no_price}'"
    )
    # NaN was MAX's answer on DuckDB (a 'mismatch') and MIN's on BigQuery before it was left out.
    symbol = sorted(market.chain(DAY).query("underlying == @nan_price")["contract_symbol"])[0]
    _set(warehouse, "underlying_price", "CAST('NaN' AS FLOAT64)", symbol)
    clean = _close_vs_chain(warehouse, days)
    assert clean.passed, clean.description
    assert clean.metadata["days_without_chain_rows"] == [str(NEXT_DAY)]
    assert clean.metadata["mismatched_rows_by_day"] == {}
    compared = warehouse.query(
        "price_data_vs_chain", {"start_date": DAY, "end_date": DAY, "tolerance": quality.UNDERLYING_PRICE_TOLERANCE}
    )
    assert compared["compared"].tolist() == [len(market.tickers) - 1]  # the NULL ticker is not compared

    run_statement(
        warehouse, f"UPDATE price_data SET close = close / 4 WHERE ticker = '{split}' AND date = DATE '{DAY}'"
    )
    outcome = _close_vs_chain(warehouse, days)
    assert not outcome.passed
    (row,) = outcome.metadata["mismatched_rows_by_day"][str(DAY)]
    close = market.prices(DAY, DAY).set_index("ticker").loc[split, "close"]
    assert row["ticker"] == split and row["date"] == str(DAY)
    assert row["close"] == pytest.approx(close / 4)
    assert row["chain_underlying_price"] == pytest.approx(close, rel=1e-6)
    assert row["gap"] == pytest.approx(3.0, rel=1e-3)


# ---- Each day's universe (sidecar mode: what price_data held that week)


def test_each_checked_day_is_judged_by_its_own_universe(duckdb_path, market):
    """A backfilled old day checked against the newest week's tickers expects a ticker that started
    listing later and forgets one that has since stopped: the old code failed this old day for the
    late lister and passed it without the one that stopped."""
    late, stopped = market.tickers[0], market.tickers[1]
    checked = calendar.shift_trading_days(DAY, -10)
    first = calendar.shift_trading_days(DAY, -20)
    prices = market.prices(first, DAY)
    listed_from = calendar.shift_trading_days(DAY, -3)
    prices = prices[(prices["ticker"] != late) | (prices["date"] >= listed_from)]
    # `stopped` has its last bar the session before the checked day.
    prices = prices[(prices["ticker"] != stopped) | (prices["date"] < checked)]
    run = calendar.trading_days(calendar.shift_trading_days(checked, -2), checked)
    warehouse = Warehouse(duckdb_path=duckdb_path, dataset="rl_test")
    with warehouse.session() as wh:
        write_prices(wh, prices, first, DAY)
        for day in run:  # every underlying listed then (the late lister was not)
            chain = market.chain(day)
            archive_chain_frame(wh, chain[chain["underlying"] != late], day)
    resources = {"warehouse": warehouse, "market": WarehouseMarketProvider(warehouse=warehouse)}
    checks = [options_chain_history_checks, price_data_checks]
    result = dg.materialize(
        [options_chain_history, price_data, *checks],
        resources=resources,
        selection=dg.AssetSelection.checks(*checks),
        tags=range_run_tags(run[0], run[-1]),
        raise_on_error=False,
    )
    outcome = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    tickers = outcome[("price_data", "every_ticker_present")]
    assert not tickers.passed
    assert tickers.metadata["missing_by_day"].value == {str(checked): [stopped]}
    expected = len(market.tickers) - 1  # the late lister is not expected yet; the one that stopped still is
    assert tickers.metadata["expected_by_day"].value == {str(day): expected for day in run}
    underlyings = outcome[("options_chain_history", "every_underlying_present")]
    assert underlyings.passed, underlyings.metadata["missing_by_day"].value
