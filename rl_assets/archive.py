"""The sidecar archiver: copy the live, daily-wiped chain into a dated, point-in-time history.

All writes replace whole partitions inside one warehouse transaction, so a re-run never
duplicates rows and a failure never leaves half a day. Works on any backend with the interface of
`rl_assets.warehouse.duckdb_backend.DuckDBBackend`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rl_assets import calendar
from rl_assets.formats.model import (
    CONTRACT,
    ChainFormat,
    FormatError,
    PriceFormat,
    load_chain_format,
    load_price_format,
)
from rl_assets.formats.select import ChainSource, PriceSource, TableRef
from rl_assets.market.implied import iv_and_greeks
from rl_assets.schema import OPTIONS_CHAIN_COLUMNS, PRICE_DATA_COLUMNS
from rl_assets.warehouse import sql
from rl_assets.warehouse.backend import CHAIN_STAGING_TABLE, COMPUTED_GREEKS_TABLE, PRICE_STAGING_TABLE, staged

LIVE_TABLE = "options_chain"


class ArchiveRefused(RuntimeError):
    """The source cannot be archived as the requested trading date; nothing was written. `problems`:
    what the chain screen found, when that is why."""

    def __init__(self, message: str, problems: ChainProblems | None = None):
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True)
class ArchiveReport:
    snapshot_date: dt.date
    rows: int
    source_table: str
    archived_at: pd.Timestamp
    # Columns beyond the contract in a contract-layout source (kept in source_row).
    extra_columns: list[str] = field(default_factory=list)
    # NaN / +-inf values stored as NULL, per column (only columns that had any).
    non_finite_values_nulled: dict[str, int] = field(default_factory=dict)
    chain_format: str = CONTRACT
    computed: ComputedValues = field(default_factory=lambda: ComputedValues())
    # Source columns whose type changed since the previous archived day: column -> "old -> new".
    source_type_changes: dict[str, str] = field(default_factory=dict)


def live_chain_source(
    warehouse, table: str | TableRef = LIVE_TABLE, chain_format: str | ChainFormat = CONTRACT
) -> ChainSource:
    """The live chain as `chain_format` reads it from `table` (RL_ASSETS_LIVE_TABLE, in rl-assets'
    dataset unless it names another): ArchiveRefused names a missing table or a column the format
    reads that the table lacks."""
    ref, columns = _table_columns(warehouse, table, "RL_ASSETS_LIVE_TABLE")
    fmt = load_chain_format(chain_format) if isinstance(chain_format, str) else chain_format
    if not columns:
        raise ArchiveRefused(f"table {ref} does not exist; nothing to archive")
    try:
        return ChainSource(fmt, ref, columns, warehouse.dialect)
    except FormatError as error:
        raise ArchiveRefused(f"{error}; refusing to archive, nothing was written") from None


def price_source(warehouse, table: str | TableRef, price_format: str | PriceFormat) -> PriceSource:
    """The user's daily bars as `price_format` reads them from `table` (RL_ASSETS_PRICE_TABLE); a
    FormatError names a missing table or column."""
    ref, columns = _table_columns(warehouse, table, "RL_ASSETS_PRICE_TABLE")
    fmt = load_price_format(price_format) if isinstance(price_format, str) else price_format
    if not columns:
        raise FormatError(f"price table {ref} does not exist (RL_ASSETS_PRICE_TABLE)")
    return PriceSource(fmt, ref, columns, warehouse.dialect)


def _table_columns(warehouse, table: str | TableRef, variable: str) -> tuple[TableRef, dict[str, str]]:
    """The table a variable names (in rl-assets' dataset unless it names another) and its columns
    (empty when it does not exist)."""
    ref = (TableRef.parse(table, variable) if isinstance(table, str) else table).within(warehouse.dataset)
    return ref, warehouse.columns(ref.table, ref.dataset, ref.project)


@dataclass(frozen=True)
class LiveChainState:
    """What a live chain table holds: its size and the New York dates of its quotes."""

    table: str
    rows: int
    rows_without_quote_time: int
    first_quote_date: dt.date | None
    last_quote_date: dt.date | None
    first_quote_time: pd.Timestamp | None
    last_quote_time: pd.Timestamp | None

    @property
    def data_version(self) -> str:
        """Changes whenever the pipeline reloads the table (new quote times or a new row count)."""
        return f"{self.rows}|{self.first_quote_time}|{self.last_quote_time}"

    def problem(self, snapshot_date: dt.date | None = None) -> str | None:
        """Why the table cannot be archived (as `snapshot_date`, where given); None when it can."""
        if self.rows == 0:
            return f"{self.table} is empty: nothing to archive"
        if self.rows_without_quote_time:
            return (
                f"{self.table} has {self.rows_without_quote_time} rows without quote_time; "
                "cannot tell which trading date they belong to"
            )
        first, last = self.first_quote_date, self.last_quote_date
        held = str(first) if first == last else f"{first}..{last}"
        if first != last:
            return f"{self.table} holds quotes from trading date {held} (America/New_York), more than one day"
        if not calendar.is_trading_day(first):
            return f"{self.table} holds quotes from {first}, which is not an NYSE trading day"
        if snapshot_date is not None and first != snapshot_date:
            return (
                f"{self.table} holds quotes from trading date {held} (America/New_York), "
                f"not {snapshot_date}: refusing to archive them as {snapshot_date}"
            )
        return None


def observe_live_chain(warehouse, source: ChainSource | None = None) -> LiveChainState:
    """Size and quote dates of the live chain (as its format reads it), from one cheap aggregate query."""
    source = source or live_chain_source(warehouse)
    row = warehouse.query("live_chain_trading_dates", sources={LIVE_TABLE: source.select()}).iloc[0]
    table = str(source.table)

    def value(column, convert):
        return None if pd.isna(row[column]) else convert(row[column])

    return LiveChainState(
        table=table,
        rows=int(row["row_count"]),
        rows_without_quote_time=value("rows_without_quote_time", int) or 0,  # COUNTIF of no rows is NULL in DuckDB
        first_quote_date=value("first_quote_date", lambda v: pd.Timestamp(v).date()),
        last_quote_date=value("last_quote_date", lambda v: pd.Timestamp(v).date()),
        first_quote_time=value("first_quote_time", pd.Timestamp),
        last_quote_time=value("last_quote_time", pd.Timestamp),
    )


# The contract columns the history cannot hold NULL in (besides quote_time, guarded by LiveChainState).
KEY_COLUMNS = ["underlying", "contract_symbol", "strike", "expiration"]
# The contract's FLOAT64 columns, counted for non-finite values by sql/options_chain_problem_details.sql
# (strike refused, the others stored as NULL by sql/archive_options_chain.sql).
FLOAT_COLUMNS = [
    "strike", "bid", "ask", "mid", "last", "implied_volatility",
    "delta", "gamma", "theta", "vega", "rho", "underlying_price",
]  # fmt: skip


@dataclass(frozen=True)
class ChainProblems:
    """What sql/options_chain_problems.sql (and, when it found anything, its _details) found in a chain
    about to be archived."""

    table: str
    missing_keys: dict[str, int]  # key column -> rows where the format read NULL (e.g. a symbol not OCC)
    duplicate_rows: int
    duplicated_symbols: int
    example_duplicated_symbol: str | None
    null_option_types: int
    other_option_types: int
    other_option_type_examples: list[str]
    example_non_finite_strike_symbol: str | None
    non_finite: dict[str, int]  # column -> rows with NaN / +-inf, only columns that had any

    def refusal(self) -> str | None:
        """Why the chain cannot be archived; None when it can (non-finite values are NULLed, not refused)."""
        reasons = []
        if self.missing_keys:
            reasons.append(
                f"rows without {', '.join(f'{c} ({n})' for c, n in self.missing_keys.items())}: "
                "the history needs them in every row (does the format read them from the right columns?)"
            )
        if self.duplicate_rows:
            reasons.append(
                f"{self.duplicate_rows} duplicate rows of {self.duplicated_symbols} contract_symbol(s) "
                f"(e.g. {self.example_duplicated_symbol!r}): the history keeps one row per contract a day"
            )
        if self.null_option_types or self.other_option_types:
            examples = ", ".join(repr(v) for v in self.other_option_type_examples)
            found = [f"{self.other_option_types} other value(s) (e.g. {examples})"] if self.other_option_types else []
            found += [f"{self.null_option_types} NULL"] if self.null_option_types else []
            reasons.append(f"option_type must be 'call' or 'put'; found {' and '.join(found)}")
        if self.non_finite.get("strike"):
            reasons.append(
                f"{self.non_finite['strike']} rows with a NaN or infinite strike "
                f"(e.g. {self.example_non_finite_strike_symbol!r})"
            )
        if not reasons:
            return None
        return f"{self.table} has " + "; ".join(reasons)


def chain_problems(warehouse, source: ChainSource, select: str | None = None) -> ChainProblems:
    """Duplicate contracts, option types and non-finite values of the chain as `source`'s format
    reads it (`select`: that SELECT with computed values joined): a cheap screen
    (sql/options_chain_problems.sql), and the counts per column with examples
    (options_chain_problem_details.sql) only when the screen found something."""
    sources = {LIVE_TABLE: select or source.select()}
    table = str(source.table)
    screen = warehouse.query("options_chain_problems", sources=sources).iloc[0]
    if not any(
        _count(screen, c)
        for c in ("duplicate_rows", "unknown_option_types", "rows_with_non_finite", "rows_missing_keys")
    ):
        return ChainProblems(table, {}, 0, 0, None, 0, 0, [], None, {})
    row = warehouse.query("options_chain_problem_details", sources=sources).iloc[0]

    def text(column: str) -> str | None:
        return None if pd.isna(row[column]) else str(row[column])

    examples = [v for v in (text("first_other_option_type"), text("last_other_option_type")) if v is not None]
    non_finite = {c: _count(row, f"non_finite_{c}") for c in FLOAT_COLUMNS}
    return ChainProblems(
        table=table,
        missing_keys={c: _count(row, f"null_{c}") for c in KEY_COLUMNS if _count(row, f"null_{c}")},
        duplicate_rows=_count(row, "duplicate_rows"),
        duplicated_symbols=_count(row, "duplicated_symbols"),
        example_duplicated_symbol=text("example_duplicated_symbol"),
        null_option_types=_count(row, "null_option_types"),
        other_option_types=_count(row, "other_option_types"),
        other_option_type_examples=list(dict.fromkeys(examples)),
        example_non_finite_strike_symbol=text("example_non_finite_strike_symbol"),
        non_finite={c: n for c, n in non_finite.items() if n},
    )


def _count(row: pd.Series, column: str) -> int:
    return 0 if pd.isna(row[column]) else int(row[column])  # COUNTIF of no rows is NULL in DuckDB


@dataclass(frozen=True)
class ComputedValues:
    """IV and greeks filled in where the vendor had none (or placeholders), and why some could not be."""

    implied_volatility: int = 0
    greeks: int = 0
    no_iv: dict[str, int] = field(default_factory=dict)  # NoSolution reason -> rows left NULL


def archive_chain(
    warehouse,
    snapshot_date: dt.date,
    source: ChainSource | None = None,
    archived_at: pd.Timestamp | None = None,
    source_name: str | None = None,
) -> ArchiveReport:
    """Replace options_chain_history[snapshot_date] with the live chain as `source`'s format reads
    it (default: rl-assets' own options_chain in the contract's layout), every source column kept
    as JSON in source_row. `source_name` is what the report and options_chain_sources name as the
    source (default: the table; an imported file's path).

    Refuses (ArchiveRefused, nothing written) when the source is empty, has rows without a
    quote_time, or holds quotes from any America/New_York date other than `snapshot_date`; when a
    row lacks a key column, a contract_symbol is listed twice, an option_type is not 'call' or
    'put', or a strike is NaN or infinite. Other NaN / +-inf values are stored as NULL and counted.
    IV and greeks the vendor lacks are computed (the format's `greeks`) and marked so. The checks
    run inside the same transaction as the write, so they see exactly what is archived.
    """
    snapshot_date = calendar.require_trading_day(snapshot_date)
    archived_at = pd.Timestamp(archived_at if archived_at is not None else pd.Timestamp.now(tz="UTC"))
    source = source or live_chain_source(warehouse)
    with computed_greeks(warehouse, source) as (select, computed):
        sources = {LIVE_TABLE: select}
        with warehouse.transaction():
            state = observe_live_chain(warehouse, source)
            problem = state.problem(snapshot_date)
            if problem:
                raise ArchiveRefused(f"{problem}; nothing was written for {snapshot_date}")
            problems = chain_problems(warehouse, source, select)
            refusal = problems.refusal()
            if refusal:
                raise ArchiveRefused(
                    f"{refusal}; refusing to archive, nothing was written for {snapshot_date}", problems
                )
            changed = source_type_changes(warehouse, source, snapshot_date)
            warehouse.execute("delete_options_chain_history_partition", {"snapshot_date": snapshot_date})
            warehouse.execute(
                "archive_options_chain",
                {
                    "snapshot_date": snapshot_date,
                    "archived_at": archived_at,
                    "null_non_finite": bool(problems.non_finite),
                },
                sources=sources,
            )
            record_source_columns(warehouse, source, snapshot_date, archived_at, source_name)
    extra = [c for c in source.columns if c not in OPTIONS_CHAIN_COLUMNS] if source.format.name == CONTRACT else []
    return ArchiveReport(
        snapshot_date, state.rows, source_name or str(source.table), archived_at, extra, problems.non_finite,
        source.format.name, computed, changed,
    )  # fmt: skip


@contextmanager
def computed_greeks(warehouse, source: ChainSource) -> Iterator[tuple[str, ComputedValues]]:
    """The chain's SELECT with computed IV and greeks joined in where the vendor's are NULL (the
    format's greeks.compute: missing), staged before the archive's transaction (a BigQuery load
    cannot run inside one); the SELECT as it is when nothing needs computing."""
    rule = source.format.greeks
    inputs = (
        warehouse.query("options_chain_pricing_inputs", sources={LIVE_TABLE: source.select()})
        if rule.compute == "missing"
        else pd.DataFrame()
    )
    if inputs.empty:
        yield source.select(), ComputedValues()
        return
    result = iv_and_greeks(inputs, rate=rule.rate, div_yield=rule.dividend_yield)
    summary = result.summary
    counts = ComputedValues(summary.computed_iv, summary.computed_greeks, dict(summary.no_iv))
    with staged(warehouse, COMPUTED_GREEKS_TABLE, result.frame[COMPUTED_COLUMNS]) as tables:
        yield source.select(computed_table=tables[COMPUTED_GREEKS_TABLE]), counts


# What computed_greeks stages (and the chain's SELECT joins on contract_symbol and quote_time).
COMPUTED_COLUMNS = ["contract_symbol", "quote_time", "implied_volatility", "delta", "gamma", "theta", "vega", "rho"]


def source_type_changes(warehouse, source: ChainSource, snapshot_date: dt.date) -> dict[str, str]:
    """Source columns whose type differs from the newest earlier archived day's ('old -> new'):
    reported, never cast silently (the source row keeps each value as the source typed it)."""
    held = warehouse.query("options_chain_sources_before", {"snapshot_date": snapshot_date})
    if held.empty:
        return {}
    before = json.loads(held["source_columns"].iloc[0])
    return {c: f"{before[c]} -> {t}" for c, t in source.columns.items() if c in before and before[c] != t}


def record_source_columns(
    warehouse, source: ChainSource, snapshot_date: dt.date, archived_at, source_name: str | None = None
) -> None:
    """Which table (or file) and format `snapshot_date` was archived from, and the source's columns and types."""
    warehouse.execute("delete_options_chain_sources_partition", {"snapshot_date": snapshot_date})
    warehouse.execute(
        "insert_options_chain_sources",
        {
            "snapshot_date": snapshot_date,
            "source_table": source_name or str(source.table),
            "chain_format": source.format.name,
            "source_columns": json.dumps(source.columns),
            "archived_at": archived_at,
        },
    )


def archive_chain_frame(
    warehouse, chain: pd.DataFrame, snapshot_date: dt.date, archived_at: pd.Timestamp | None = None
) -> ArchiveReport:
    """Archive a chain served by the market provider (a past day in a backfill) through a staging
    table, with the same checks and the same INSERT ... SELECT as the live table."""
    with staged(warehouse, CHAIN_STAGING_TABLE, chain, like=LIVE_TABLE) as tables:
        source = live_chain_source(warehouse, tables[CHAIN_STAGING_TABLE])
        return archive_chain(warehouse, snapshot_date, source, archived_at)


def replace_live_chain(warehouse, chain: pd.DataFrame) -> int:
    """TRUNCATE + load of the live table, in one transaction (what the existing pipeline does)."""
    missing = [c for c in OPTIONS_CHAIN_COLUMNS if c not in chain.columns]
    if missing:
        raise ValueError(f"the chain lacks contract columns {missing}")
    with staged(warehouse, CHAIN_STAGING_TABLE, chain[OPTIONS_CHAIN_COLUMNS], like=LIVE_TABLE) as tables:
        with warehouse.transaction():
            warehouse.execute("truncate_options_chain")
            warehouse.execute("insert_options_chain", tables=tables)
    return len(chain)


def validate_prices(prices: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """price_data rows for [start, end], or a ValueError that names what is wrong. Rows without
    close_only (or with it NULL) are real OHLCV bars: close_only FALSE."""
    missing = [c for c in PRICE_DATA_COLUMNS if c not in prices.columns and c != "close_only"]
    if missing:
        raise ValueError(f"price rows lack columns {missing}")
    prices = prices.reindex(columns=PRICE_DATA_COLUMNS).assign(close_only=close_only_flags(prices))
    if prices[["ticker", "date"]].isna().any().any():
        raise ValueError("price rows with an empty ticker or date")
    dates = pd.to_datetime(prices["date"]).dt.date
    outside = sorted(set(dates[(dates < start) | (dates > end)]))
    if outside:
        raise ValueError(f"price rows dated outside {start}..{end}: {outside[:5]}")
    duplicated = prices.duplicated(["ticker", "date"])
    if duplicated.any():
        raise ValueError(
            f"{int(duplicated.sum())} duplicate (ticker, date) price rows, e.g. {prices[duplicated].iloc[0][['ticker', 'date']].tolist()}"
        )
    return prices


def close_only_flags(prices: pd.DataFrame) -> np.ndarray:
    """price_data's close_only of each row as bools: absent or NULL is FALSE (a real bar)."""
    if "close_only" not in prices.columns:
        return np.zeros(len(prices), dtype=bool)
    return prices["close_only"].astype("boolean").fillna(False).to_numpy(dtype=bool)


class PricesRefused(ValueError):
    """A price write would delete bars price_data holds (a provider's short answer); nothing was written."""


def lost_bars_problem(held: pd.DataFrame, prices: pd.DataFrame) -> str | None:
    """What replacing the (date, ticker) bars `held` with `prices` would lose ("lack ..."), or None.

    Names the tickers that would vanish from the range, the days that would, and how many bars in
    all (a ticker missing on some days only counts there)."""

    def keys(frame: pd.DataFrame) -> set[tuple[str, dt.date]]:
        dates = pd.to_datetime(frame["date"]).dt.date
        return set(zip(frame["ticker"], dates, strict=True))

    lost = keys(held) - keys(prices)
    if not lost:
        return None
    kept_tickers, kept_days = ({k[i] for k in keys(prices)} for i in (0, 1))
    tickers = sorted({t for t, _ in lost} - kept_tickers)
    days = sorted({d for _, d in lost} - kept_days)

    def shown(values: list) -> str:
        return ", ".join(str(v) for v in values[:10]) + (f" and {len(values) - 10} more" if len(values) > 10 else "")

    parts = [f"tickers {shown(tickers)}" if tickers else "", f"days {shown(days)}" if days else ""]
    where = " and ".join(p for p in parts if p) or "some (ticker, day) pairs"
    some = sorted(lost)[:3]
    return f"lack {len(lost)} bar(s) price_data holds ({where}; e.g. {', '.join(f'({t}, {d})' for t, d in some)})"


def write_prices(
    warehouse, prices: pd.DataFrame, start: dt.date, end: dt.date, *, allow_fewer_rows: bool = False
) -> int:
    """Replace price_data for the trading dates [start, end] with `prices`, atomically.

    Refuses (PricesRefused, nothing written) when `prices` lacks a (ticker, date) bar the range
    holds already, unless `allow_fewer_rows`: an empty or partial provider answer on a re-run must
    not delete good history. The check runs in the write's transaction, on what it replaces.
    """
    prices = validate_prices(prices, start, end)

    def refuse_lost_bars() -> None:
        held = warehouse.query("price_data_tickers", {"start_date": start, "end_date": end})
        problem = lost_bars_problem(held, prices)
        if problem:
            raise PricesRefused(
                f"the new prices for {start}..{end} {problem}: refusing to delete them, nothing was "
                "written (allow_fewer_rows=True deletes them)"
            )

    return replace_date_range(
        warehouse, prices, start, end,
        staging_table=PRICE_STAGING_TABLE,
        delete_statement="delete_price_data_range",
        insert_statement="insert_price_data",
        before_delete=None if allow_fewer_rows else refuse_lost_bars,
    )  # fmt: skip


def record_sessions_without_data(
    warehouse, start: dt.date, end: dt.date, missing: list[dt.date], source: str, recorded_at: pd.Timestamp
) -> None:
    """Replace what sessions_without_data holds for [start, end] with `missing` (one transaction)."""
    with warehouse.transaction():
        warehouse.execute("delete_sessions_without_data_range", {"start_date": start, "end_date": end})
        for day in missing:
            warehouse.execute(
                "insert_sessions_without_data", {"snapshot_date": day, "source": source, "recorded_at": recorded_at}
            )


def sessions_without_data(warehouse, start: dt.date, end: dt.date) -> set[dt.date]:
    """The sessions in [start, end] an import found no data for: empty days, not unmaterialised ones."""
    held = warehouse.query("sessions_without_data_in_range", {"start_date": start, "end_date": end})
    return {pd.Timestamp(d).date() for d in held["snapshot_date"]}


# Rows of one underlying-day whose underlying_price differ by more than this (relative) are counted.
CHAIN_PRICE_DISAGREEMENT = 1e-6


@dataclass(frozen=True)
class PricesFromChain:
    """What write_prices_from_chain wrote: one close-only bar per underlying-day with a price."""

    rows: int
    tickers: int
    days: int
    disagreeing: int  # underlying-days whose rows' underlying_price differ (the bar takes their median)
    without_price: int  # underlying-days whose rows have no finite positive underlying_price: no bar
    first_date: dt.date | None
    last_date: dt.date | None


def write_prices_from_chain(
    warehouse, start: dt.date, end: dt.date, *, replace_real_bars: bool = False
) -> PricesFromChain:
    """Replace price_data for the trading dates [start, end] with close-only bars from
    options_chain_history (when no price file exists): one bar per (underlying, snapshot_date),
    close = the median of its rows' finite, positive underlying_price, open/high/low/volume NULL,
    close_only TRUE. A day without an archived chain gets no bar: nothing is invented.

    Refuses (PricesRefused, nothing written) when the range holds real OHLCV bars, unless
    `replace_real_bars`: a chain's underlying price never silently replaces a price file's bars.
    One transaction: the check, the summary, the delete and the INSERT ... SELECT see the same tables.
    """
    params = {"start_date": start, "end_date": end}
    with warehouse.transaction():
        real = 0 if replace_real_bars else _count(warehouse.query("price_data_real_bars", params).iloc[0], "real_bars")
        if real:
            raise PricesRefused(
                f"price_data holds {real} real OHLCV bar(s) in {start}..{end}: refusing to replace them with "
                "close-only bars from the chain, nothing was written (replace_real_bars=True replaces them)"
            )
        summary = warehouse.query(
            "price_data_from_chain_summary", {**params, "tolerance": CHAIN_PRICE_DISAGREEMENT}
        ).iloc[0]
        warehouse.execute("delete_price_data_range", params)
        warehouse.execute("insert_price_data_from_chain", params)

    def date(column: str) -> dt.date | None:
        return None if pd.isna(summary[column]) else pd.Timestamp(summary[column]).date()

    return PricesFromChain(
        rows=_count(summary, "bars"),
        tickers=_count(summary, "tickers"),
        days=_count(summary, "days"),
        disagreeing=_count(summary, "disagreeing"),
        without_price=_count(summary, "without_price"),
        first_date=date("first_date"),
        last_date=date("last_date"),
    )


def dates_present(row_counts: pd.DataFrame, column: str) -> set[dt.date]:
    """The dates with rows in a row-count query's result (`column`, row_count)."""
    return {pd.Timestamp(d).date() for d, n in zip(row_counts[column], row_counts["row_count"], strict=True) if n > 0}


def replace_date_range(
    warehouse,
    rows: pd.DataFrame,
    start: dt.date,
    end: dt.date,
    *,
    staging_table: str,
    delete_statement: str,
    insert_statement: str,
    before_delete: Callable[[], None] | None = None,
) -> int:
    """Replace a table's rows dated [start, end] with `rows` in one transaction, via a staging
    table (typed like the insert's target) that the insert statement reads. `before_delete` runs
    first inside the transaction (a check that raises to refuse the write)."""
    with staged(warehouse, staging_table, rows, like=sql.target_table(insert_statement)) as tables:
        with warehouse.transaction():
            if before_delete is not None:
                before_delete()
            warehouse.execute(delete_statement, {"start_date": start, "end_date": end})
            warehouse.execute(insert_statement, tables=tables)
    return len(rows)
