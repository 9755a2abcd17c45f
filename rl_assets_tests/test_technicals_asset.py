"""technicals_history through Dagster on a real DuckDB file."""

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from rl_assets import calendar
from rl_assets.defs.partitions import range_run_tags
from rl_assets.defs.resources import SyntheticMarketProvider
from rl_assets.schema import TECHNICALS_COLUMNS
from rl_assets.technicals import compute_technicals
from rl_assets.warehouse.duckdb_backend import DuckDBBackend, open_duckdb
from rl_assets_tests.code_location import price_data, technicals_history
from rl_assets_tests.conftest import DAY, SMALL_UNIVERSE

HISTORY_START = dt.date(2025, 1, 2)  # the first partition
RANGE_START = dt.date(2026, 11, 16)
NUMERIC = [c for c in TECHNICALS_COLUMNS if c not in ("ticker", "date", "above_sma_50", "above_sma_200")]


def stored(duckdb_path: str) -> pd.DataFrame:
    with open_duckdb(duckdb_path, "rl_test") as wh:
        frame = wh.connection.execute("SELECT * FROM rl_test.technicals_history ORDER BY ticker, date").df()
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame


@pytest.fixture
def prices_loaded(resources):
    assert dg.materialize([price_data], resources=resources, tags=range_run_tags(HISTORY_START, DAY)).success
    return resources


def test_a_backfill_writes_each_day_with_full_history_values(prices_loaded, duckdb_path, market):
    result = dg.materialize([technicals_history], resources=prices_loaded, tags=range_run_tags(RANGE_START, DAY))
    assert result.success
    ours = stored(duckdb_path)
    assert len(ours) == 5 * SMALL_UNIVERSE and not ours.duplicated(["ticker", "date"]).any()
    everything = compute_technicals(market.prices(HISTORY_START, DAY))
    expected = everything[everything["date"] >= RANGE_START].reset_index(drop=True)
    np.testing.assert_allclose(ours[NUMERIC].to_numpy(float), expected[NUMERIC].to_numpy(float), rtol=0, atol=1e-9)
    assert (ours["above_sma_50"].astype(bool) == expected["above_sma_50"].astype(bool)).all()
    meta = result.asset_materializations_for_node("technicals_history")[0].metadata
    assert meta["tickers_computed"].value == SMALL_UNIVERSE and meta["tickers_skipped"].value == {}
    assert meta["warmup_sessions"].value == 500
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "every_ticker_computed" and check.passed


def test_price_data_backfill_in_blocks_stores_every_day_once(prices_loaded, duckdb_path, market):
    days = calendar.trading_days(HISTORY_START, DAY)
    assert len(days) > 2 * calendar.BACKFILL_BLOCK_SESSIONS  # the fixture's one run spans several blocks
    with open_duckdb(duckdb_path, "rl_test") as wh:
        ours = wh.connection.execute("SELECT * FROM rl_test.price_data ORDER BY ticker, date").df()
    expected = market.prices(HISTORY_START, DAY).sort_values(["ticker", "date"], ignore_index=True)
    ours["date"] = pd.to_datetime(ours["date"]).dt.date
    assert not ours.duplicated(["ticker", "date"]).any()
    pd.testing.assert_frame_equal(ours[expected.columns], expected, check_dtype=False)


def test_a_range_longer_than_a_block_is_computed_block_by_block_with_full_history_values(
    prices_loaded, duckdb_path, market, monkeypatch
):
    monkeypatch.setattr(calendar, "BACKFILL_BLOCK_SESSIONS", 2)
    windows = []
    original_query = DuckDBBackend.query

    def query(self, name, params=None, tables=None):
        if name == "price_data_window":
            windows.append((params["start_date"], params["end_date"]))
        return original_query(self, name, params, tables)

    monkeypatch.setattr(DuckDBBackend, "query", query)
    result = dg.materialize([technicals_history], resources=prices_loaded, tags=range_run_tags(RANGE_START, DAY))
    assert result.success
    days = calendar.trading_days(RANGE_START, DAY)
    # Three blocks (2 + 2 + 1 sessions), each read with its own warm-up.
    assert [end for _, end in windows] == [days[1], days[3], days[4]]
    assert [start for start, _ in windows] == [
        calendar.shift_trading_days(d, -500) for d in (days[0], days[2], days[4])
    ]
    ours = stored(duckdb_path)
    everything = compute_technicals(market.prices(HISTORY_START, DAY))
    expected = everything[everything["date"] >= RANGE_START].reset_index(drop=True)
    np.testing.assert_allclose(ours[NUMERIC].to_numpy(float), expected[NUMERIC].to_numpy(float), rtol=0, atol=1e-9)
    meta = result.asset_materializations_for_node("technicals_history")[0].metadata
    assert meta["dagster/row_count"].value == 5 * SMALL_UNIVERSE and meta["tickers_computed"].value == SMALL_UNIVERSE


def test_one_partition_equals_the_backfill_and_reruns_replace(prices_loaded, duckdb_path):
    assert dg.materialize([technicals_history], resources=prices_loaded, tags=range_run_tags(RANGE_START, DAY)).success
    backfilled = stored(duckdb_path)
    for _ in range(2):
        assert dg.materialize([technicals_history], resources=prices_loaded, partition_key=str(DAY)).success
    again = stored(duckdb_path)
    assert len(again) == len(backfilled)
    pd.testing.assert_frame_equal(again, backfilled, check_exact=False, atol=1e-9, rtol=0)


class OneBadTicker(SyntheticMarketProvider):
    """The synthetic feed with a NaN close for one ticker on one day, as a real feed might send."""

    def prices(self, start, end):
        prices = super().prices(start, end)
        bad = (prices["ticker"] == self.tickers()[0]) & (prices["date"] == dt.date(2026, 11, 18))
        prices.loc[bad, "close"] = np.nan
        return prices


def test_a_bad_ticker_is_skipped_named_and_warned_while_others_are_computed(resources, duckdb_path):
    bad = {**resources, "market": OneBadTicker(seed=11, universe=SMALL_UNIVERSE)}
    assert dg.materialize([price_data], resources=bad, tags=range_run_tags(HISTORY_START, DAY)).success
    result = dg.materialize([technicals_history], resources=bad, partition_key=str(DAY))
    assert result.success
    bad_ticker = bad["market"].tickers()[0]
    meta = result.asset_materializations_for_node("technicals_history")[0].metadata
    assert meta["tickers_skipped"].value == {bad_ticker: "NaN or non-positive open/high/low/close"}
    assert meta["tickers_computed"].value == SMALL_UNIVERSE - 1
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert set(stored(duckdb_path)["ticker"]) == set(bad["market"].tickers()) - {bad_ticker}


def test_a_day_without_prices_fails_plainly(resources, duckdb_path):
    result = dg.materialize([technicals_history], resources=resources, partition_key=str(DAY), raise_on_error=False)
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.error.to_string()
    assert "price_data has no rows for ['2026-11-20']" in message
    assert stored(duckdb_path).empty
