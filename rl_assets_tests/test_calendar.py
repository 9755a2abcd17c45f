import datetime as dt

import exchange_calendars as xc
import pandas as pd
import pytest

from rl_assets import calendar
from rl_assets.defs.partitions import trading_day_partitions
from rl_assets.settings import Settings


def test_partitions_are_nyse_sessions_only():
    partitions = trading_day_partitions(dt.date(2025, 1, 2))
    keys = partitions.get_partition_keys(current_time=dt.datetime(2025, 12, 31, 23, 0))
    oracle = xc.get_calendar("XNYS").sessions_in_range("2025-01-02", "2025-12-31")
    assert keys == [d.strftime("%Y-%m-%d") for d in oracle]
    # Holidays the library knows, including one-off closures, are not partitions.
    for holiday in ["2025-01-01", "2025-01-09", "2025-04-18", "2025-07-04", "2025-11-27", "2025-12-25"]:
        assert holiday not in keys
    assert "2025-11-28" in keys  # an early close is still a session


def test_partition_start_must_be_a_trading_day():
    with pytest.raises(ValueError, match="not an NYSE trading day"):
        trading_day_partitions(dt.date(2025, 1, 1))


def test_session_close_and_trading_date_of():
    assert calendar.session_close_utc(dt.date(2025, 11, 28)) == pd.Timestamp("2025-11-28 18:00", tz="UTC")  # 13:00 ET
    assert calendar.session_close_utc(dt.date(2025, 7, 1)) == pd.Timestamp("2025-07-01 20:00", tz="UTC")  # EDT
    assert calendar.trading_date_of(pd.Timestamp("2025-07-02 03:30", tz="UTC")) == dt.date(2025, 7, 1)


def test_latest_closed_session_never_returns_an_open_session():
    before_close = pd.Timestamp("2026-11-24 15:00", tz="America/New_York")
    after_close = pd.Timestamp("2026-11-24 16:30", tz="America/New_York")
    saturday = pd.Timestamp("2026-11-28 12:00", tz="America/New_York")
    assert calendar.latest_closed_session(before_close) == dt.date(2026, 11, 23)
    assert calendar.latest_closed_session(after_close) == dt.date(2026, 11, 24)
    assert calendar.latest_closed_session(saturday) == dt.date(2026, 11, 27)


def test_bad_dates_are_named():
    with pytest.raises(ValueError, match="not an ISO date"):
        calendar.as_date("20-11-2026")
    with pytest.raises(ValueError, match="Saturday"):
        calendar.require_trading_day("2026-11-21")
    with pytest.raises(ValueError, match="empty date range"):
        calendar.trading_days("2026-11-20", "2026-11-01")


def test_settings_defaults_and_errors():
    assert Settings.from_env({}) == Settings()
    s = Settings.from_env({"RL_ASSETS_SEED": "3", "RL_ASSETS_SIGNAL": "0.5", "RL_ASSETS_START_DATE": "2025-06-02"})
    assert (s.seed, s.signal, s.start_date) == (3, 0.5, dt.date(2025, 6, 2))
    for name, value in [
        ("RL_ASSETS_SEED", "x"),
        ("RL_ASSETS_WAREHOUSE", "postgres"),
        ("RL_ASSETS_START_DATE", "June"),
        ("RL_ASSETS_DUCKDB_MEMORY_LIMIT", "lots"),
        ("RL_ASSETS_DUCKDB_MEMORY_LIMIT", "2"),
    ]:
        with pytest.raises(ValueError, match=name):
            Settings.from_env({name: value})
    assert Settings.from_env({"RL_ASSETS_DUCKDB_MEMORY_LIMIT": " 1500MiB "}).duckdb_memory_limit == "1500MiB"


def test_the_duckdb_memory_limit_reaches_the_connection(tmp_path):
    from rl_assets.defs.resources import Warehouse

    with Warehouse(duckdb_path=str(tmp_path / "w.duckdb"), duckdb_memory_limit="300MB").session() as wh:
        limit = wh.connection.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit == "286.1 MiB"  # DuckDB reports 300 MB (10^6 bytes) in MiB
    with pytest.raises(ValueError, match="'lots' is not a size"):
        with Warehouse(duckdb_path=str(tmp_path / "w.duckdb"), duckdb_memory_limit="lots").session():
            pass


def test_blocks_split_days_in_order_and_keep_every_day_once():
    days = calendar.trading_days("2025-03-03", "2025-03-14")  # 10 sessions
    assert calendar.blocks(days, 4) == [days[0:4], days[4:8], days[8:10]]
    assert calendar.blocks(days, 10) == [days]
    assert calendar.blocks(days, None) == [days]
    assert calendar.blocks([], 3) == [] and calendar.blocks([], None) == []
    with pytest.raises(ValueError, match="block size must be at least 1, got 0"):
        calendar.blocks(days, 0)
