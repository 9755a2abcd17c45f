"""What a year of the full US options market costs on BigQuery, measured on a DuckDB warehouse.

`estimate(db_path)` reads a warehouse the project built (DuckDB, read-only) and prices it with
BigQuery's documented rules:

- row sizes: the mean *logical* bytes per row of every contract table, from its actual rows and
  BigQuery's data-type sizes, computed per column in SQL (a big table is never loaded into pandas);
- storage: rows per trading day x trading days per year x bytes per row, at the list prices;
- bytes scanned: on-demand bills the columns a statement references in the partitions it reads,
  at least 10 MiB per table referenced. The statements of one evening in production (sidecar mode
  on BigQuery: `daily_job` for T, then `labels_job` for T-3, which `labels_after_daily_run`
  starts) are declared below (`evening_executions`), each with the trading days it reads of each
  table and why; the columns come from sqlglot's scope analysis of the sql/ file. The tests record
  a real evening run and fail when the declaration drifts from it (`record_evening`).

`markdown(result)` renders a README-ready section body.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from sqlglot import exp

from rl_assets.training_data import SamplingPolicy
from rl_assets.warehouse import sql
from rl_assets.warehouse.backend import CREATE_STATEMENTS

# ---- BigQuery's list prices, US multi-region (on-demand compute, logical storage billing).
# Source: https://cloud.google.com/bigquery/pricing, checked against the copy of the page retrieved
# 2026-09-28 (the newest the documentation search holds): on-demand $6.25 per TiB with the first
# 1 TiB per month free; active logical storage $0.02 and long-term logical storage $0.01 per
# GiB-month, the first 10 GiB per month free. Regions differ (us-central1 storage is ~$0.023).
PRICES_SOURCE = "https://cloud.google.com/bigquery/pricing"
PRICES_AS_OF = "2026-09-28"
ON_DEMAND_USD_PER_TIB = 6.25
FREE_QUERY_TIB_PER_MONTH = 1.0
ACTIVE_STORAGE_USD_PER_GIB_MONTH = 0.02
LONG_TERM_STORAGE_USD_PER_GIB_MONTH = 0.01
FREE_STORAGE_GIB_PER_MONTH = 10.0
LONG_TERM_AFTER_DAYS = 90  # a partition not modified for 90 consecutive days is billed as long-term
# Same page: "Charges are rounded up to the nearest MB, with a minimum 10 MB data processed per
# table referenced by the query, and with a minimum 10 MB data processed per query"; the
# maximum-bytes-billed error asks for 10485760, i.e. 10 MiB.
MINIMUM_BILLED_BYTES = 10 * 2**20

# ---- BigQuery's data-type sizes in logical bytes (storage and on-demand scans alike):
# https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#data_type_sizes
# "A NULL value for any data type is calculated as 0 logical bytes."
FIXED_LOGICAL_BYTES = {
    "INT64": 8, "FLOAT64": 8, "NUMERIC": 16, "BIGNUMERIC": 32, "BOOL": 1,
    "DATE": 8, "DATETIME": 8, "TIME": 8, "TIMESTAMP": 8, "INTERVAL": 16, "RANGE": 16,
}  # fmt: skip
# STRING: 2 logical bytes + the UTF-8 encoded size; BYTES: 2 + the bytes (DuckDB's strlen and
# octet_length count bytes, not characters).
VARIABLE_LENGTH_OVERHEAD = {"STRING": 2, "BYTES": 2}

# How often live_chain_sensor (rl_assets/defs/sensors.py) queries the live table in sidecar mode; the
# tests hold the two together.
SENSOR_INTERVAL_SECONDS = 300

# The trading days a statement reads of a table, beyond a fixed number of sessions:
HISTORY = "history"  # every partition the table holds (no constant filter on its partition column)
PAPER_TRADING_SPAN = "paper_trading_span"  # the first paper trade's day through the newest
# Tables the warehouse may not hold (a benchmark builds none of them): their rows per day. Every
# read of them bills the 10 MiB minimum whatever their size.
NOMINAL_ROWS = {
    "paper_trades": 10,  # per trading day: 2 models x 5 picks (PaperTradesConfig.picks_per_day)
    "model_registry": 104,  # the whole table: 2 models retrained weekly for a year
}
NOMINAL_STRING_BYTES = 16  # the UTF-8 length assumed for a string column of such a table


@dataclass(frozen=True)
class Execution:
    """One statement of the evening run: which step runs it, and the trading days of each table it
    reads (an int, HISTORY or PAPER_TRADING_SPAN), with the reason."""

    job: str
    step: str
    statement: str
    days: Mapping[str, int | str]
    why: str


def evening_executions() -> list[Execution]:
    """The statements one evening runs in production (sidecar mode on BigQuery), in order:
    daily_job for T, then labels_job for T-3. DDL (create_* when a table is missing) and loads
    (free) are left out; so is live_chain_sensor (`sensor_executions`)."""
    from rl_assets.dataset import LABEL_WINDOWS_TABLE
    from rl_assets.reward import HORIZON_DAYS
    from rl_assets.technicals import WARMUP_SESSIONS

    label_days, label_closes = HORIZON_DAYS, HORIZON_DAYS + 1
    live = "the live table holds the one session being archived"
    daily, labels = "daily_job", "labels_job"
    return [
        Execution(daily, "options_chain_history", "options_chain_pricing_inputs", {"options_chain": 1}, live + " (rows lacking an IV or a greek)"),
        Execution(daily, "options_chain_history", "live_chain_trading_dates", {"options_chain": 1}, live),
        Execution(daily, "options_chain_history", "options_chain_problems", {"options_chain": 1}, live),
        Execution(daily, "options_chain_history", "options_chain_sources_before", {"options_chain_sources": 1}, "one small row a day"),
        Execution(daily, "options_chain_history", "delete_options_chain_history_partition", {"options_chain_history": 1}, "T's partition (whole: metadata only)"),
        Execution(daily, "options_chain_history", "archive_options_chain", {"options_chain": 1}, live),
        Execution(daily, "options_chain_history", "delete_options_chain_sources_partition", {"options_chain_sources": 1}, "one small row a day"),
        Execution(daily, "options_chain_history", "insert_options_chain_sources", {}, "one row (values)"),
        Execution(daily, "technicals_history", "price_data_row_counts", {"price_data": 1}, "T's prices landed?"),
        Execution(daily, "technicals_history", "price_data_window", {"price_data": WARMUP_SESSIONS + 1}, f"T and the {WARMUP_SESSIONS}-session warm-up"),
        Execution(daily, "technicals_history", "delete_technicals_history_range", {"technicals_history": 1}, "T's partition (whole: metadata only)"),
        Execution(daily, "technicals_history", "insert_technicals_history", {"technicals_history_staging": 1}, "T's rows, loaded to a staging table"),
        Execution(daily, "options_chain_history_checks", "options_chain_history_quality", {"options_chain_history": 1}, "the day checked"),
        Execution(daily, "options_chain_history_checks", "options_chain_history_underlyings", {"options_chain_history": 1}, "the day checked"),
        Execution(daily, "options_chain_history_checks", "options_chain_history_row_counts", {"options_chain_history": 2}, "the day and the session before (row-count drop rule)"),
        Execution(daily, "options_chain_history_checks", "price_data_tickers", {"price_data": 6}, "T's universe: the week up to T (quality.UNIVERSE_LOOKBACK_DAYS), 6 sessions without a holiday"),
        Execution(daily, "rl_state", "options_chain_history_row_counts", {"options_chain_history": 1}, "T archived?"),
        Execution(daily, "rl_state", "technicals_history_row_counts", {"technicals_history": 1}, "T's technicals?"),
        Execution(daily, "rl_state", "delete_rl_state_range", {"rl_state": 1}, "T's partition (whole: metadata only)"),
        Execution(daily, "rl_state", "insert_rl_state", {"options_chain_history": 1, "technicals_history": 1}, "T's snapshot joined with T's technicals"),
        Execution(daily, "rl_state", "rl_state_row_counts", {"rl_state": 1}, "rows written"),
        Execution(daily, "rl_state", "rl_state_sources", {"options_chain_history": 1, "technicals_history": 1}, "the asset's metadata"),
        Execution(daily, "recommendations", "delete_recommendations_range", {"recommendations": 1}, "T's partition (whole: metadata only)"),
        Execution(daily, "recommendations", "insert_recommendations", {"rl_state": 1}, "T's rl_state through the screener"),
        Execution(daily, "recommendations", "recommendations_row_counts", {"recommendations": 1}, "rows written"),
        Execution(daily, "rl_state_checks", "rl_state_quality", {"rl_state": 1}, "the day checked"),
        Execution(daily, "rl_state_checks", "rl_state_sources", {"options_chain_history": 1, "technicals_history": 1}, "the day checked"),
        Execution(daily, "paper_trades", "paper_trades_days", {"paper_trades": 1}, "T recorded already?"),
        Execution(daily, "paper_trades", "recommended_states", {"rl_state": 1, "recommendations": 1}, "T's candidates to score"),
        Execution(daily, "paper_trades", "model_registry_usable", {"model_registry": HISTORY}, "ppo_agent's version usable at T (unpartitioned table)"),
        Execution(daily, "paper_trades", "model_registry_usable", {"model_registry": HISTORY}, "baseline_model's version usable at T"),
        Execution(daily, "paper_trades", "delete_paper_trades_range", {"paper_trades": 1}, "T's partition (whole: metadata only)"),
        Execution(daily, "paper_trades", "insert_paper_trades", {"paper_trades_staging": 1}, "T's picks, loaded to a staging table"),
        Execution(daily, "paper_trades", "resolve_paper_trades", {"paper_trades": 1, "rl_dataset": 1}, "T's picks; rl_dataset[T] is not built yet"),
        Execution(daily, "paper_trades", "paper_trades_days", {"paper_trades": 1}, "the asset's metadata"),
        Execution(labels, "rl_dataset", "options_chain_history_row_counts", {"options_chain_history": label_days}, f"the {label_days} label days landed?"),
        Execution(labels, "rl_dataset", "price_data_row_counts", {"price_data": label_closes}, f"closes of T-{label_days}..T landed?"),
        Execution(labels, "rl_dataset", "rl_state_row_counts", {"rl_state": 1}, f"rl_state[T-{label_days}] built?"),
        Execution(labels, "rl_dataset", "delete_rl_dataset_range", {"rl_dataset": 1}, "the partition (whole: metadata only)"),
        Execution(labels, "rl_dataset", "insert_rl_dataset", {"options_chain_history": label_days, "price_data": label_closes, "rl_state": 1, LABEL_WINDOWS_TABLE: 1}, "one state day, its label days' bids and closes"),
        Execution(labels, "rl_dataset", "rl_dataset_summary", {"rl_dataset": 1}, "rows written"),
        Execution(labels, "paper_trades", "paper_trades_days", {"paper_trades": 1}, "the day's picks were recorded three sessions ago"),
        Execution(labels, "paper_trades", "resolve_paper_trades", {"paper_trades": 1, "rl_dataset": 1}, "the day's picks get their outcome"),
        Execution(labels, "paper_trades", "paper_trades_days", {"paper_trades": 1}, "the asset's metadata"),
        Execution(labels, "rl_dataset_checks", "rl_dataset_quality", {"rl_dataset": 1, "rl_state": 1}, "the day checked"),
        Execution(labels, "paper_trading_performance", "paper_trades_date_range", {"paper_trades": HISTORY}, "MIN/MAX over the whole table"),
        Execution(labels, "paper_trading_performance", "resolve_paper_trades", {"paper_trades": PAPER_TRADING_SPAN, "rl_dataset": PAPER_TRADING_SPAN}, "every paper-trading day, again"),
        Execution(labels, "paper_trading_performance", "paper_trades_window", {"paper_trades": PAPER_TRADING_SPAN}, "every paper trade"),
        Execution(labels, "paper_trading_performance", "recommendations_outcomes", {"recommendations": PAPER_TRADING_SPAN, "rl_dataset": PAPER_TRADING_SPAN}, "every resolved recommendation"),
    ]  # fmt: skip


def sensor_executions() -> list[Execution]:
    """What live_chain_sensor queries on every tick in sidecar mode (the evening run aside)."""
    return [
        Execution("live_chain_sensor", "observe", "live_chain_trading_dates", {"options_chain": 1}, "row count and quote times of the live table"),
        Execution("live_chain_sensor", "observe", "price_data_row_counts", {"price_data": 1}, "has price_data the live session?"),
    ]  # fmt: skip


def training_executions() -> list[Execution]:
    """What one model's training reads (training_job trains two: baseline_model and ppo_agent)."""
    return [
        Execution(
            "training_job", "model", "rl_dataset_labelled_days", {"rl_dataset": HISTORY},
            "each day's candidates, to group days into statements: no partition filter",
        ),
        Execution(
            "training_job", "model", "rl_dataset_training_rows", {"rl_dataset": HISTORY},
            "every labelled row scanned, the per-day sample returned",
        ),
    ]  # fmt: skip


# ---- The statements' columns, from sqlglot's scope analysis of sql/ files


def partition_column(table: str) -> str | None:
    """The column a contract table is partitioned by (sql/create_<table>.sql), or None."""
    partition = sql.parse_statement(f"create_{table}").find(exp.PartitionedByProperty)
    return partition.this.name if partition is not None else None


@cache
def table_schemas() -> dict[str, dict[str, str]]:
    """Column types of every table a statement may read: the contract tables, their staging
    copies (`<table>_staging`, typed like the table they load) and rl_dataset's label windows."""
    from rl_assets.dataset import LABEL_WINDOWS_TABLE
    from rl_assets.reward import label_windows

    schemas = {sql.target_table(name): sql.column_types(name) for name in CREATE_STATEMENTS}
    schemas |= {f"{table}_staging": types for table, types in list(schemas.items())}
    schemas[LABEL_WINDOWS_TABLE] = {column: "DATE" for column in label_windows([]).columns}
    return schemas


def _as_query(tree: exp.Expression) -> exp.Expression:
    """What a statement reads, as a query sqlglot can scope: an UPDATE ... FROM becomes the SELECT
    of its SET values over the target joined with its FROM, filtered by its WHERE."""
    if not isinstance(tree, exp.Update):
        return tree
    query = exp.select(*(assignment.expression.copy() for assignment in tree.expressions)).from_(tree.this.copy())
    source = tree.args.get("from_")
    if source is not None:
        query = query.join(source.this.copy(), join_type="cross")
    if tree.args.get("where") is not None:
        query = query.where(tree.args["where"].this.copy())
    return query


@cache
def _qualified(statement: str) -> exp.Expression:
    from sqlglot.optimizer.qualify import qualify

    tree = _as_query(sql.parse_statement(statement).copy())
    return qualify(tree, schema=table_schemas(), dialect="bigquery", validate_qualify_columns=False)


def _table_sources(statement: str) -> Iterator[tuple[object, str, exp.Table]]:
    """(scope, alias, table) for every table a statement reads (CTEs resolved to their tables)."""
    from sqlglot.optimizer.scope import traverse_scope

    tree = _qualified(statement)
    if isinstance(tree, exp.Delete | exp.TruncateTable):
        return
    for scope in traverse_scope(tree):
        for alias, source in scope.sources.items():
            if isinstance(source, exp.Table):
                yield scope, alias, source


@cache
def referenced_columns(statement: str) -> dict[str, frozenset[str]]:
    """Table -> the columns sql/<statement>.sql reads from it (what on-demand bills), found by
    sqlglot's scope analysis after qualifying with the contract's schema; a table read without a
    column (COUNT(*)) maps to an empty set. A DELETE or TRUNCATE reads nothing here (see
    `statement_kind`); an UPDATE's target counts with the columns its WHERE reads."""
    reads: dict[str, set[str]] = {}
    for scope, alias, table in _table_sources(statement):
        columns = reads.setdefault(table.name, set())
        columns.update(column.name for column in scope.columns if column.table == alias)
    return {table: frozenset(columns) for table, columns in reads.items()}


@cache
def statement_kind(statement: str) -> str:
    """SELECT, INSERT, UPDATE, DELETE_PARTITIONS (a DELETE whose WHERE names only the partition
    column: it removes whole partitions, "without scanning bytes or consuming slots"), DELETE or
    TRUNCATE (free)."""
    tree = sql.parse_statement(statement)
    if isinstance(tree, exp.Delete):
        filtered = {column.name for column in tree.args["where"].find_all(exp.Column)}
        return "DELETE_PARTITIONS" if filtered == {partition_column(tree.this.name)} else "DELETE"
    if isinstance(tree, exp.TruncateTable):
        return "TRUNCATE"
    return {exp.Insert: "INSERT", exp.Update: "UPDATE"}.get(type(tree), "SELECT")


def partition_days_read(statement: str, params: Mapping[str, object]) -> dict[str, int | None]:
    """Table -> the trading days a statement's constant filters on the table's partition column
    select with these parameters (`col = @p`, `col BETWEEN @a AND @b`, in a WHERE or JOIN ON), or
    None where it has none and reads every partition (or the table is not partitioned). What
    BigQuery prunes by; the tests check the declared days against a real run with it."""
    from rl_assets import calendar

    days: dict[str, int | None] = {}
    for scope, alias, table in _table_sources(statement):
        column = partition_column(table.name) if is_partitioned(table.name) else None
        found = None
        conditions = [scope.expression.args.get("where")]
        conditions += [join.args.get("on") for join in scope.expression.args.get("joins") or []]
        for condition in filter(None, conditions):
            condition = condition.this if isinstance(condition, exp.Where) else condition
            for predicate in condition.flatten() if isinstance(condition, exp.And) else [condition]:
                window = _parameter_window(predicate, alias, column, params)
                if window is not None:
                    count = len(calendar.trading_days(*window))
                    found = count if found is None else min(found, count)
        # A table read in several scopes is read as far as its widest read reaches.
        if found is None or days.get(table.name, 0) is None:
            days[table.name] = None
        else:
            days[table.name] = max(found, days.get(table.name, 0))
    return days


def _parameter_window(predicate: exp.Expression, alias: str, column: str | None, params) -> tuple | None:
    from rl_assets import calendar

    def on_partition(node) -> bool:
        return isinstance(node, exp.Column) and node.table == alias and node.name == column

    def value(node):
        return calendar.as_date(params[node.name]) if isinstance(node, exp.Parameter) else None

    if column is None:
        return None
    if isinstance(predicate, exp.Between) and on_partition(predicate.this):
        low, high = value(predicate.args["low"]), value(predicate.args["high"])
        return (low, high) if low is not None and high is not None else None
    if isinstance(predicate, exp.EQ):
        for side, other in ((predicate.this, predicate.expression), (predicate.expression, predicate.this)):
            if on_partition(side) and value(other) is not None:
                return (value(other), value(other))
    return None


@cache
def contract_tables() -> frozenset[str]:
    return frozenset(sql.target_table(name) for name in CREATE_STATEMENTS)


def is_partitioned(table: str) -> bool:
    return table in contract_tables() and partition_column(table) is not None


# ---- Measured row sizes


@dataclass(frozen=True)
class TableSize:
    """A table's rows per trading day (per read, for an unpartitioned table: its whole size) and
    the mean logical bytes per row of each column, NULLs counting 0."""

    table: str
    rows_per_day: float
    column_bytes: Mapping[str, float]
    null_share: Mapping[str, float]
    partitioned: bool = True
    measured_rows: int = 0
    measured_days: int = 0
    how: str = "measured"

    @property
    def row_bytes(self) -> float:
        return sum(self.column_bytes.values())

    def bytes_per_row(self, columns=None) -> float:
        return sum(self.column_bytes[c] for c in (self.column_bytes if columns is None else columns))


def column_size_sql(column: str, bigquery_type: str) -> list[str]:
    """Aggregates giving a column's logical bytes: its non-NULL count (and byte length sum)."""
    quoted = exp.to_identifier(column, quoted=True).sql("duckdb")
    if bigquery_type in FIXED_LOGICAL_BYTES:
        return [f"count({quoted})"]
    if bigquery_type == "STRING":
        return [f"count({quoted})", f"coalesce(sum(strlen({quoted})), 0)"]
    if bigquery_type == "BYTES":
        return [f"count({quoted})", f"coalesce(sum(octet_length({quoted})), 0)"]
    raise ValueError(f"no logical size rule here for BigQuery type {bigquery_type} (column {column})")


def measure_table(connection, qualified_table: str, types: Mapping[str, str], date_column: str | None) -> TableSize:
    """Mean logical bytes per row of each column of a DuckDB table (one aggregate query), and its
    rows per day (the mean over the `date_column` values present)."""
    name = qualified_table.split(".")[-1].strip('"')
    dates = exp.to_identifier(date_column, quoted=True).sql("duckdb") if date_column else None
    aggregates = ["count(*)", f"count(DISTINCT {dates})" if dates else "1"]
    for column, kind in types.items():
        aggregates += column_size_sql(column, kind)
    values = list(connection.execute(f"SELECT {', '.join(aggregates)} FROM {qualified_table}").fetchone())
    rows, days = int(values.pop(0)), int(values.pop(0))
    column_bytes, null_share = {}, {}
    for column, kind in types.items():
        present = int(values.pop(0))
        length = int(values.pop(0)) if kind in VARIABLE_LENGTH_OVERHEAD else 0
        size = (
            present * FIXED_LOGICAL_BYTES[kind]
            if kind in FIXED_LOGICAL_BYTES
            else length + present * VARIABLE_LENGTH_OVERHEAD[kind]
        )
        column_bytes[column] = size / rows if rows else 0.0
        null_share[column] = 1 - present / rows if rows else 0.0
    return TableSize(
        table=name,
        rows_per_day=rows / days if days else float(rows),
        column_bytes=column_bytes,
        null_share=null_share,
        partitioned=date_column is not None,
        measured_rows=rows,
        measured_days=days if date_column else 0,
    )


def _nominal(table: str, rows: float, partitioned: bool, how: str) -> TableSize:
    types = table_schemas()[table]
    column_bytes = {
        column: FIXED_LOGICAL_BYTES.get(kind, VARIABLE_LENGTH_OVERHEAD.get(kind, 0) + NOMINAL_STRING_BYTES)
        for column, kind in types.items()
    }
    return TableSize(table, rows, column_bytes, dict.fromkeys(types, 0.0), partitioned, how=how)


def _recommendations_from_state(connection, dataset: str, catalog: str, state: TableSize) -> TableSize:
    """recommendations sized from rl_state: the share of its rows sql/insert_recommendations.sql
    keeps with the screener's default rules, the same columns' bytes."""
    from rl_assets.paper_trading import ScreenerRules  # imports torch (~6 s): only when needed

    select = sql.parse_statement("insert_recommendations").expression.copy()
    counting = select.select(exp.Count(this=exp.Star()), append=False).sql(dialect="bigquery")
    span = connection.execute(
        f'SELECT min(snapshot_date), max(snapshot_date) FROM "{catalog}"."{dataset}"."rl_state"'
    ).fetchone()
    params = {"start_date": span[0], "end_date": span[1], **ScreenerRules().parameters()}
    kept = connection.execute(sql.render_text(counting, "duckdb", dataset, catalog), params).fetchone()[0]
    share = kept / state.measured_rows if state.measured_rows else 0.0
    columns = table_schemas()["recommendations"]
    return TableSize(
        "recommendations",
        state.rows_per_day * share,
        {c: state.column_bytes[c] for c in columns},
        {c: state.null_share[c] for c in columns},
        how=f"rl_state's rows the default screener keeps ({share:.1%}), its columns' sizes",
    )


def measure(db_path: str, dataset: str = "rl_assets") -> dict[str, TableSize]:
    """Sizes of every table the evening's statements read, from the warehouse at `db_path`
    (opened read-only); tables it does not hold are derived or sized nominally (`how` says so)."""
    import duckdb

    from rl_assets.dataset import LABEL_WINDOWS_TABLE

    sql.validate_identifier("dataset", dataset)
    connection = duckdb.connect(db_path, read_only=True)
    try:
        catalog = connection.execute("SELECT current_database()").fetchone()[0]
        present = {
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ?", [catalog, dataset]
            ).fetchall()
        }
        schemas = table_schemas()
        sizes: dict[str, TableSize] = {}
        for table in sorted(contract_tables() - {"options_chain"}):
            if table in present:
                held = {row[0] for row in connection.execute(f'DESCRIBE "{catalog}"."{dataset}"."{table}"').fetchall()}
                types = {c: t for c, t in schemas[table].items() if c in held}
                size = measure_table(connection, f'"{catalog}"."{dataset}"."{table}"', types, partition_column(table))
                if size.measured_rows:
                    sizes[table] = size
        if "recommendations" not in sizes and "rl_state" in sizes:
            sizes["recommendations"] = _recommendations_from_state(connection, dataset, catalog, sizes["rl_state"])
    finally:
        connection.close()
    for table, rows in NOMINAL_ROWS.items():
        if table not in sizes:
            sizes[table] = _nominal(table, rows, is_partitioned(table), "nominal: not in the warehouse")
    missing = {"options_chain_history", "price_data", "technicals_history", "rl_state", "rl_dataset"} - set(sizes)
    if missing:
        raise ValueError(f"{db_path} has no rows in {sorted(missing)} (dataset {dataset!r}): build the warehouse first")
    history = sizes["options_chain_history"]
    live_columns = schemas["options_chain"]
    # The pipeline's live table holds one session of the archive's columns.
    sizes["options_chain"] = TableSize(
        "options_chain", history.rows_per_day, {c: history.column_bytes[c] for c in live_columns},
        {c: history.null_share[c] for c in live_columns}, partitioned=False,
        how="one options_chain_history partition, without snapshot_date and archived_at",
    )  # fmt: skip
    for table in ("technicals_history", "paper_trades"):
        loaded = sizes[table]
        sizes[f"{table}_staging"] = TableSize(
            f"{table}_staging", loaded.rows_per_day, loaded.column_bytes, loaded.null_share, partitioned=False,
            how=f"one day of {table}",
        )  # fmt: skip
    sizes[LABEL_WINDOWS_TABLE] = _nominal(LABEL_WINDOWS_TABLE, 1, False, "one row (T and its label days)")
    return sizes


# ---- Bytes billed


@dataclass(frozen=True)
class Year:
    """The trading days of year one, and how much history each table holds on its k-th day."""

    trading_days: int
    price_warmup: int  # sessions of price_data the pipeline holds before the archive starts

    def days(self, table: str, days: int | str, day: int) -> int:
        if isinstance(days, int):
            return days
        return day + (self.price_warmup if table == "price_data" else 0)


def billed_reads(execution: Execution, sizes: Mapping[str, TableSize], year: Year, day: int) -> list[dict]:
    """Per table the execution references: days read, columns, bytes read and bytes billed (at
    least MINIMUM_BILLED_BYTES) on the `day`-th trading day of year one."""
    kind = statement_kind(execution.statement)
    if kind in ("DELETE_PARTITIONS", "TRUNCATE"):
        return [
            {"table": t, "days": year.days(t, d, day), "columns": 0, "bytes": 0, "billed": 0}
            for t, d in execution.days.items()
        ]
    columns = dict(referenced_columns(execution.statement))
    if kind in ("UPDATE", "DELETE"):
        # q' + t': the partitions a DML statement modifies count with every column.
        target = sql.parse_statement(execution.statement).this.name
        columns[target] = frozenset(sizes[target].column_bytes)
    undeclared = set(columns) ^ set(execution.days)
    if undeclared:
        raise ValueError(f"{execution.statement}: tables read {sorted(columns)} but declared {sorted(execution.days)}")
    reads = []
    for table, read in sorted(columns.items()):
        size = sizes[table]
        days = year.days(table, execution.days[table], day) if size.partitioned else 1
        row_bytes = size.bytes_per_row(sorted(read))
        scanned = days * size.rows_per_day * row_bytes
        billed = max(MINIMUM_BILLED_BYTES, scanned)
        reads.append(
            {"table": table, "days": days, "columns": len(read), "bytes_per_row": round(row_bytes, 2),
             "bytes": int(scanned), "billed": int(billed)}
        )  # fmt: skip
    return reads


def price_executions(
    executions: list[Execution], sizes: Mapping[str, TableSize], year: Year, day: int
) -> tuple[list[dict], int]:
    """Each execution's reads and bytes billed on the `day`-th trading day of year one, and their total."""
    rows = []
    for execution in executions:
        reads = billed_reads(execution, sizes, year, day)
        rows.append(
            {"job": execution.job, "step": execution.step, "statement": execution.statement,
             "kind": statement_kind(execution.statement), "why": execution.why, "days": dict(execution.days),
             "reads": reads, "billed_bytes": sum(r["billed"] for r in reads)}
        )  # fmt: skip
    return rows, sum(row["billed_bytes"] for row in rows)


def year_one_bytes(executions: list[Execution], sizes: Mapping[str, TableSize], year: Year) -> list[int]:
    """Bytes billed by running `executions` on each trading day of year one, the history growing."""
    return [price_executions(executions, sizes, year, day)[1] for day in range(1, year.trading_days + 1)]


def query_usd(billed_bytes: float) -> float:
    return billed_bytes / 2**40 * ON_DEMAND_USD_PER_TIB


# ---- The estimate


def estimate(db_path: str, dataset: str = "rl_assets", trading_days_per_year: int = 252) -> dict:
    """BigQuery's storage and on-demand query costs of a year of the market this warehouse holds
    (JSON-serialisable): measured row sizes, storage per table, bytes billed per evening run by
    statement, the live-chain sensor, a training run, notes and assumptions."""
    from rl_assets.technicals import WARMUP_SESSIONS

    sizes = measure(db_path, dataset)
    year = Year(trading_days_per_year, WARMUP_SESSIONS)
    months = 12
    gib, tib = 2**30, 2**40

    tables = {
        table: {
            "rows_per_day": round(size.rows_per_day, 1),
            "bytes_per_row": round(size.row_bytes, 2),
            "measured_rows": size.measured_rows,
            "measured_days": size.measured_days,
            "how": size.how,
            "columns": {
                column: {
                    "type": table_schemas()[table][column],
                    "bytes_per_row": round(size.column_bytes[column], 3),
                    "null_share": round(size.null_share[column], 4),
                }
                for column in size.column_bytes
            },
        }
        for table, size in sorted(sizes.items())
        if table in contract_tables()
    }

    # Storage at the end of year one: every partition written once; those older than 90 days
    # (calendar) are long-term.
    active_days = min(trading_days_per_year, round(LONG_TERM_AFTER_DAYS * trading_days_per_year / 365))
    stored = {}
    for table in ("options_chain_history", "technicals_history", "rl_state", "rl_dataset", "recommendations",
                  "paper_trades", "price_data"):  # fmt: skip
        size = sizes[table]
        per_year = size.rows_per_day * trading_days_per_year * size.row_bytes
        per_day = size.rows_per_day * size.row_bytes
        active, long_term = per_day * active_days, per_day * (trading_days_per_year - active_days)
        stored[table] = {
            "owner": "existing pipeline (sidecar mode)" if table == "price_data" else "rl-assets",
            "bytes_per_year": int(per_year),
            "gib_per_year": round(per_year / gib, 2),
            "usd_per_month_all_active": round(per_year / gib * ACTIVE_STORAGE_USD_PER_GIB_MONTH, 2),
            "usd_per_month_end_of_year_one": round(
                (active * ACTIVE_STORAGE_USD_PER_GIB_MONTH + long_term * LONG_TERM_STORAGE_USD_PER_GIB_MONTH) / gib, 2
            ),
        }
    ours = {t: s for t, s in stored.items() if s["owner"] == "rl-assets"}
    storage = {
        "tables": stored,
        "rl_assets_bytes_per_year": sum(s["bytes_per_year"] for s in ours.values()),
        "rl_assets_gib_per_year": round(sum(s["bytes_per_year"] for s in ours.values()) / gib, 2),
        "rl_assets_usd_per_month_all_active": round(sum(s["usd_per_month_all_active"] for s in ours.values()), 2),
        "rl_assets_usd_per_month_end_of_year_one": round(
            sum(s["usd_per_month_end_of_year_one"] for s in ours.values()), 2
        ),
        "active_trading_days_at_end_of_year_one": active_days,
        "price_data_note": "price_data is the existing pipeline's table in sidecar mode: its storage is not "
        "rl-assets' (listed for completeness); the evening run's reads of it are billed to rl-assets' project.",
    }

    executions, evening_last = price_executions(evening_executions(), sizes, year, trading_days_per_year)
    evenings = year_one_bytes(evening_executions(), sizes, year)
    month_bytes = evening_last * trading_days_per_year / months
    daily_run = {
        "executions": executions,
        "statements": len(executions),
        "billed_bytes_first_evening": evenings[0],
        "billed_bytes_per_evening_end_of_year_one": evening_last,
        "gib_per_evening_end_of_year_one": round(evening_last / gib, 2),
        "usd_per_evening_end_of_year_one": round(query_usd(evening_last), 4),
        "usd_per_month_end_of_year_one": round(query_usd(month_bytes), 2),
        "tib_per_month_end_of_year_one": round(month_bytes / tib, 3),
        "billed_bytes_year_one": sum(evenings),
        "tib_year_one": round(sum(evenings) / tib, 3),
        "usd_year_one": round(query_usd(sum(evenings)), 2),
    }

    ticks_per_day = 86_400 // SENSOR_INTERVAL_SECONDS
    sensor_rows, sensor_tick = price_executions(sensor_executions(), sizes, year, trading_days_per_year)
    sensor = {
        "executions": sensor_rows,
        "ticks_per_day": ticks_per_day,
        "billed_bytes_per_tick": sensor_tick,
        "billed_bytes_per_day": sensor_tick * ticks_per_day,
        "usd_per_month": round(query_usd(sensor_tick * ticks_per_day * 365 / months), 2),
        "usd_per_year": round(query_usd(sensor_tick * ticks_per_day * 365), 2),
    }

    models = 2  # training_job trains baseline_model and ppo_agent, each reading the rows itself
    training_rows, training_model = price_executions(training_executions(), sizes, year, trading_days_per_year)
    dataset_size = sizes["rl_dataset"]
    selected = sorted(referenced_columns("rl_dataset_training_rows")["rl_dataset"])
    # Billed: the columns of every labelled row (sampling happens in the query). Returned: the sample,
    # at most the policy's per-day cap on each day (rl_assets/training_data.py).
    per_day = min(
        dataset_size.rows_per_day * (1 - dataset_size.null_share["reward"]),
        SamplingPolicy().rows_per_day(trading_days_per_year),
    )
    labelled = per_day * trading_days_per_year
    result_bytes = labelled * dataset_size.bytes_per_row(selected)
    training = {
        "executions": training_rows,
        "billed_bytes_per_model": training_model,
        "billed_bytes_per_training_run": training_model * models,
        "usd_per_training_run": round(query_usd(training_model * models), 2),
        "result_rows_per_model": int(labelled),
        "result_logical_bytes_per_model": int(result_bytes),
        "result_gib_per_model": round(result_bytes / gib, 2),
    }

    sensor_month = sensor_tick * ticks_per_day * 365 / months
    month_total = month_bytes + sensor_month
    # The free tier is per month: year one's months, each its share of the evenings plus the sensor.
    per_month = trading_days_per_year / months
    year_months = [
        sum(evenings[round(m * per_month) : round((m + 1) * per_month)]) + sensor_month for m in range(months)
    ]
    return {
        "warehouse": {"db_path": db_path, "dataset": dataset, "trading_days_per_year": trading_days_per_year},
        "prices": {
            "on_demand_usd_per_tib": ON_DEMAND_USD_PER_TIB,
            "free_query_tib_per_month": FREE_QUERY_TIB_PER_MONTH,
            "active_storage_usd_per_gib_month": ACTIVE_STORAGE_USD_PER_GIB_MONTH,
            "long_term_storage_usd_per_gib_month": LONG_TERM_STORAGE_USD_PER_GIB_MONTH,
            "free_storage_gib_per_month": FREE_STORAGE_GIB_PER_MONTH,
            "minimum_billed_bytes_per_table": MINIMUM_BILLED_BYTES,
            "source": PRICES_SOURCE,
            "as_of": PRICES_AS_OF,
            "note": f"list prices in the US multi-region as of {PRICES_AS_OF} ({PRICES_SOURCE}); on-demand "
            "compute, logical storage billing; no discounts, before the free tiers",
        },
        "tables": tables,
        "storage": storage,
        "daily_run": daily_run,
        "sensor": sensor,
        "training_run": training,
        "totals": {
            "query_tib_per_month_end_of_year_one": round(month_total / tib, 3),
            "query_usd_per_month_end_of_year_one": round(query_usd(month_total), 2),
            "query_usd_per_month_after_free_tier": round(
                max(0.0, month_total / tib - FREE_QUERY_TIB_PER_MONTH) * ON_DEMAND_USD_PER_TIB, 2
            ),
            "query_usd_year_one": round(query_usd(sum(year_months)), 2),
            "query_usd_year_one_after_free_tier": round(
                sum(max(0.0, month / tib - FREE_QUERY_TIB_PER_MONTH) for month in year_months) * ON_DEMAND_USD_PER_TIB,
                2,
            ),
            "storage_usd_per_month_end_of_year_one": storage["rl_assets_usd_per_month_end_of_year_one"],
            "free_tier_note": f"the first {FREE_QUERY_TIB_PER_MONTH:g} TiB of queries a month is free per billing "
            "account (shared with everything else the account runs); storage's first "
            f"{FREE_STORAGE_GIB_PER_MONTH:g} GiB a month is free",
        },
        "notes": _notes(training, daily_run, sizes),
        "assumptions": _assumptions(year, active_days),
    }


def _notes(training: dict, daily_run: dict, sizes: Mapping[str, TableSize]) -> list[str]:
    growing = [
        e
        for e in daily_run["executions"]
        if any(isinstance(days, str) and is_partitioned(table) for table, days in e["days"].items())
    ]
    grown = sum(e["billed_bytes"] for e in growing)
    nominal = sorted(table for table, size in sizes.items() if size.how.startswith("nominal"))
    return [
        f"Query results come back through the REST API in this project (to_arrow(create_bqstorage_client=False); "
        f"google-cloud-bigquery-storage is not a dependency). Training scans every labelled row's columns (the "
        "billed bytes above) but the warehouse returns only the per-day sample (rl_assets/training_data.py), read "
        f"whole days per statement: {training['result_gib_per_model']} GiB of logical bytes per model for a year "
        f"({training['result_rows_per_model']:,} rows), small enough for REST pages.",
        f"Statements whose reads grow with the history ({', '.join(sorted({e['statement'] for e in growing}))}) "
        f"bill {grown / 2**30:.2f} GiB of the {daily_run['gib_per_evening_end_of_year_one']} GiB an evening costs at "
        "the end of year one: the universe query (its MAX(date) subquery prunes no partition) and the "
        "paper-trading performance, which re-reads every paper-trading day each evening. Constant partition filters (the run's "
        "day, or the open trades' window) would bring them to the 10 MiB minimum.",
        "Whole-partition DELETEs (`WHERE <partition column> BETWEEN @a AND @b`) are billed 0 bytes (BigQuery "
        "removes the partitions as metadata); if BigQuery did not apply that inside the run's transactions, each "
        "would bill the partition it deletes (empty on a first run, one day's partition on a re-run).",
        "Clustering (underlying / ticker) is not credited: no statement filters on the cluster column, so block "
        "pruning is not expected; the figures are the documented upper bound.",
        "Loads of staging tables (typed Parquet), copies, table creation and metadata calls are free; storage of "
        "staging tables (dropped after each step) is negligible.",
    ] + ([f"Sized without measured rows: {', '.join(nominal)}."] if nominal else [])


def _assumptions(year: Year, active_days: int) -> list[str]:
    return [
        f"{year.trading_days} trading days a year; costs at 'end of year one' use a full year of history in the "
        "tables rl-assets owns, the year-one totals sum each evening with the history it had then.",
        f"price_data (the pipeline's) holds the technicals' {year.price_warmup}-session warm-up before the archive's "
        "first day: whole-table reads of it see that plus the year.",
        "Paper trading from the archive's first day (an upper bound: a model is usable only once labels exist).",
        "Rows per trading day are the measured means over the days the warehouse holds; a year of the market "
        "is taken to look like those days.",
        f"Storage at the end of year one: the last {LONG_TERM_AFTER_DAYS} calendar days ({active_days} sessions) "
        "active, older partitions long-term (each partition is written once).",
        f"live_chain_sensor queries every {SENSOR_INTERVAL_SECONDS} s, 365 days a year, in sidecar mode.",
        "10 MB minimum taken as 10 MiB per table referenced (and so per statement); rounding up to the MB ignored.",
    ]


# ---- README section


def markdown(result: dict) -> str:
    """A README-ready section body: tables, per-statement bytes of an evening run, totals, assumptions."""
    gib = 2**30
    storage, daily, sensor, training = result["storage"], result["daily_run"], result["sensor"], result["training_run"]
    lines = [
        f"Priced at the {result['prices']['note']}. Row sizes and rows per day measured on a warehouse of "
        f"{result['tables']['options_chain_history']['measured_days']} archived days "
        f"({result['tables']['options_chain_history']['measured_rows']:,} contracts); "
        f"{result['warehouse']['trading_days_per_year']} trading days a year.",
        "",
        "| table | bytes/row | rows/day | GiB/year | storage $/month (all active) | $/month end of year one |",
        "|---|---|---|---|---|---|",
    ]
    for table, stored in storage["tables"].items():
        info = result["tables"][table]
        owner = " (pipeline's)" if stored["owner"] != "rl-assets" else ""
        lines.append(
            f"| {table}{owner} | {info['bytes_per_row']:.0f} | {info['rows_per_day']:,.0f} | {stored['gib_per_year']:,.1f} "
            f"| {stored['usd_per_month_all_active']:.2f} | {stored['usd_per_month_end_of_year_one']:.2f} |"
        )
    lines += [
        f"| **rl-assets' tables** | | | **{storage['rl_assets_gib_per_year']:,.1f}** "
        f"| **{storage['rl_assets_usd_per_month_all_active']:.2f}** | **{storage['rl_assets_usd_per_month_end_of_year_one']:.2f}** |",
        "",
        "One evening (daily_job for T, labels_job for T-3) at the end of year one: the statements billing more "
        "than the 10 MiB minimum per table they reference (days read per table; GiB billed):",
        "",
        "| job | step | statement | tables: days read | GiB billed |",
        "|---|---|---|---|---|",
    ]
    at_minimum = [e for e in daily["executions"] if all(r["billed"] in (0, MINIMUM_BILLED_BYTES) for r in e["reads"])]
    for e in daily["executions"]:
        if e not in at_minimum:
            reads = ", ".join(f"{r['table']}: {r['days']}" for r in e["reads"])
            lines.append(f"| {e['job']} | {e['step']} | {e['statement']} | {reads} | {e['billed_bytes'] / gib:.3f} |")
    lines.append(
        f"| | | {len(at_minimum)} other statements, at the minimum (or free: whole-partition DELETEs) | "
        f"| {sum(e['billed_bytes'] for e in at_minimum) / gib:.3f} |"
    )
    totals = result["totals"]
    lines += [
        "",
        f"- evening run: {daily['gib_per_evening_end_of_year_one']} GiB at the end of year one "
        f"({daily['billed_bytes_first_evening'] / gib:.2f} GiB on the first evening), "
        f"${daily['usd_per_evening_end_of_year_one']:.3f}; {daily['tib_year_one']} TiB over year one: "
        f"${daily['usd_year_one']:.2f}",
        f"- live_chain_sensor: {sensor['billed_bytes_per_tick'] / gib:.3f} GiB a tick, {sensor['ticks_per_day']} ticks "
        f"a day: ${sensor['usd_per_month']:.2f} a month",
        f"- queries per month at the end of year one: {totals['query_tib_per_month_end_of_year_one']} TiB, "
        f"${totals['query_usd_per_month_end_of_year_one']:.2f} (${totals['query_usd_per_month_after_free_tier']:.2f} "
        f"after the first free TiB); year one: ${totals['query_usd_year_one']:.2f} "
        f"(${totals['query_usd_year_one_after_free_tier']:.2f} beyond the free TiB of each month); storage: "
        f"${totals['storage_usd_per_month_end_of_year_one']:.2f} a month",
        f"- a training run (two models over a year of rl_dataset): "
        f"{training['billed_bytes_per_training_run'] / gib:.1f} GiB billed, ${training['usd_per_training_run']:.2f}; "
        f"each model pulls {training['result_gib_per_model']} GiB of rows",
        "",
        "Notes and assumptions:",
        "",
        *[f"- {line}" for line in result["notes"] + result["assumptions"]],
    ]
    return "\n".join(lines) + "\n"


# ---- Recording a real evening run (the tests; regenerating the declaration)


@dataclass(frozen=True)
class Recorded:
    statement: str
    params: Mapping[str, object]
    tables: tuple[str, ...]  # the tables renamed for this execution (staging copies)


@contextmanager
def recorded_statements() -> Iterator[list[Recorded]]:
    """Every sql/ statement DuckDBBackend runs inside the block, in order (DDL included)."""
    from rl_assets.warehouse.duckdb_backend import DuckDBBackend

    recorded: list[Recorded] = []
    original = DuckDBBackend._run

    def spy(self, name, params, tables, sources):
        recorded.append(Recorded(name, dict(params or {}), tuple(sorted(tables or {}))))
        return original(self, name, params, tables, sources)

    DuckDBBackend._run = spy
    try:
        yield recorded
    finally:
        DuckDBBackend._run = original


def record_evening(folder: str, day: dt.date = dt.date(2026, 11, 20), tickers: int = 4) -> dict[str, list[Recorded]]:
    """Run one production evening in sidecar mode on a small DuckDB warehouse in `folder` and
    record its statements: live_chain_sensor's tick, daily_job for `day`, labels_job for the
    session HORIZON_DAYS before. The pipeline's tables (options_chain, price_data) are loaded first,
    with the previous sessions archived, their rl_state and recommendations built and one paper
    trade recorded for the labels day (so paper_trading_performance reads its whole span)."""
    import os

    import dagster as dg
    import pandas as pd

    from rl_assets import calendar
    from rl_assets.archive import archive_chain_frame, replace_date_range, replace_live_chain, write_prices
    from rl_assets.dataset import build_rl_state
    from rl_assets.defs.code_location import build_definitions
    from rl_assets.market.synthetic import SyntheticMarket
    from rl_assets.paper_trading import MODELS, PAPER_TRADES_STAGING, PICK_COLUMNS, ScreenerRules, build_recommendations
    from rl_assets.reward import HORIZON_DAYS
    from rl_assets.settings import Settings
    from rl_assets.technicals import update_technicals
    from rl_assets.warehouse.duckdb_backend import open_duckdb

    dataset, path = "rl_assets", os.path.join(folder, "evening.duckdb")
    labelled = calendar.shift_trading_days(day, -HORIZON_DAYS)
    before = calendar.trading_days(labelled, calendar.shift_trading_days(day, -1))
    market = SyntheticMarket(seed=7, tickers=tickers)
    with open_duckdb(path, dataset) as wh:
        wh.ensure_tables()
        first_price = calendar.shift_trading_days(labelled, -30)
        write_prices(wh, market.prices(first_price, day), first_price, day)
        for session in before:
            archive_chain_frame(wh, market.chain(session), session)
        update_technicals(wh, before)
        build_rl_state(wh, before[0], before[-1])
        build_recommendations(wh, before[0], before[-1], ScreenerRules())
        picks = pd.DataFrame(  # both models' picks, recorded three sessions ago
            [
                {
                    **dict(zip(PICK_COLUMNS, [labelled, "PICK", "TICK", model, 1, labelled, 1, 0.5, 1.0], strict=True)),
                    "recorded_at": pd.Timestamp(labelled).tz_localize("UTC"),
                }
                for model in MODELS
            ]
        )
        replace_date_range(
            wh, picks, labelled, labelled, staging_table=PAPER_TRADES_STAGING,
            delete_statement="delete_paper_trades_range", insert_statement="insert_paper_trades",
        )  # fmt: skip
        replace_live_chain(wh, market.chain(day))

    # Sidecar mode's code location: the pipeline's two tables as external assets.
    sidecar = build_definitions(
        Settings(market="warehouse", duckdb_path=path, dataset=dataset, model_store=os.path.join(folder, "models"))
    )
    runs = {}
    with dg.instance_for_test(temp_dir=folder) as instance:
        with recorded_statements() as recorded:
            with dg.build_sensor_context(instance=instance, resources=sidecar.resources) as context:
                sidecar.get_sensor_def("live_chain_sensor")(context)
        runs["live_chain_sensor"] = recorded
        for job, partition in (("daily_job", day), ("labels_job", labelled)):
            job_definition = sidecar.resolve_job_def(job)
            with recorded_statements() as recorded:
                result = job_definition.execute_in_process(instance=instance, partition_key=str(partition))
            if not result.success:
                raise RuntimeError(f"{job} for {partition} failed")
            runs[job] = recorded
    return runs


if __name__ == "__main__":  # python -m rl_assets_bench.bigquery_cost WAREHOUSE.duckdb [DATASET]
    import json
    import sys

    print(json.dumps(estimate(*sys.argv[1:3]), indent=1, default=str))
