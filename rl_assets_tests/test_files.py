"""History from files (rl_assets/files.py): a vendor's end-of-day files archived session by session.

The files are the real VXX chain (rl_assets_tests/data/vxx_options_2016-12.csv.gz, HistoricalOptionData
layout, MIT, see data/README.md) as the vendor wrote it, and folders the tests write from its rows the
way real collections are messy: one file a day, a byte-order mark and padded headers, gzip and Parquet,
a holiday file that is a stale copy of the session before, a file written twice over, one contract
with two different quotes. The Cboe SPX/SPXW file is built from Cboe's documented layout (the sample in
data/vendor_layouts/, which is itself built from the documentation): no real SPX sample is public.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from rl_assets import calendar
from rl_assets.archive import sessions_without_data
from rl_assets.defs.code_location import build_definitions
from rl_assets.defs.partitions import range_run_tags
from rl_assets.files import date_in_name, import_chain_files, list_files
from rl_assets.settings import Settings
from rl_assets.warehouse.duckdb_backend import open_duckdb

DATA = Path(__file__).parent / "data"
VXX = DATA / "vxx_options_2016-12.csv.gz"
DECEMBER = calendar.trading_days("2016-12-01", "2016-12-30")
DUCKDB_ONLY = pytest.mark.parametrize("warehouse", ["duckdb"], indirect=True)


def vxx_rows() -> pd.DataFrame:
    """The file's rows as text, exactly as written (the padded ' exchange' header included)."""
    return pd.read_csv(VXX, dtype=str, keep_default_na=False)


def quote_dates(rows: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(rows["quotedate"], format="%m/%d/%Y").dt.date


def history(warehouse) -> pd.DataFrame:
    frame = warehouse.read_sql("SELECT * FROM options_chain_history ORDER BY snapshot_date, contract_symbol")
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    frame["expiration"] = pd.to_datetime(frame["expiration"]).dt.date
    return frame


def write_day(rows: pd.DataFrame, path: Path, bom: bool = False) -> Path:
    if path.name.endswith(".parquet"):
        rows.to_parquet(path, index=False)
    else:
        rows.to_csv(path, index=False, encoding="utf-8-sig" if bom else "utf-8")  # .gz compresses by name
    return path


@DUCKDB_ONLY
def test_the_real_vxx_month_is_archived_session_by_session(warehouse):
    rows = vxx_rows()
    report = import_chain_files(warehouse, list_files(str(VXX)), "historicaloptiondata", DECEMBER)

    got = history(warehouse)
    # Every session the file holds, with the file's rows per quote date; 2016-12-08, missing from the
    # vendor's file, is named and recorded, not invented.
    expected_rows = quote_dates(rows).value_counts().sort_index()
    assert got.groupby("snapshot_date").size().to_dict() == expected_rows.to_dict()
    assert report.rows == len(rows) and len(report.archived) == 20
    assert {r.source_table for r in report.archived} == {str(VXX)}
    assert report.sessions_without_data == [dt.date(2016, 12, 8)]
    assert sessions_without_data(warehouse, DECEMBER[0], DECEMBER[-1]) == {dt.date(2016, 12, 8)}
    assert report.problems() == []
    # Monthlies listed on the Saturday after the third Friday are read as that Friday, the session the
    # vendor's own OCC symbols name; counted.
    listed = pd.to_datetime(rows["expiration"], format="%m/%d/%Y")
    assert report.saturday_expirations == int((listed.dt.dayofweek == 5).sum()) > 0
    by_symbol = pd.to_datetime(got["contract_symbol"].str[-15:-9], format="%y%m%d").dt.date
    assert (got["expiration"] == by_symbol).all()
    assert not (pd.to_datetime(got["expiration"]).dt.dayofweek == 5).any()
    # The padded header is matched; the whole source row is kept.
    assert got["source_row"].str.contains('"exchange":"').all()


@DUCKDB_ONLY
def test_a_messy_folder_of_daily_files(warehouse, tmp_path):
    rows = vxx_rows()
    dates = quote_dates(rows)
    day = {d: rows[dates == d] for d in sorted(set(dates))}
    d1, d2, d5, d6, d7, d23 = (dt.date(2016, 12, n) for n in (1, 2, 5, 6, 7, 23))
    write_day(day[d1], tmp_path / "VXX_2016-12-01.csv", bom=True)  # a byte-order mark, the padded header
    write_day(day[d2], tmp_path / "VXX_20161202.csv.gz")
    write_day(day[d5], tmp_path / "VXX_2016_12_05.parquet")
    # Written twice over: the exact copies are dropped and counted.
    write_day(pd.concat([day[d6], day[d6].head(40)]), tmp_path / "VXX_2016-12-06.csv")
    # One contract quoted twice with different bids: that session is refused, naming it.
    conflict = day[d7].head(1).assign(bid="0.01")
    write_day(pd.concat([day[d7], conflict]), tmp_path / "VXX_2016-12-07.csv")
    # The scraper's holiday file: a stale copy of the 23rd, named for the 26th (Christmas observed).
    write_day(day[d23], tmp_path / "VXX_2016-12-26.csv")
    # An undated dump holding the 23rd again and rows stamped on a Saturday.
    saturday = day[d23].head(5).assign(quotedate="12/24/2016")
    write_day(pd.concat([day[d23], saturday]), tmp_path / "dump.csv")
    write_day(day[d23], tmp_path / "VXX_2016-12-23.csv")
    (tmp_path / "notes.txt").write_text("not a chain")

    files = list_files(str(tmp_path))
    assert [Path(f).name for f in files] == [
        "VXX_2016-12-01.csv", "VXX_2016-12-06.csv", "VXX_2016-12-07.csv", "VXX_2016-12-23.csv",
        "VXX_2016-12-26.csv", "VXX_20161202.csv.gz", "VXX_2016_12_05.parquet", "dump.csv",
    ]  # fmt: skip
    days = calendar.trading_days("2016-12-01", "2016-12-27")
    report = import_chain_files(warehouse, files, "historicaloptiondata", days)

    got = history(warehouse)
    archived = got.groupby("snapshot_date").size().to_dict()
    assert archived == {d: len(day[d]) for d in (d1, d2, d5, d6, d23)}
    assert report.duplicate_rows_dropped == {d6: 40}
    assert list(report.refused) == [d7] and day[d7]["optionroot"].iloc[0] in report.refused[d7]
    assert report.problems() and str(d7) in report.problems()[0]
    assert report.not_sessions == {
        str(tmp_path / "VXX_2016-12-26.csv"): [dt.date(2016, 12, 26)],
        str(tmp_path / "dump.csv"): [dt.date(2016, 12, 24)],
    }
    assert report.repeated_sessions == {d23: [str(tmp_path / "dump.csv")]}
    assert report.archived_from[d23] == str(tmp_path / "VXX_2016-12-23.csv")
    # The sessions no file holds are named (the refused one is not "without data": it needs fixing).
    assert report.sessions_without_data == [d for d in days if d not in archived and d != d7]
    # The holiday file was never read.
    assert str(tmp_path / "VXX_2016-12-26.csv") not in report.files_read

    # A run over one session reads only the files that may hold it (and the undated dump).
    again = import_chain_files(warehouse, files, "historicaloptiondata", [d2])
    assert [Path(f).name for f in again.files_read] == ["VXX_20161202.csv.gz", "dump.csv"]
    assert history(warehouse).groupby("snapshot_date").size().to_dict() == archived  # replaced, not duplicated


def test_files_of_several_sessions_on_bigquery_too(warehouse, tmp_path):
    """Both backends: one file holding two sessions (the first 200 rows of each), with a byte-order
    mark and the padded header, is split by quote date."""
    rows = vxx_rows()
    rows = rows.groupby("quotedate", sort=False).head(200)
    dates = quote_dates(rows)
    days = [dt.date(2016, 12, 1), dt.date(2016, 12, 2)]
    write_day(rows[dates.isin(days)], tmp_path / "vxx_first_days.csv", bom=True)

    report = import_chain_files(warehouse, list_files(str(tmp_path)), "historicaloptiondata", days)

    got = history(warehouse)
    assert got.groupby("snapshot_date").size().to_dict() == quote_dates(
        rows[dates.isin(days)]
    ).value_counts().to_dict()
    assert report.problems() == [] and report.sessions_without_data == []
    assert set(got["contract_symbol"]) == set(rows.loc[dates.isin(days), "optionroot"])


@DUCKDB_ONLY
def test_index_roots_are_kept_apart(warehouse, tmp_path):
    """SPX (monthly, AM-settled) and SPXW (PM-settled) list the same strikes on the same Friday: two
    contracts, not a duplicate. Cboe's Option EOD Summary with Calcs layout (built from its documentation)."""
    sample = pd.read_csv(DATA / "vendor_layouts" / "cboe_eod_calcs.csv", dtype=str, keep_default_na=False)
    spy = sample[sample["underlying_symbol"] == "SPY"]
    roots = [spy.assign(underlying_symbol="^SPX", root=root) for root in ("SPX", "SPXW")]
    write_day(pd.concat(roots), tmp_path / "UnderlyingOptionsEODCalcs_2024-06-12.csv")
    session = dt.date(2024, 6, 12)

    report = import_chain_files(warehouse, list_files(str(tmp_path)), "cboe_eod_calcs", [session])

    got = history(warehouse)
    assert report.problems() == [] and len(got) == 2 * len(spy)
    assert set(got["underlying"]) == {"^SPX"}
    assert {s[: len(s) - 15] for s in got["contract_symbol"]} == {"SPX", "SPXW"}
    assert got["contract_symbol"].is_unique


def test_file_names_and_settings_name_the_problem(tmp_path):
    assert date_in_name("UnderlyingOptionsEOD_2016-12-27.csv") == dt.date(2016, 12, 27)
    assert date_in_name("bars_20161227.parquet") == dt.date(2016, 12, 27)
    assert date_in_name("vxx_options_2016-12.csv.gz") is None  # a month, not a day
    assert date_in_name("from_2016-12-01_to_2016-12-30.csv") is None  # two dates: not one session's file

    (tmp_path / "empty").mkdir()
    (tmp_path / "chain.xlsx").write_text("")
    files = {"RL_ASSETS_MARKET": "files", "RL_ASSETS_CHAIN_FORMAT": "historicaloptiondata"}
    for variables, message in [
        (files, "RL_ASSETS_MARKET=files needs RL_ASSETS_CHAIN_FILES"),
        ({**files, "RL_ASSETS_CHAIN_FILES": str(tmp_path / "nowhere")}, "no such file or folder"),
        ({**files, "RL_ASSETS_CHAIN_FILES": str(tmp_path / "empty")}, "no .csv, .csv.gz, .parquet files there"),
        ({**files, "RL_ASSETS_CHAIN_FILES": str(tmp_path / "chain.xlsx")}, "not a CSV, CSV.gz or Parquet file"),
        ({**files, "RL_ASSETS_CHAIN_FILES": str(VXX), "RL_ASSETS_PRICE_FILES": str(tmp_path / "empty")}, "RL_ASSETS_PRICE_FILES"),
        ({"RL_ASSETS_CHAIN_FILES": str(VXX)}, "history files are read in files mode only"),
        ({**files, "RL_ASSETS_CHAIN_FILES": str(VXX), "RL_ASSETS_LIVE_TABLE": "vendor.chain"}, "sidecar mode only"),
    ]:
        start = {"RL_ASSETS_START_DATE": "2016-12-01"} if variables.get("RL_ASSETS_MARKET") == "files" else {}
        with pytest.raises(ValueError) as error:
            Settings.from_env({**start, **variables})
        assert message in str(error.value), (variables, str(error.value))


@DUCKDB_ONLY
def test_a_file_in_another_layout_is_named(warehouse, tmp_path):
    write_day(vxx_rows().head(10), tmp_path / "vxx_2016-12-01.csv")
    report = import_chain_files(warehouse, list_files(str(tmp_path)), "cboe_eod_summary", [dt.date(2016, 12, 1)])
    assert list(report.unreadable_files) == [str(tmp_path / "vxx_2016-12-01.csv")]
    assert "underlying_symbol" in report.unreadable_files[str(tmp_path / "vxx_2016-12-01.csv")]
    assert report.archived == [] and report.problems()


def files_mode_defs(tmp_path, **settings) -> dg.Definitions:
    return build_definitions(
        Settings(
            market="files",
            chain_format="historicaloptiondata",
            start_date=dt.date(2016, 12, 1),
            duckdb_path=str(tmp_path / "files.duckdb"),
            model_store=str(tmp_path / "models"),
            **settings,
        )
    )


def test_files_mode_in_the_asset_graph(tmp_path):
    """Files mode shows the history files as the chain's external asset; without price files price_data
    is built from the archive (so it runs after it), with them it reads them; no evening schedule."""
    from_chain = files_mode_defs(tmp_path, chain_files=str(VXX))
    graph = from_chain.resolve_asset_graph()
    assert not graph.get(dg.AssetKey("options_chain")).is_materializable
    assert dg.AssetKey("options_chain_history") in graph.get(dg.AssetKey("price_data")).parent_keys
    assert [s.name for s in from_chain.schedules] == []
    with_prices = files_mode_defs(tmp_path, chain_files=str(VXX), price_files=str(VXX.parent / "vendor_layouts"))
    assert with_prices.resolve_asset_graph().get(dg.AssetKey("price_data")).parent_keys == set()


def test_price_files_are_read_through_their_format(tmp_path):
    """Daily bars in a vendor's layout (symbol_adj_close): a holiday row left out, exact duplicates
    dropped, bars not close-only, technicals computed from them. The bars are built here around the VXX
    file's closes (no real VXX bars are shipped)."""
    rows = vxx_rows()
    closes = rows.assign(day=quote_dates(rows)).groupby("day")["underlying_last"].first().astype(float)
    bars = pd.DataFrame(
        {
            "symbol": "VXX",
            "date": [str(d) for d in closes.index],
            "open": closes.to_numpy() * 1.01,
            "high": closes.to_numpy() * 1.03,
            "low": closes.to_numpy() * 0.97,
            "close": closes.to_numpy(),
            "adj_close": closes.to_numpy() * 0.5,
            "volume": 1_000_000,
        }
    )
    holiday = bars.tail(1).assign(date="2016-12-26")
    prices = tmp_path / "bars"
    prices.mkdir()
    pd.concat([bars, bars.head(3), holiday]).to_csv(prices / "vxx_bars.csv", index=False)
    defs = files_mode_defs(
        tmp_path, chain_files=str(VXX), price_files=str(prices), price_format="symbol_adj_close"
    )
    days = calendar.trading_days("2016-12-01", "2016-12-30")
    result = dg.materialize(
        [defs.get_assets_def(n) for n in ("options_chain_history", "price_data", "technicals_history")],
        resources=defs.resources, instance=dg.DagsterInstance.ephemeral(), tags=range_run_tags(days[0], days[-1]),
    )  # fmt: skip
    assert result.success
    meta = result.asset_materializations_for_node("price_data")[0].metadata
    assert meta["source"].value == "price files" and meta["rows_not_on_a_session"].value == 1
    with open_duckdb(str(tmp_path / "files.duckdb"), "rl_assets") as wh:
        held = wh.read_sql("SELECT * FROM price_data ORDER BY date")
        technicals = wh.read_sql("SELECT * FROM technicals_history ORDER BY date")
    assert len(held) == len(bars) and not held["close_only"].any()
    assert np.allclose(held["close"], bars["close"]) and np.allclose(held["high"], bars["high"])  # raw close, not adj
    assert technicals["atr_14"].notna().sum() == len(bars) - 14  # TA-Lib's ATR: the first value at row 15
