"""The archiver on both warehouses (a DuckDB file, the BigQuery emulator): idempotence, refusals,
schema drift, atomicity."""

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from rl_assets.archive import (
    ArchiveRefused,
    PricesRefused,
    archive_chain,
    archive_chain_frame,
    replace_live_chain,
    write_prices,
)
from rl_assets.schema import OPTIONS_CHAIN_HISTORY_COLUMNS
from rl_assets_bench.history import table
from rl_assets_tests.conftest import DAY, NEXT_DAY
from rl_assets_tests.history import STATEMENT_ERRORS, run_statement


def history(warehouse) -> pd.DataFrame:
    return table(warehouse, "options_chain_history")


def counts_by_day(warehouse) -> dict:
    rows = warehouse.read_sql("SELECT snapshot_date, COUNT(*) AS n FROM options_chain_history GROUP BY 1")
    return {pd.Timestamp(d).date(): n for d, n in zip(rows["snapshot_date"], rows["n"], strict=True)}


def row_count(warehouse, table_name: str) -> int:
    return int(warehouse.read_sql(f"SELECT COUNT(*) AS n FROM {table_name}")["n"].iloc[0])


def test_archive_copies_every_live_row_with_the_partition_date(warehouse, market):
    chain = market.chain(DAY)
    replace_live_chain(warehouse, chain)
    report = archive_chain(warehouse, DAY, archived_at=pd.Timestamp("2026-11-20 22:00", tz="UTC"))
    archived = history(warehouse)
    assert report.rows == len(chain) == len(archived)
    assert list(archived.columns) == OPTIONS_CHAIN_HISTORY_COLUMNS
    assert set(archived["snapshot_date"].dt.date) == {DAY}
    assert (archived["archived_at"] == pd.Timestamp("2026-11-20 22:00", tz="UTC")).all()
    expected = chain.sort_values("contract_symbol", ignore_index=True)
    pd.testing.assert_series_equal(archived["bid"], expected["bid"], check_names=False)
    pd.testing.assert_series_equal(archived["delta"], expected["delta"], check_names=False)
    assert (archived["contract_symbol"] == expected["contract_symbol"]).all()
    assert (archived["expiration"].dt.date == expected["expiration"]).all()


def test_rearchiving_replaces_the_partition_and_never_duplicates(warehouse, market):
    replace_live_chain(warehouse, market.chain(DAY))
    archive_chain(warehouse, DAY)
    first = history(warehouse).drop(columns="archived_at")
    archive_chain(warehouse, DAY)
    archive_chain(warehouse, DAY)
    again = history(warehouse)
    assert len(again) == len(first)
    assert not again.duplicated(["snapshot_date", "contract_symbol"]).any()
    pd.testing.assert_frame_equal(again.drop(columns="archived_at"), first)


def test_archiving_one_day_leaves_other_days_alone(warehouse, market):
    archive_chain_frame(warehouse, market.chain(DAY), DAY)
    archive_chain_frame(warehouse, market.chain(NEXT_DAY), NEXT_DAY)
    before = counts_by_day(warehouse)
    archive_chain_frame(warehouse, market.chain(DAY), DAY)
    assert counts_by_day(warehouse) == before
    assert set(before) == {DAY, NEXT_DAY}


def test_a_live_table_from_another_trading_date_is_refused_and_nothing_is_written(warehouse, market):
    replace_live_chain(warehouse, market.chain(DAY))
    archive_chain(warehouse, DAY)
    before = history(warehouse)
    with pytest.raises(
        ArchiveRefused, match=r"holds quotes from trading date 2026-11-20 .*not 2026-11-23.*nothing was written"
    ):
        archive_chain(warehouse, NEXT_DAY)
    pd.testing.assert_frame_equal(history(warehouse), before)


def test_quote_time_after_midnight_utc_still_belongs_to_its_new_york_date(warehouse, market):
    """A 16:00 ET close in winter is 21:00 UTC; 23:30 ET is already the next UTC day."""
    chain = market.chain(DAY)
    chain["quote_time"] = pd.Timestamp("2026-11-20 23:30", tz="America/New_York").tz_convert("UTC")
    replace_live_chain(warehouse, chain)
    assert archive_chain(warehouse, DAY).rows == len(chain)


def test_a_live_table_mixing_two_dates_is_refused(warehouse, market):
    chain = market.chain(DAY)
    chain.loc[: len(chain) // 2, "quote_time"] = pd.Timestamp("2026-11-19 21:00", tz="UTC")
    replace_live_chain(warehouse, chain)
    with pytest.raises(ArchiveRefused, match=r"2026-11-19\.\.2026-11-20"):
        archive_chain(warehouse, DAY)
    assert len(history(warehouse)) == 0


def test_an_empty_live_table_is_refused_and_keeps_the_archived_day(warehouse, market):
    replace_live_chain(warehouse, market.chain(DAY))
    archive_chain(warehouse, DAY)
    before = history(warehouse)
    warehouse.execute("truncate_options_chain")
    with pytest.raises(ArchiveRefused, match="is empty"):
        archive_chain(warehouse, DAY)
    pd.testing.assert_frame_equal(history(warehouse), before)


def test_rows_without_quote_time_are_refused(warehouse, market):
    chain = market.chain(DAY)
    chain["quote_time"] = chain["quote_time"].astype(object)
    chain.loc[0, "quote_time"] = None
    replace_live_chain(warehouse, chain)
    with pytest.raises(ArchiveRefused, match="1 rows without quote_time"):
        archive_chain(warehouse, DAY)


def test_a_partition_date_that_is_not_a_trading_day_is_refused(warehouse, market):
    replace_live_chain(warehouse, market.chain(DAY))
    with pytest.raises(ValueError, match="not an NYSE trading day"):
        archive_chain(warehouse, dt.date(2026, 11, 21))


def test_a_new_live_column_is_reported_and_archiving_still_works(warehouse, market):
    replace_live_chain(warehouse, market.chain(DAY))
    run_statement(warehouse, "ALTER TABLE options_chain ADD COLUMN exchange_code STRING")
    run_statement(warehouse, "UPDATE options_chain SET exchange_code = 'OPRA' WHERE TRUE")
    report = archive_chain(warehouse, DAY)
    assert report.extra_columns == ["exchange_code"]
    archived = history(warehouse)
    assert report.rows == len(market.chain(DAY)) == len(archived)
    # Nothing of the source is lost: the column beyond the contract is kept in the source row.
    assert "exchange_code" not in archived.columns
    assert {json.loads(row)["exchange_code"] for row in archived["source_row"]} == {"OPRA"}


def test_a_live_table_missing_a_contract_column_is_refused(warehouse, market):
    replace_live_chain(warehouse, market.chain(DAY))
    run_statement(warehouse, "ALTER TABLE options_chain DROP COLUMN implied_volatility")
    with pytest.raises(ArchiveRefused, match=r"reads column 'implied_volatility', which \w+\.options_chain lacks"):
        archive_chain(warehouse, DAY)
    assert len(history(warehouse)) == 0


def test_a_failure_between_delete_and_insert_leaves_the_previous_partition_intact(warehouse, market):
    """The INSERT fails after the DELETE ran (a volume the pipeline now writes as text that is no
    number: no guard reads volume, the INSERT's cast fails); the transaction must roll the DELETE back."""
    replace_live_chain(warehouse, market.chain(DAY))
    archive_chain(warehouse, DAY)
    before = history(warehouse)
    run_statement(warehouse, "ALTER TABLE options_chain DROP COLUMN volume")
    run_statement(warehouse, "ALTER TABLE options_chain ADD COLUMN volume STRING")
    run_statement(warehouse, "UPDATE options_chain SET volume = 'n/a' WHERE TRUE")
    with pytest.raises(STATEMENT_ERRORS[warehouse.dialect], match="n/a"):
        archive_chain(warehouse, DAY)
    pd.testing.assert_frame_equal(history(warehouse), before)


def test_replacing_the_live_table_is_atomic(warehouse, market):
    replace_live_chain(warehouse, market.chain(DAY))
    broken = market.chain(NEXT_DAY)
    broken.loc[3, "contract_symbol"] = None  # NOT NULL in the live table
    with pytest.raises((*STATEMENT_ERRORS.values(), ValueError)):
        replace_live_chain(warehouse, broken)
    assert row_count(warehouse, "options_chain") == len(market.chain(DAY))


def test_write_prices_replaces_a_range_without_duplicates(warehouse, market):
    start, end = dt.date(2026, 11, 2), DAY
    write_prices(warehouse, market.prices(start, end), start, end)
    write_prices(warehouse, market.prices(DAY, DAY), DAY, DAY)
    rows = warehouse.read_sql("SELECT ticker, date, close FROM price_data ORDER BY ticker, date")
    assert len(rows) == 15 * len(market.tickers)
    assert not rows.duplicated(["ticker", "date"]).any()
    expected = market.prices(start, end)
    assert (rows["close"].to_numpy() == expected["close"].to_numpy()).all()


@pytest.mark.parametrize(
    "corrupt,message",
    [
        (lambda p: p.drop(columns="close"), r"lack columns \['close'\]"),
        (lambda p: pd.concat([p, p.iloc[:1]]), "duplicate \\(ticker, date\\)"),
        (lambda p: p.assign(ticker=[None] + list(p["ticker"][1:])), "empty ticker or date"),
        (lambda p: p.assign(date=dt.date(2026, 10, 1)), "outside 2026-11-16..2026-11-20"),
    ],
)
def test_bad_price_rows_are_refused_and_nothing_is_written(warehouse, market, corrupt, message):
    start = dt.date(2026, 11, 16)
    write_prices(warehouse, market.prices(start, DAY), start, DAY)
    before = row_count(warehouse, "price_data")
    with pytest.raises(ValueError, match=message):
        write_prices(warehouse, corrupt(market.prices(start, DAY)), start, DAY)
    assert row_count(warehouse, "price_data") == before


def test_a_database_file_named_like_the_dataset_is_not_ambiguous(tmp_path, market):
    """DuckDB names the catalog after the file; rl_test.duckdb holds schema rl_test."""
    from rl_assets.warehouse.duckdb_backend import open_duckdb

    with open_duckdb(str(tmp_path / "rl_test.duckdb"), "rl_test") as wh:
        wh.ensure_tables()
        replace_live_chain(wh, market.chain(DAY))
        assert archive_chain(wh, DAY).rows == len(market.chain(DAY))
        assert wh.columns("options_chain_history")


@pytest.mark.parametrize(
    "answer,lost",
    [
        (lambda p: p.iloc[:0], "tickers ASGV, BDZK, BPRZ, CBKO and days 2026-11-19, 2026-11-20"),
        (lambda p: p[p["ticker"] == "ASGV"], "tickers BDZK, BPRZ, CBKO;"),
        (lambda p: p[p["date"] != DAY], "days 2026-11-20;"),
    ],
    ids=["empty", "one_ticker", "one_day_short"],
)
def test_a_short_price_answer_never_deletes_held_bars(warehouse, market, answer, lost):
    """A re-run whose provider answers empty, with one ticker or a day short is refused and keeps
    every bar; allow_fewer_rows=True says the run means it."""
    start = dt.date(2026, 11, 19)
    held = market.prices(start, DAY)
    write_prices(warehouse, held, start, DAY)
    before = warehouse.read_sql("SELECT * FROM price_data ORDER BY ticker, date")
    short = answer(held)
    with pytest.raises(PricesRefused, match=f"lack {len(held) - len(short)} bar\\(s\\) price_data holds \\({lost}"):
        write_prices(warehouse, short, start, DAY)
    pd.testing.assert_frame_equal(warehouse.read_sql("SELECT * FROM price_data ORDER BY ticker, date"), before)
    assert write_prices(warehouse, short, start, DAY, allow_fewer_rows=True) == len(short)
    assert row_count(warehouse, "price_data") == len(short)


def test_more_or_new_bars_are_not_refused(warehouse, market):
    start = dt.date(2026, 11, 19)
    write_prices(warehouse, market.prices(DAY, DAY), start, DAY)  # the range held one day
    write_prices(warehouse, market.prices(start, DAY), start, DAY)
    assert row_count(warehouse, "price_data") == 2 * len(market.tickers)


# ---- Bad quotes (issue 16): non-finite values, option types, duplicated contracts.


def test_non_finite_values_are_stored_as_null_and_counted_per_column(warehouse, market):
    """NaN (planted by SQL: pandas loads a NaN as NULL) and +-inf in price, IV and greek columns
    reach the history as NULL, and the report counts them per column."""
    chain = market.chain(DAY)
    symbols = sorted(chain["contract_symbol"])[:3]
    chain.loc[chain["contract_symbol"] == symbols[0], "ask"] = np.inf
    chain.loc[chain["contract_symbol"] == symbols[1], "underlying_price"] = -np.inf
    replace_live_chain(warehouse, chain)
    for column in ("bid", "implied_volatility", "delta"):
        run_statement(
            warehouse,
            f"UPDATE options_chain SET {column} = CAST('NaN' AS FLOAT64) "
            f"WHERE contract_symbol IN ('{symbols[0]}', '{symbols[2]}')",
        )
    report = archive_chain(warehouse, DAY)
    assert report.non_finite_values_nulled == {
        "bid": 2, "ask": 1, "implied_volatility": 2, "delta": 2, "underlying_price": 1,
    }  # fmt: skip
    archived = history(warehouse).set_index("contract_symbol")
    assert len(archived) == len(chain)
    assert archived.loc[symbols[0], ["bid", "ask", "implied_volatility", "delta"]].isna().all()
    assert archived.loc[symbols[1], ["underlying_price"]].isna().all()
    assert archived.loc[symbols[1], ["bid", "ask", "delta"]].notna().all()
    counted = warehouse.read_sql(
        "SELECT COUNTIF(IS_NAN(bid) OR IS_INF(ask) OR IS_NAN(delta) OR IS_INF(underlying_price)) AS n "
        "FROM options_chain_history"
    )
    assert int(counted["n"].iloc[0]) == 0


def test_a_clean_chain_reports_no_non_finite_values(warehouse, market):
    replace_live_chain(warehouse, market.chain(DAY))
    assert archive_chain(warehouse, DAY).non_finite_values_nulled == {}


def test_every_float_column_of_the_contract_is_counted_for_non_finite_values():
    from sqlglot import exp

    from rl_assets.archive import FLOAT_COLUMNS
    from rl_assets.warehouse import sql

    floats = [c for c, kind in sql.column_types("create_options_chain").items() if kind == "FLOAT64"]
    assert FLOAT_COLUMNS == floats
    aliases = {alias.alias for alias in sql.parse_statement("options_chain_problem_details").find_all(exp.Alias)}
    counted = {c.removeprefix("non_finite_") for c in aliases}
    assert set(floats) <= counted
    # The screen that decides whether the details run sums every float column.
    screen = sql.parse_statement("options_chain_problems")
    summed = next(a for a in screen.find_all(exp.Alias) if a.alias == "float_sum")
    assert {column.name for column in summed.find_all(exp.Column)} == set(floats)


def test_an_option_type_other_than_call_or_put_is_refused_with_counts_and_examples(warehouse, market):
    replace_live_chain(warehouse, market.chain(DAY))
    archive_chain(warehouse, DAY)
    before = history(warehouse)
    # The existing pipeline's live table may lack the NOT NULL constraint.
    run_statement(warehouse, "ALTER TABLE options_chain ALTER COLUMN option_type DROP NOT NULL")
    run_statement(warehouse, "UPDATE options_chain SET option_type = 'C' WHERE option_type = 'call'")
    run_statement(warehouse, "UPDATE options_chain SET option_type = 'P' WHERE option_type = 'put'")
    run_statement(
        warehouse,
        "UPDATE options_chain SET option_type = NULL "
        "WHERE contract_symbol = (SELECT MIN(contract_symbol) FROM options_chain)",
    )
    other = len(market.chain(DAY)) - 1  # every row but the NULL one is 'C' or 'P'
    with pytest.raises(
        ArchiveRefused,
        match=rf"option_type must be 'call' or 'put'; found {other} other value\(s\) \(e\.g\. 'C', 'P'\) and 1 NULL.*"
        r"nothing was written for 2026-11-20",
    ):
        archive_chain(warehouse, DAY)
    pd.testing.assert_frame_equal(history(warehouse), before)


@pytest.mark.parametrize("value", ["CALL", "Put", "c"])
def test_a_single_unknown_option_type_refuses_the_whole_chain(warehouse, market, value):
    chain = market.chain(DAY)
    chain.loc[5, "option_type"] = value
    with pytest.raises(ArchiveRefused, match=rf"found 1 other value\(s\) \(e\.g\. '{value}'\)"):
        archive_chain_frame(warehouse, chain, DAY)
    assert len(history(warehouse)) == 0


def test_a_duplicated_contract_symbol_is_refused_and_nothing_is_written(warehouse, market):
    replace_live_chain(warehouse, market.chain(DAY))
    archive_chain(warehouse, DAY)
    before = history(warehouse)
    chain = market.chain(DAY)
    doubled = sorted(chain["contract_symbol"])[:2]
    replace_live_chain(warehouse, pd.concat([chain, chain[chain["contract_symbol"].isin(doubled)]], ignore_index=True))
    with pytest.raises(
        ArchiveRefused,
        match=rf"2 duplicate rows of 2 contract_symbol\(s\) \(e\.g\. '{doubled[0]}'\)"
        r".*nothing was written for 2026-11-20",
    ):
        archive_chain(warehouse, DAY)
    pd.testing.assert_frame_equal(history(warehouse), before)


def test_a_duplicated_contract_in_a_provider_chain_is_refused(warehouse, market):
    chain = market.chain(DAY)
    with pytest.raises(ArchiveRefused, match=r"1 duplicate rows of 1 contract_symbol"):
        archive_chain_frame(warehouse, pd.concat([chain, chain.iloc[[7]]], ignore_index=True), DAY)
    assert len(history(warehouse)) == 0


def test_a_non_finite_strike_is_refused(warehouse, market):
    chain = market.chain(DAY)
    chain.loc[3, "strike"] = np.inf
    symbol = chain.loc[3, "contract_symbol"]
    with pytest.raises(ArchiveRefused, match=rf"1 rows with a NaN or infinite strike \(e\.g\. '{symbol}'\)"):
        archive_chain_frame(warehouse, chain, DAY)
    assert len(history(warehouse)) == 0


def test_a_source_column_that_changes_type_between_days_is_reported(warehouse, market):
    """The pipeline starts writing volume as text: the next day archives (the value is read as a
    number, and kept as the source typed it in source_row) and the change is reported."""
    replace_live_chain(warehouse, market.chain(DAY))
    first = archive_chain(warehouse, DAY)
    assert first.source_type_changes == {}
    replace_live_chain(warehouse, market.chain(NEXT_DAY))
    before = warehouse.columns("options_chain")["volume"]
    run_statement(warehouse, "ALTER TABLE options_chain ADD COLUMN volume_text STRING")
    run_statement(warehouse, "UPDATE options_chain SET volume_text = CAST(volume AS STRING) WHERE TRUE")
    run_statement(warehouse, "ALTER TABLE options_chain DROP COLUMN volume")
    run_statement(warehouse, "ALTER TABLE options_chain RENAME COLUMN volume_text TO volume")
    after = warehouse.columns("options_chain")["volume"]
    report = archive_chain(warehouse, NEXT_DAY)
    assert report.source_type_changes == {"volume": f"{before} -> {after}"}
    archived = history(warehouse)
    second = archived[archived["snapshot_date"].dt.date == NEXT_DAY]
    expected = market.chain(NEXT_DAY).set_index("contract_symbol")["volume"]
    assert (second.set_index("contract_symbol")["volume"] == expected).all()
    assert {type(json.loads(row)["volume"]) for row in second["source_row"]} == {str}
    # The first day's record is kept: re-archiving it compares with nothing earlier.
    sources = warehouse.read_sql("SELECT snapshot_date, source_columns FROM options_chain_sources ORDER BY 1")
    assert [json.loads(c)["volume"] for c in sources["source_columns"]] == [before, after]


def test_a_history_table_from_before_the_provenance_columns_gains_them(warehouse, market):
    """A warehouse whose options_chain_history predates source_row/iv_source/greeks_source: the next
    session adds them (nullable), the old rows are kept, and archiving works."""
    replace_live_chain(warehouse, market.chain(DAY))
    archive_chain(warehouse, DAY)
    for column in ("source_row", "iv_source", "greeks_source"):
        run_statement(warehouse, f"ALTER TABLE options_chain_history DROP COLUMN {column}")
    kept = len(history(warehouse))
    warehouse.ensure_tables()
    assert list(warehouse.columns("options_chain_history")) == OPTIONS_CHAIN_HISTORY_COLUMNS
    assert len(history(warehouse)) == kept
    replace_live_chain(warehouse, market.chain(NEXT_DAY))
    archive_chain(warehouse, NEXT_DAY)
    assert set(history(warehouse)["iv_source"].dropna()) == {"vendor"}
