"""The SQL a format generates: a SELECT, in BigQuery's dialect, that reads the user's table as it is
and yields the contract's columns (plus, for a chain, the whole source row as JSON and where each IV
and greek came from). Statements that read options_chain or price_data run on it as a subquery
(rl_assets.warehouse.sql.render's `sources`), so the mapping runs in the warehouse, never in pandas.
Every generated SELECT is parsed strictly as BigQuery before it is used.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache

import pandas as pd

from rl_assets import calendar
from rl_assets.formats.model import CONTRACT, ChainFormat, ColumnRule, Derived, Epoch, FormatError, PriceFormat
from rl_assets.schema import OPTIONS_CHAIN_COLUMNS, PRICE_DATA_COLUMNS, PROVENANCE_COLUMNS
from rl_assets.warehouse import sql

NEW_YORK = calendar.TIMEZONE
GREEKS = ["delta", "gamma", "theta", "vega", "rho"]
VENDOR, COMPUTED, MIXED = "vendor", "computed", "mixed"
# OCC / OSI option symbols: root (padded with spaces to 6 in the 21-character form), YYMMDD, C or P,
# strike x 1000 in 8 digits; Polygon prefixes 'O:'.
OCC_PATTERN = r"^(?:O:)?[A-Z0-9.]+ *[0-9]{6}[CP][0-9]{8}$"


@dataclass(frozen=True)
class TableRef:
    """A table as RL_ASSETS_LIVE_TABLE / RL_ASSETS_PRICE_TABLE name it: `table`, `dataset.table` or
    `project.dataset.table` (on DuckDB: schema.table, or database.schema.table)."""

    table: str
    dataset: str | None = None
    project: str | None = None

    @classmethod
    def parse(cls, text: str, variable: str = "table") -> TableRef:
        parts = text.strip().split(".")
        if not 1 <= len(parts) <= 3:
            raise ValueError(f"{variable}={text!r}: use table, dataset.table or project.dataset.table")
        try:
            table = sql.validate_identifier("table", parts[-1])
            dataset = sql.validate_identifier("dataset", parts[-2]) if len(parts) > 1 else None
            project = sql.validate_identifier("project", parts[0]) if len(parts) == 3 else None
        except ValueError as error:
            raise ValueError(f"{variable}={text!r}: {error}") from None
        return cls(table, dataset, project)

    def within(self, dataset: str) -> TableRef:
        """Qualified with rl-assets' own dataset when it names none."""
        return self if self.dataset else TableRef(self.table, dataset, self.project)

    def sql(self) -> str:
        parts = (
            ([f"`{self.project}`"] if self.project else []) + ([self.dataset] if self.dataset else []) + [self.table]
        )
        return ".".join(parts)

    def __str__(self) -> str:
        return ".".join(p for p in (self.project, self.dataset, self.table) if p)


# ---- source column types, as each backend names them
def type_family(warehouse_type: str, dialect: str) -> str:
    """STRING, INT64, FLOAT64, NUMERIC, BOOL, DATE, DATETIME (no zone) or TIMESTAMP (an instant)."""
    t = warehouse_type.upper().strip()
    if dialect == "duckdb":
        if t.startswith("TIMESTAMP WITH TIME ZONE") or t == "TIMESTAMPTZ":
            return "TIMESTAMP"
        if t.startswith("TIMESTAMP"):
            return "DATETIME"
        if t in ("VARCHAR", "TEXT", "STRING") or t.startswith("VARCHAR"):
            return "STRING"
        if t in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT"):
            return "INT64"
        if t in ("DOUBLE", "FLOAT", "REAL"):
            return "FLOAT64"
        if t.startswith("DECIMAL"):
            return "NUMERIC"
        if t == "BOOLEAN":
            return "BOOL"
        return t
    return {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "BIGNUMERIC": "NUMERIC"}.get(t, t)


NUMBERS = ("INT64", "FLOAT64", "NUMERIC")


@cache
def _early_closes() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """NYSE sessions that close before 16:00, grouped by their close time (New York wall time)."""
    nyse = calendar.nyse()
    closes = nyse.closes.dt.tz_convert(NEW_YORK)
    early = closes[closes.dt.time != pd.Timestamp("16:00").time()]
    grouped: dict[str, list[str]] = {}
    for session, close in early.items():
        grouped.setdefault(close.strftime("%H, %M, %S"), []).append(session.strftime("%Y-%m-%d"))
    return tuple((time, tuple(days)) for time, days in sorted(grouped.items()))


def session_close(day_expression: str) -> str:
    """The New York close of the session on `day_expression` (a DATE): 16:00, or the early close."""
    cases = " ".join(
        f"WHEN {day_expression} IN ({', '.join(f'DATE {d!r}' for d in days)}) THEN TIME({time})"
        for time, days in _early_closes()
    )
    close = f"CASE {cases} ELSE TIME(16, 0, 0) END" if cases else "TIME(16, 0, 0)"
    return f"TIMESTAMP(DATETIME({day_expression}, {close}), '{NEW_YORK}')"


@cache
def _saturdays_after_holiday_fridays() -> tuple[str, ...]:
    """Saturdays whose Friday is not an NYSE session (Good Friday): a monthly listed on such a Saturday
    last traded on the Thursday."""
    nyse = calendar.nyse()
    weekdays = pd.bdate_range(nyse.first_session, nyse.last_session)
    fridays = weekdays[(weekdays.dayofweek == 4) & ~weekdays.isin(nyse.sessions)]
    return tuple((friday + pd.Timedelta(days=1)).strftime("%Y-%m-%d") for friday in fridays)


def expiration_session(date_expression: str) -> str:
    """The last session on or before a listed expiration: monthlies listed before 2015 expire on the
    Saturday after the third Friday (the Friday, or the Thursday before Good Friday, was their last
    session); every other date is kept as listed."""
    holiday = ", ".join(f"DATE {d!r}" for d in _saturdays_after_holiday_fridays())
    friday = f"DATE_SUB({date_expression}, INTERVAL 1 DAY)"
    if holiday:
        friday = f"IF({date_expression} IN ({holiday}), DATE_SUB({date_expression}, INTERVAL 2 DAY), {friday})"
    return f"IF({is_saturday(date_expression)}, {friday}, {date_expression})"


def is_saturday(date_expression: str) -> str:
    # Days since a Saturday (2000-01-01), modulo 7: the same in every dialect, unlike DAYOFWEEK's numbering.
    return f"MOD(DATE_DIFF({date_expression}, DATE '2000-01-01', DAY), 7) = 0"


def _literal(value) -> str:
    if isinstance(value, bool):
        raise FormatError("true/false is not a sentinel value")
    if isinstance(value, int | float):
        return f"CAST({value!r} AS FLOAT64)" if isinstance(value, float) else str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class _Mapper:
    """Builds each contract column's expression over the source row `src` (derived columns inline
    the expressions they derive from)."""

    kind: str  # "chain" or "price"
    format_name: str
    rule_of: Callable[[str], ColumnRule | None]
    target_types: Mapping[str, str]
    table: TableRef
    columns: Mapping[str, str]  # source column -> warehouse type
    dialect: str
    wide: bool = False
    joins: dict[str, str] = field(default_factory=dict)
    listed_expiration: str | None = None  # the expiration as the source lists it (a Saturday before 2015)
    _done: dict[str, str] = field(default_factory=dict)
    _busy: set[str] = field(default_factory=set)

    def fail(self, column: str, problem: str) -> FormatError:
        return FormatError(f"{self.kind} format {self.format_name!r}, columns.{column}: {problem}")

    def resolve(self, contract_column: str, name: str) -> str | None:
        """The source's own spelling of `name`: exact, else ignoring case and surrounding spaces."""
        if name in self.columns:
            return name
        matches = [c for c in self.columns if c.strip().casefold() == name.strip().casefold()]
        if len(matches) > 1:
            raise self.fail(contract_column, f"column {name!r} matches several source columns {matches}")
        return matches[0] if matches else None

    def source(self, contract_column: str, rule: ColumnRule, name: str) -> tuple[str, str] | None:
        found = self.resolve(contract_column, name)
        if found is None:
            if rule.optional:
                return None
            shown = ", ".join(repr(c) for c in self.columns)
            raise self.fail(contract_column, f"reads column {name!r}, which {self.table} lacks (its columns: {shown})")
        return f"src.`{found}`", type_family(self.columns[found], self.dialect)

    def expression(self, column: str) -> str:
        if column in self._done:
            return self._done[column]
        if column in self._busy:
            raise self.fail(column, "derives from itself through other derived columns")
        self._busy.add(column)
        rule = self.rule_of(column)
        target = self.target_types[column]
        if rule is None:
            text = "leg" if self.wide and column == "option_type" else f"CAST(NULL AS {target})"
        elif rule.derive is not None:
            text = self.derived(column, rule.derive)
        elif rule.constant is not None:
            text = f"CAST({_literal(rule.constant)} AS {target})"
        else:
            text = self.read(column, rule, target)
        if self.kind == "chain" and column == "expiration" and rule is not None:
            self.listed_expiration = text
            text = expiration_session(text)
        self._busy.discard(column)
        self._done[column] = text
        return text

    def raw(self, column: str, rule: ColumnRule) -> tuple[str, str] | None:
        """The source value before any conversion (the leg's column in a wide layout)."""
        if rule.column is not None:
            return self.source(column, rule, rule.column)
        call, put = self.source(column, rule, rule.call_column), self.source(column, rule, rule.put_column)
        if call is None or put is None:
            return None
        if call[1] != put[1]:  # e.g. a text file's blank put volumes typed the column as text: read both as text
            return f"IF(leg = 'call', CAST({call[0]} AS STRING), CAST({put[0]} AS STRING))", "STRING"
        return f"IF(leg = 'call', {call[0]}, {put[0]})", call[1]

    def read(self, column: str, rule: ColumnRule, target: str) -> str:
        found = self.raw(column, rule)
        if found is None:
            return f"CAST(NULL AS {target})"
        value, family = found
        if rule.null_if:
            if family != "STRING" and any(isinstance(v, str) for v in rule.null_if):
                raise self.fail(column, f"null_if has text values but the source column is {family}")
            numeric = all(isinstance(v, int | float) for v in rule.null_if)
            if family == "STRING" and numeric and target in NUMBERS:
                # A text file writes 0 as '0', '0.0' or '0.00': compared as numbers.
                sentinels = ", ".join(_literal(v) for v in rule.null_if)
                compared = f"SAFE_CAST(NULLIF(TRIM({value}), '') AS FLOAT64)"
            else:
                sentinels = ", ".join(_literal(str(v) if family == "STRING" else v) for v in rule.null_if)
                compared = f"TRIM({value})" if family == "STRING" else value
            value = f"IF({compared} IN ({sentinels}), NULL, {value})"
        if rule.scale is not None and family not in NUMBERS and target not in NUMBERS:
            raise self.fail(column, f"scale applies to numbers; the source column is {family}")
        converted = self.convert(column, rule, value, family, target)
        if rule.scale is not None:
            converted = f"({converted} * {rule.scale!r})"
        return converted

    def convert(self, column: str, rule: ColumnRule, value: str, family: str, target: str) -> str:
        if rule.epoch is not None and family not in ("INT64", "FLOAT64", "NUMERIC", "STRING"):
            raise self.fail(column, f"epoch needs a numeric column; the source column is {family}")
        if rule.date_format is not None and family in NUMBERS + ("BOOL",):
            raise self.fail(column, f"date_format parses text; the source column is {family}")
        if target == "STRING":
            # Surrounding spaces are the file's padding (', '-separated OptionsDX), not the value.
            text = f"TRIM({value})" if family == "STRING" else f"CAST({value} AS STRING)"
            if rule.values:
                cases = " ".join(
                    f"WHEN {_literal(k.strip().upper())} THEN {_literal(v)}" for k, v in rule.values.items()
                )
                return f"CASE UPPER({text}) {cases} ELSE {text} END"
            return text
        if rule.values:
            raise self.fail(column, "values maps text; this contract column is not text")
        if family == "STRING" and target in NUMBERS:
            value = f"NULLIF(TRIM({value}), '')"  # a blank field in a text file is a missing value
        if target == "FLOAT64":
            return value if family == "FLOAT64" else f"CAST({value} AS FLOAT64)"
        if target == "INT64":
            if family == "FLOAT64":
                return f"CAST(IF(IS_NAN({value}), NULL, {value}) AS INT64)"
            return value if family == "INT64" else f"CAST({value} AS INT64)"
        if target == "BOOL":
            if family == "BOOL":
                return value
            if family in ("STRING", "INT64"):
                return f"CAST({f'TRIM({value})' if family == 'STRING' else value} AS BOOL)"
            raise self.fail(column, f"cannot read true/false from a {family} column")
        if target == "DATE":
            if rule.stamp is not None:
                raise self.fail(column, "stamp applies to quote_time")
            return self.as_date(column, rule, value, family)
        if target == "TIMESTAMP":
            zone = rule.timezone or NEW_YORK
            if rule.stamp == "session_close":
                return session_close(self.as_date(column, rule, value, family))
            if rule.epoch is not None:
                return self.from_epoch(value, family, rule.epoch)
            if family == "TIMESTAMP":
                return value
            if family == "DATETIME":
                return f"TIMESTAMP({value}, '{zone}')"
            if family == "STRING":
                if rule.date_format and re.search(r"%E?[zZ]", rule.date_format):
                    return f"PARSE_TIMESTAMP({_literal(rule.date_format)}, TRIM({value}))"  # the text has its zone
                if rule.date_format:
                    return f"TIMESTAMP(PARSE_DATETIME({_literal(rule.date_format)}, TRIM({value})), '{zone}')"
                if rule.timezone:  # ISO text without an offset, in that zone
                    return f"TIMESTAMP(TRIM({value}), '{rule.timezone}')"
                return f"TIMESTAMP(TRIM({value}))"  # ISO text: its own offset, else UTC
            if family == "DATE":
                raise self.fail(column, "the source column is a DATE: give stamp: session_close")
            raise self.fail(column, f"cannot read a time from a {family} column")
        raise self.fail(column, f"unsupported contract type {target}")

    def from_epoch(self, value: str, family: str, epoch: Epoch) -> str:
        whole = value if family == "INT64" else f"CAST({value} AS INT64)"
        return {
            Epoch.S: f"TIMESTAMP_SECONDS({whole})",
            Epoch.MS: f"TIMESTAMP_MILLIS({whole})",
            Epoch.US: f"TIMESTAMP_MICROS({whole})",
            Epoch.NS: f"TIMESTAMP_MICROS(DIV({whole}, 1000))",
        }[epoch]

    def as_date(self, column: str, rule: ColumnRule, value: str, family: str) -> str:
        if rule.epoch is not None:
            # An epoch date (Yahoo's expirations) is midnight UTC of that date unless told otherwise.
            return f"DATE({self.from_epoch(value, family, rule.epoch)}, '{rule.timezone or 'UTC'}')"
        if family == "DATE":
            return value
        if family == "TIMESTAMP":
            return f"DATE({value}, '{rule.timezone or NEW_YORK}')"
        if family == "DATETIME":
            return f"DATE({value})"
        if family == "STRING":
            if rule.date_format:
                return f"PARSE_DATE({_literal(rule.date_format)}, TRIM({value}))"
            return f"CAST(TRIM({value}) AS DATE)"
        raise self.fail(column, f"cannot read a date from a {family} column")

    def derived(self, column: str, derive: Derived) -> str:
        if self.kind != "chain":
            raise self.fail(column, "derive applies to chain formats")

        def uses(other: str) -> str:
            if self.rule_of(other) is None and not (self.wide and other == "option_type"):
                raise self.fail(column, f"derive: {derive.value} needs a rule for {other}")
            return self.expression(other)

        if derive == Derived.MID:
            return f"(({uses('bid')} + {uses('ask')}) / 2)"
        if derive == Derived.DTE:
            return f"DATE_DIFF({uses('expiration')}, DATE({uses('quote_time')}, '{NEW_YORK}'), DAY)"
        if derive == Derived.PRICE_CLOSE:
            self.joins["price"] = (
                f"LEFT JOIN price_data AS price ON price.ticker = {uses('underlying')} "
                f"AND price.date = DATE({uses('quote_time')}, '{NEW_YORK}')"
            )
            return "price.close"
        if derive == Derived.OCC_SYMBOL:
            kind = f"IF({uses('option_type')} = 'call', 'C', 'P')"
            strike = f"LPAD(CAST(CAST(ROUND({uses('strike')} * 1000) AS INT64) AS STRING), 8, '0')"
            rule = self.rule_of(column)
            root = uses("underlying")
            if rule is not None and rule.column is not None:  # the OCC root (Cboe's SPXW), not the underlying
                found = self.source(column, rule, rule.column)
                root = root if found is None else f"TRIM(CAST({found[0]} AS STRING))"
            return f"CONCAT({root}, FORMAT_DATE('%y%m%d', {uses('expiration')}), {kind}, {strike})"
        rule = self.rule_of(column)
        if rule is not None and rule.column is not None:  # the symbol is read from this source column
            found = self.source(column, rule, rule.column)
            symbol = "CAST(NULL AS STRING)" if found is None else f"TRIM({found[0]})"
        else:
            symbol = uses("contract_symbol")
        # The last 15 characters of an OCC symbol are fixed-width (YYMMDD, C/P, strike x 1000): read by
        # position, which costs a third less than a regex group per part on a full-market chain; one
        # REGEXP_CONTAINS keeps a symbol that is not OCC at NULL (refused as a missing key).
        tail = f"RIGHT({symbol}, 15)"
        if derive == Derived.OCC_EXPIRATION:
            part = f"PARSE_DATE('%y%m%d', SUBSTR({tail}, 1, 6))"
        elif derive == Derived.OCC_OPTION_TYPE:
            part = f"CASE SUBSTR({tail}, 7, 1) WHEN 'C' THEN 'call' WHEN 'P' THEN 'put' END"
        elif derive == Derived.OCC_STRIKE:
            part = f"(CAST(SUBSTR({tail}, 8, 8) AS INT64) / 1000)"
        else:  # the root, before the padding, without Polygon's prefix
            root = f"RTRIM(LEFT({symbol}, LENGTH({symbol}) - 15))"
            part = f"IF(STARTS_WITH({root}, 'O:'), SUBSTR({root}, 3), {root})"
        return f"IF(REGEXP_CONTAINS({symbol}, r'{OCC_PATTERN}'), {part}, NULL)"


def _contract_types(create_statement: str) -> dict[str, str]:
    return {name: kind.split("(")[0] for name, kind in sql.column_types(create_statement).items()}


@dataclass(frozen=True)
class ChainSource:
    """The live chain as a format reads it: a SELECT of the contract's columns over `table`."""

    format: ChainFormat
    table: TableRef
    columns: dict[str, str]  # the source's columns -> warehouse type
    dialect: str
    def __post_init__(self) -> None:
        self.select()  # a format that does not fit the table fails here, naming the column

    def session_rows_select(self, day: dt.date) -> str:
        """The table's own rows (all its columns, as they are) quoted on `day` (New York): one
        session of a file that holds several."""
        mapper = _chain_mapper(self)
        quote_date = f"DATE({mapper.expression('quote_time')}, '{NEW_YORK}')"
        text = f"SELECT src.* FROM {self.table.sql()} AS src\nWHERE {quote_date} = DATE '{day:%Y-%m-%d}'"
        sql.check_text(text, where=f"the rows of one session, chain format {self.format.name!r}")
        return text

    def sessions_select(self) -> str:
        """Per New York quote date of the whole table: rows (contracts) and how many list their
        expiration on a Saturday (read as the session before, expiration_session)."""
        mapper = _chain_mapper(self)
        quote_date = f"DATE({mapper.expression('quote_time')}, '{NEW_YORK}')"
        mapper.expression("expiration")
        saturday = is_saturday(mapper.listed_expiration)
        text = (
            f"SELECT {quote_date} AS quote_date, COUNT(*) AS row_count, COUNTIF({saturday}) AS saturday_expirations"
            f"\nFROM {self.table.sql()} AS src{_legs(mapper)}\nGROUP BY quote_date"
        )
        sql.check_text(text, where=f"the sessions of chain format {self.format.name!r}")
        return text

    @property
    def identity(self) -> bool:
        """The table holds exactly the contract's columns, read as they are: the row is the contract."""
        return (
            self.format.name == CONTRACT
            and self.format.layout == "long"
            and not self.format.placeholder_iv
            and all(self.format.columns.get(c) == ColumnRule(column=c) for c in OPTIONS_CHAIN_COLUMNS)
            and list(self.columns) == OPTIONS_CHAIN_COLUMNS
        )

    def select(self, computed_table: str | None = None) -> str:
        """The contract's columns and PROVENANCE_COLUMNS, one row per contract (two per wide row).
        `computed_table` (contract_symbol, quote_time, implied_volatility and the greeks) fills what
        the vendor lacks."""
        return _chain_select(self, computed_table)


def _chain_mapper(source: ChainSource) -> _Mapper:
    fmt = source.format
    return _Mapper(
        "chain", fmt.name, fmt.rule, _contract_types("create_options_chain"), source.table, source.columns,
        source.dialect, wide=fmt.layout == "wide",
    )  # fmt: skip


def _legs(mapper: _Mapper) -> str:
    return " CROSS JOIN UNNEST(['call', 'put']) AS leg" if mapper.wide else ""


def _chain_select(source: ChainSource, computed_table: str | None) -> str:
    fmt = source.format
    mapper = _chain_mapper(source)
    vendor = {c: mapper.expression(c) for c in OPTIONS_CHAIN_COLUMNS}
    if fmt.placeholder_iv:
        raw = mapper.raw("implied_volatility", fmt.columns["implied_volatility"])
        if raw is not None:
            number = raw[0] if raw[1] in NUMBERS else f"SAFE_CAST(NULLIF(TRIM({raw[0]}), '') AS FLOAT64)"
            # Matched to 1e-9 relative: Yahoo's 1e-05 placeholder is stored as 1.0000000000000003e-05.
            matches = " OR ".join(
                f"ABS({number} - {_literal(float(v))}) <= {_literal(abs(float(v)) * 1e-9)}" for v in fmt.placeholder_iv
            )
            for column in ["implied_volatility", *GREEKS]:
                vendor[column] = f"IF({matches}, NULL, {vendor[column]})"
    values = dict(vendor)
    computed = computed_table is not None
    if computed:
        mapper.joins["computed"] = (
            f"LEFT JOIN {computed_table} AS computed ON computed.contract_symbol = {vendor['contract_symbol']} "
            f"AND computed.quote_time = {vendor['quote_time']}"
        )
        for column in ["implied_volatility", *GREEKS]:
            values[column] = f"COALESCE({vendor[column]}, computed.{column})"

    def source_of(columns: list[str]) -> str:
        present = [f"{vendor[c]} IS NOT NULL" for c in columns]
        if not computed:
            return f"IF({' AND '.join(present)}, '{VENDOR}', NULL)"
        filled = [f"computed.{c} IS NOT NULL" for c in columns]
        return (
            f"CASE WHEN {' AND '.join(present)} THEN '{VENDOR}' "
            f"WHEN NOT ({' OR '.join(present)}) AND {' AND '.join(filled)} THEN '{COMPUTED}' "
            f"WHEN {' OR '.join(present)} AND {' AND '.join(f'({p} OR {f})' for p, f in zip(present, filled, strict=True))} "
            f"THEN '{MIXED}' END"
        )

    source_row = "CAST(NULL AS STRING)" if source.identity else "TO_JSON_STRING(src)"
    provenance = [source_row, source_of(["implied_volatility"]), source_of(GREEKS)]
    selected = [f"{values[c]} AS {c}" for c in OPTIONS_CHAIN_COLUMNS] + [
        f"{text} AS {c}" for text, c in zip(provenance, PROVENANCE_COLUMNS, strict=True)
    ]
    text = (
        "SELECT " + ",\n  ".join(selected) + f"\nFROM {source.table.sql()} AS src{_legs(mapper)}"
        + "".join(f"\n{join}" for join in mapper.joins.values())
    )  # fmt: skip
    sql.check_text(text, where=f"the SELECT of chain format {fmt.name!r}")  # strictly BigQuery
    return text


@dataclass(frozen=True)
class PriceSource:
    """A daily-bar table as a format reads it: a SELECT of price_data's columns over `table`."""

    format: PriceFormat
    table: TableRef
    columns: dict[str, str]
    dialect: str

    def __post_init__(self) -> None:
        self.select()

    def select(self) -> str:
        return _price_select(self)


def _price_select(source: PriceSource) -> str:
    mapper = _Mapper(
        "price", source.format.name, source.format.rule, _contract_types("create_price_data"), source.table,
        source.columns, source.dialect,
    )  # fmt: skip
    # A bar is real unless the table says otherwise: no rule, an absent optional column or NULL is FALSE.
    selected = [
        f"COALESCE({mapper.expression(c)}, FALSE) AS {c}" if c == "close_only" else f"{mapper.expression(c)} AS {c}"
        for c in PRICE_DATA_COLUMNS
    ]
    text = "SELECT " + ",\n  ".join(selected) + f"\nFROM {source.table.sql()} AS src"
    sql.check_text(text, where=f"the SELECT of price format {source.format.name!r}")
    return text
