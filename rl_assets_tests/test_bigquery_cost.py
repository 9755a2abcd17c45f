"""The BigQuery cost estimate (rl_assets_bench.bigquery_cost): BigQuery's size rules, the columns a
statement reads, the statements a real evening run executes, and the billing arithmetic."""

import collections
import datetime as dt
import json

import duckdb
import pytest

from rl_assets import calendar
from rl_assets.market.synthetic import SyntheticMarket
from rl_assets.schema import (
    OPTIONS_CHAIN_COLUMNS,
    OPTIONS_CHAIN_HISTORY_COLUMNS,
    PROVENANCE_COLUMNS,
    TECHNICALS_COLUMNS,
)
from rl_assets.warehouse import sql
from rl_assets_bench import bigquery_cost as cost

DAY = dt.date(2026, 11, 20)
TICKERS = 4


def test_logical_row_bytes_follow_bigquerys_data_type_sizes(tmp_path):
    connection = duckdb.connect(str(tmp_path / "sizes.duckdb"))
    connection.execute("CREATE TABLE t (s VARCHAR, n BIGINT, f DOUBLE, d DATE, b BOOLEAN, ts TIMESTAMP)")
    connection.execute(
        "INSERT INTO t VALUES "
        "('abc', 1, NULL, DATE '2025-03-03', true, TIMESTAMP '2025-03-03 21:00:00'), "
        "('é', NULL, 2.0, DATE '2025-03-03', NULL, TIMESTAMP '2025-03-03 21:00:00'), "
        "(NULL, 3, 3.0, DATE '2025-03-04', false, NULL)"
    )
    types = {"s": "STRING", "n": "INT64", "f": "FLOAT64", "d": "DATE", "b": "BOOL", "ts": "TIMESTAMP"}
    size = cost.measure_table(connection, "t", types, "d")
    # By hand: STRING 2 + UTF-8 bytes ('é' is 2 bytes), 8 for INT64/FLOAT64/DATE/TIMESTAMP, 1 for
    # BOOL, NULL 0.
    by_hand = {"s": (5 + 4 + 0) / 3, "n": 16 / 3, "f": 16 / 3, "d": 24 / 3, "b": 2 / 3, "ts": 16 / 3}
    assert size.column_bytes == pytest.approx(by_hand)
    assert size.row_bytes == pytest.approx((9 + 16 + 16 + 24 + 2 + 16) / 3)
    assert size.null_share["s"] == pytest.approx(1 / 3) and size.null_share["d"] == 0
    assert size.rows_per_day == pytest.approx(1.5)  # 3 rows over 2 dates


def test_referenced_columns_are_the_columns_a_statement_reads():
    chain_columns = set(OPTIONS_CHAIN_HISTORY_COLUMNS)
    state = cost.referenced_columns("insert_rl_state")
    # insert_rl_state.sql reads every archived column but the last trade, the archive time and the
    # provenance (the source row, where the IV and greeks came from).
    assert state["options_chain_history"] == chain_columns - {"last", "archived_at", *PROVENANCE_COLUMNS}
    assert state["technicals_history"] == set(TECHNICALS_COLUMNS)
    dataset = cost.referenced_columns("insert_rl_dataset")
    assert dataset["options_chain_history"] == {"snapshot_date", "contract_symbol", "bid"}
    assert dataset["price_data"] == {"ticker", "date", "close"}
    assert cost.referenced_columns("price_data_universe") == {"price_data": {"ticker", "date"}}
    assert cost.referenced_columns("options_chain_history_row_counts") == {"options_chain_history": {"snapshot_date"}}
    resolve = cost.referenced_columns("resolve_paper_trades")  # an UPDATE ... FROM
    assert resolve["rl_dataset"] == {
        "snapshot_date", "contract_symbol", "exit_date", "exit_price", "reward", "hit_50", "exit_reason",
    }  # fmt: skip
    assert resolve["paper_trades"] == {"trade_date", "contract_symbol", "resolved_at"}
    assert cost.statement_kind("delete_rl_state_range") == "DELETE_PARTITIONS"
    assert cost.statement_kind("resolve_paper_trades") == "UPDATE"
    assert cost.statement_kind("insert_rl_state") == "INSERT"


# ---- A real evening in sidecar mode, recorded
@pytest.fixture(scope="module")
def evening(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evening")
    runs = cost.record_evening(str(folder), DAY, TICKERS)
    return {"runs": runs, "db_path": str(folder / "evening.duckdb")}


def _run_statements(recorded) -> list:
    return [r for r in recorded if not r.statement.startswith("create_")]  # DDL: ensure_tables


def test_the_declared_statements_are_what_a_real_evening_executes(evening):
    declared = cost.evening_executions() + cost.sensor_executions()
    for job in ("daily_job", "labels_job", "live_chain_sensor"):
        ran = collections.Counter(r.statement for r in _run_statements(evening["runs"][job]))
        assert ran == collections.Counter(e.statement for e in declared if e.job == job), job


def test_the_declared_days_are_what_the_evenings_parameters_select(evening):
    with duckdb.connect(evening["db_path"], read_only=True) as connection:
        span = connection.execute("SELECT min(trade_date), max(trade_date) FROM rl_assets.paper_trades").fetchone()
    paper_trading_days = len(calendar.trading_days(*span))
    partitioned = {table for table in cost.table_schemas() if cost.is_partitioned(table)}

    def declared_days(execution):
        symbols = {cost.HISTORY: None, cost.PAPER_TRADING_SPAN: paper_trading_days}
        return sorted((t, symbols.get(d, d)) for t, d in execution.days.items() if t in partitioned)

    for job in ("daily_job", "labels_job", "live_chain_sensor"):
        declared, ran = collections.defaultdict(list), collections.defaultdict(list)
        for execution in cost.evening_executions() + cost.sensor_executions():
            if execution.job == job:
                declared[execution.statement].append(declared_days(execution))
        for recorded in _run_statements(evening["runs"][job]):
            if cost.statement_kind(recorded.statement).startswith("DELETE"):
                dates = sorted(calendar.as_date(value) for value in recorded.params.values())
                days = {sql.target_table(recorded.statement): len(calendar.trading_days(dates[0], dates[-1]))}
            else:
                days = cost.partition_days_read(recorded.statement, recorded.params)
            ran[recorded.statement].append(sorted((t, d) for t, d in days.items() if t in partitioned))
        for statement in ran:
            assert sorted(ran[statement]) == sorted(declared[statement]), (job, statement)


def test_every_declared_execution_names_the_tables_its_statement_reads():
    for execution in cost.evening_executions() + cost.sensor_executions() + cost.training_executions():
        if cost.statement_kind(execution.statement).startswith("DELETE"):
            assert set(execution.days) == {sql.target_table(execution.statement)}, execution.statement
        else:
            assert set(execution.days) == set(cost.referenced_columns(execution.statement)), execution.statement


def test_the_sensor_interval_is_the_sensors():
    from rl_assets.defs.code_location import build_definitions
    from rl_assets.settings import Settings

    live_chain_sensor = build_definitions(Settings(market="warehouse")).get_sensor_def("live_chain_sensor")
    assert cost.SENSOR_INTERVAL_SECONDS == live_chain_sensor.minimum_interval_seconds


def test_the_estimate_of_a_real_warehouse(evening):
    result = cost.estimate(evening["db_path"])
    json.dumps(result)  # JSON-serialisable as it is
    market = SyntheticMarket(seed=7, tickers=TICKERS)
    archived = calendar.trading_days(calendar.shift_trading_days(DAY, -3), DAY)
    chains = [market.chain(day) for day in archived]
    contracts = sum(len(chain) for chain in chains) / len(chains)
    history = result["tables"]["options_chain_history"]
    assert history["rows_per_day"] == pytest.approx(contracts, abs=0.1)
    assert result["tables"]["price_data"]["rows_per_day"] == TICKERS
    # By hand from the chains themselves: 2 bytes + UTF-8 length per string, 8 per other value,
    # nothing for a NULL, plus the archive's snapshot_date, archived_at and provenance.
    strings = {"underlying", "contract_symbol", "option_type"}
    total = 0
    for chain in chains:
        for column in OPTIONS_CHAIN_COLUMNS:
            values = chain[column].dropna()
            total += sum(2 + len(v.encode()) for v in values) if column in strings else 8 * len(values)
        total += 16 * len(chain)
        # The provenance: 'vendor' for each row with an IV, and for each with all five greeks (the
        # synthetic chain is in the contract's layout: no source row).
        vendor = 2 + len("vendor")
        total += vendor * int(chain["implied_volatility"].notna().sum())
        total += vendor * int(chain[["delta", "gamma", "theta", "vega", "rho"]].notna().all(axis=1).sum())
    assert history["bytes_per_row"] == pytest.approx(total / sum(len(chain) for chain in chains), abs=0.01)
    stored = result["storage"]["tables"]["options_chain_history"]
    assert stored["bytes_per_year"] == pytest.approx(contracts * 252 * history["bytes_per_row"], rel=1e-3)
    daily = result["daily_run"]
    assert daily["statements"] == len(cost.evening_executions())
    assert daily["billed_bytes_year_one"] > daily["billed_bytes_per_evening_end_of_year_one"] * 100
    section = cost.markdown(result).splitlines()
    assert any(line.startswith("| options_chain_history | ") for line in section)
    listed = [line for line in section if line.startswith(("| daily_job |", "| labels_job |"))]
    (others,) = [line for line in section if "other statements, at the minimum" in line]
    assert len(listed) + int(others.split("|")[3].split()[0]) == len(cost.evening_executions())


# ---- The billing arithmetic on made-up sizes
def _sizes(rows_per_day: float, column_bytes: float = 8.0) -> dict:
    """Every table with `rows_per_day` rows a day of `column_bytes` per column."""
    return {
        table: cost.TableSize(
            table,
            rows_per_day,
            dict.fromkeys(types, column_bytes),
            dict.fromkeys(types, 0.0),
            cost.is_partitioned(table),
        )
        for table, types in cost.table_schemas().items()
    }


def _evening_bytes(sizes) -> tuple[int, list[dict]]:
    year = cost.Year(trading_days=252, price_warmup=500)
    rows, billed = cost.price_executions(cost.evening_executions(), sizes, year, day=1)
    return billed, rows


def test_scanned_bytes_respect_the_10_mib_minimum_per_table():
    billed, rows = _evening_bytes(_sizes(rows_per_day=1))
    paid_reads = [r for e in rows for r in e["reads"] if e["kind"] not in ("DELETE_PARTITIONS", "TRUNCATE")]
    assert billed == len(paid_reads) * 10 * 2**20
    assert all(r["billed"] == 0 for e in rows if e["kind"] == "DELETE_PARTITIONS" for r in e["reads"])


def test_scanned_bytes_grow_with_rows_per_day():
    small, _ = _evening_bytes(_sizes(rows_per_day=1_000_000))
    large, rows = _evening_bytes(_sizes(rows_per_day=2_000_000))
    assert large > small > _evening_bytes(_sizes(rows_per_day=1))[0]
    # By hand: insert_rl_state reads 20 columns of one options_chain_history day and 22 of one
    # technicals_history day, 8 bytes each.
    (state,) = [e for e in rows if e["statement"] == "insert_rl_state"]
    assert state["billed_bytes"] == 2_000_000 * 8 * (20 + 22)
    # price_data_window reads the 500-session warm-up and T: 501 days of its 8 columns (OHLCV and close_only).
    (window,) = [e for e in rows if e["statement"] == "price_data_window"]
    assert window["billed_bytes"] == 501 * 2_000_000 * 8 * 8
