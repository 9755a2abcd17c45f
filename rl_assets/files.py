"""History from files: a vendor's end-of-day chain files (a folder or glob of CSV, CSV.gz or Parquet,
one session or many per file) archived into options_chain_history session by session, read through
a chain format, with the live path's guards and atomic per-day replacement (archive.archive_chain).

What real files contain, and what happens to it (each named in the FilesImport report):
- a file named for a day that is not a session (the holiday copy a scraper wrote) is not read; rows
  quoted on a day that is not a session are never archived;
- a session of the run that no file holds is named; the sessions that have data are archived;
- a session two files hold is archived from the first (in name order), the other file named;
- a file holding several sessions is split by the quotes' New York date;
- rows without a quote date are left out, counted per file;
- exact duplicate rows are dropped and counted; two different rows for one contract refuse that
  session (archive_chain names the contract), not the others;
- expirations listed on a Saturday (monthlies before 2015) are read as the session before
  (formats.select.expiration_session), counted.

A file's name may carry its date (2016-12-27, 20161227, 2016_12_27): then a run skips files dated
outside its range without reading them. Each file is loaded into a staging table of its own
(warehouse.load_file), read once for its sessions, and dropped: memory does not grow with the range.
"""

from __future__ import annotations

import datetime as dt
import glob
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from rl_assets import calendar
from rl_assets.archive import (
    ArchiveRefused,
    ArchiveReport,
    archive_chain,
    live_chain_source,
    record_sessions_without_data,
)
from rl_assets.formats.model import ChainFormat, FormatError, PriceFormat, load_chain_format, load_price_format
from rl_assets.formats.select import ChainSource, PriceSource, TableRef
from rl_assets.warehouse.backend import FILE_STAGING_TABLE, staged_file, staging_table
from rl_assets.warehouse.file_tables import FILE_SUFFIXES, GCS_PREFIX, file_kind

CHAIN_FILES_VARIABLE = "RL_ASSETS_CHAIN_FILES"
PRICE_FILES_VARIABLE = "RL_ASSETS_PRICE_FILES"
_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})[-_]?(\d{2})[-_]?(\d{2})(?!\d)")


def list_files(spec: str, variable: str = CHAIN_FILES_VARIABLE) -> list[str]:
    """The files `spec` names, in name order: a folder (every CSV, CSV.gz and Parquet file under it),
    a glob, one file, or a gs:// URI (wildcards allowed; BigQuery only, loaded as one file). A
    ValueError names the variable and what is wrong."""
    spec = spec.strip()
    if not spec:
        raise ValueError(f"{variable} is empty: give a folder, a glob or a file")
    if spec.startswith(GCS_PREFIX):
        file_kind(spec.replace("*", ""))  # a ValueError names a URI of another kind
        return [spec]
    path = Path(spec).expanduser()
    if path.is_dir():
        found = [str(p) for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(FILE_SUFFIXES)]
    elif path.is_file():
        file_kind(str(path))  # a ValueError names a file of another kind
        found = [str(path)]
    elif glob.has_magic(spec):
        found = [p for p in glob.glob(str(path), recursive=True) if Path(p).is_file()]
        found = [p for p in found if p.lower().endswith(FILE_SUFFIXES)]
    else:
        raise ValueError(f"{variable}={spec!r}: no such file or folder")
    if not found:
        raise ValueError(f"{variable}={spec!r}: no {', '.join(FILE_SUFFIXES)} files there")
    return sorted(found, key=lambda p: (Path(p).name, p))


def date_in_name(path: str) -> dt.date | None:
    """The one date a file's name carries (YYYY-MM-DD, YYYYMMDD or YYYY_MM_DD), else None."""
    found = set()
    for year, month, day in _DATE_IN_NAME.findall(Path(path).name):
        try:
            found.add(dt.date(int(year), int(month), int(day)))
        except ValueError:
            continue
    return found.pop() if len(found) == 1 else None


@dataclass
class FilesImport:
    """What a run took from the files, and what it left out and why."""

    files_read: list[str] = field(default_factory=list)
    archived: list[ArchiveReport] = field(default_factory=list)
    archived_from: dict[dt.date, str] = field(default_factory=dict)  # session -> the file it came from
    not_sessions: dict[str, list[dt.date]] = field(default_factory=dict)  # file -> its days that are not sessions
    sessions_without_data: list[dt.date] = field(default_factory=list)
    repeated_sessions: dict[dt.date, list[str]] = field(default_factory=dict)  # session -> later files skipped
    refused: dict[dt.date, str] = field(default_factory=dict)  # session -> why archive_chain refused it
    unreadable_files: dict[str, str] = field(default_factory=dict)  # file -> why
    duplicate_rows_dropped: dict[dt.date, int] = field(default_factory=dict)
    rows_without_quote_date: dict[str, int] = field(default_factory=dict)  # file -> rows
    saturday_expirations: int = 0  # rows of archived sessions listed on a Saturday

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.archived)

    def problems(self) -> list[str]:
        """What should fail the run: refused sessions and unreadable files (the rest is reported)."""
        return [f"{day}: {why}" for day, why in sorted(self.refused.items())] + [
            f"{path}: {why}" for path, why in self.unreadable_files.items()
        ]


def import_chain_files(
    warehouse,
    files: Sequence[str],
    chain_format: str | ChainFormat,
    days: Sequence[dt.date],
    archived_at: pd.Timestamp | None = None,
    log: Callable[[str], None] | None = None,
    source: str = "files",
) -> FilesImport:
    """Archive each of `days` (sessions) the files hold into options_chain_history, one session per
    transaction (archive_chain: the live path's guards, the day replaced atomically); record the
    sessions none of them holds in sessions_without_data (`source`: what was read, e.g. the folder)."""
    fmt = load_chain_format(chain_format) if isinstance(chain_format, str) else chain_format
    days = sorted(days)
    wanted = set(days)
    archived_at = pd.Timestamp(archived_at if archived_at is not None else pd.Timestamp.now(tz="UTC"))
    result = FilesImport()
    say = log or (lambda _message: None)
    for path in files:
        named = date_in_name(path)
        if named is not None and not days[0] <= named <= days[-1]:
            continue  # dated outside the run: not read
        if named is not None and not calendar.is_trading_day(named):
            result.not_sessions[path] = [named]
            say(f"{path}: named for {named} ({named:%A}), not an NYSE session: not read")
            continue
        try:
            with staged_file(warehouse, path) as (table, _rows):
                result.files_read.append(path)
                _import_file(warehouse, path, table, fmt, wanted, archived_at, result, say)
        except (ValueError, FormatError) as error:  # unreadable, or not in the format's layout
            result.unreadable_files[path] = str(error)
            say(f"{path}: {error}")
    result.sessions_without_data = [d for d in days if d not in result.archived_from and d not in result.refused]
    # Downstream assets treat these days as empty, not as unmaterialised (archive.sessions_without_data).
    record_sessions_without_data(warehouse, days[0], days[-1], result.sessions_without_data, source, archived_at)
    return result


def _import_file(warehouse, path, table, fmt, wanted, archived_at, result: FilesImport, say) -> None:
    try:
        source = live_chain_source(warehouse, TableRef(table, warehouse.dataset), fmt)
    except ArchiveRefused as refused:
        raise ValueError(str(refused)) from None
    sessions = _sessions(warehouse, source)
    todo = []
    for quote_date, row in sessions.items():
        if quote_date is None:
            result.rows_without_quote_date[path] = int(row["row_count"])
            say(f"{path}: {int(row['row_count'])} rows without a quote date left out")
        elif not calendar.is_trading_day(quote_date):
            result.not_sessions.setdefault(path, []).append(quote_date)
            say(f"{path}: {int(row['row_count'])} rows quoted on {quote_date} ({quote_date:%A}), not a session")
        elif quote_date in wanted and quote_date in result.archived_from:
            result.repeated_sessions.setdefault(quote_date, []).append(path)
            say(f"{path}: {quote_date} already archived from {result.archived_from[quote_date]}: not archived twice")
        elif quote_date in wanted:
            todo.append(quote_date)
    if len(sessions) == 1:  # the usual daily file: archived as it is
        for quote_date in todo:
            _archive_session(warehouse, path, table, source, quote_date, archived_at, sessions, result, say)
        return
    # Several dates (or rows without one): each session's rows are copied to a table of their own,
    # under one name, so every session's statements are the same text (rendered once).
    with staging_table(warehouse, FILE_STAGING_TABLE) as session_table:
        for quote_date in todo:
            warehouse.run_text(f"CREATE OR REPLACE TABLE {session_table} AS {source.session_rows_select(quote_date)}")
            session_source = live_chain_source(warehouse, TableRef(session_table, warehouse.dataset), fmt)
            _archive_session(
                warehouse, path, session_table, session_source, quote_date, archived_at, sessions, result, say
            )


def _archive_session(
    warehouse, path, table, source, quote_date, archived_at, sessions, result: FilesImport, say
) -> None:
    """archive_chain of one session; exact duplicate rows dropped (and counted) and retried once."""
    try:
        try:
            report = archive_chain(warehouse, quote_date, source, archived_at, source_name=path)
        except ArchiveRefused as refused:
            if refused.problems is None or not refused.problems.duplicate_rows:
                raise
            # A vendor's file written twice over: the exact copies go; rows that still differ for one
            # contract are refused below.
            before = int(sessions[quote_date]["row_count"])
            warehouse.run_text(f"CREATE OR REPLACE TABLE {table} AS SELECT DISTINCT * FROM {table}")
            left = int(warehouse.read_sql(f"SELECT COUNT(*) AS n FROM ({source.select()})")["n"].iloc[0])
            if before > left:
                result.duplicate_rows_dropped[quote_date] = before - left
                say(f"{path}: {before - left} exact duplicate rows dropped on {quote_date}")
            report = archive_chain(warehouse, quote_date, source, archived_at, source_name=path)
    except ArchiveRefused as refused:
        result.refused[quote_date] = str(refused)
        say(f"{path}: {quote_date} refused: {refused}")
        return
    result.archived.append(report)
    result.archived_from[quote_date] = path
    result.saturday_expirations += int(sessions[quote_date]["saturday_expirations"])
    say(f"archived {quote_date} from {path}: {report.rows} contracts")


def _sessions(warehouse, source: ChainSource) -> dict[dt.date | None, pd.Series]:
    """The table's rows per New York quote date (None: rows without one), in date order."""
    frame = warehouse.read_sql(source.sessions_select())
    by_date = {}
    for _, row in frame.iterrows():
        day = None if pd.isna(row["quote_date"]) else pd.Timestamp(row["quote_date"]).date()
        by_date[day] = row
    return dict(sorted(by_date.items(), key=lambda item: (item[0] is None, item[0] or dt.date.min)))


def read_price_files(
    warehouse, files: Sequence[str], price_format: str | PriceFormat, start: dt.date, end: dt.date
) -> pd.DataFrame:
    """The daily bars dated [start, end] in the price files (read through `price_format`), exact
    duplicate rows dropped; a ValueError names a file that cannot be read in that layout."""
    fmt = load_price_format(price_format) if isinstance(price_format, str) else price_format
    frames = []
    for path in files:
        named = date_in_name(path)
        if named is not None and not start <= named <= end:
            continue
        with staged_file(warehouse, path) as (table, _rows):
            ref = TableRef(table, warehouse.dataset)
            try:
                source = PriceSource(fmt, ref, warehouse.columns(table), warehouse.dialect)
            except FormatError as error:
                raise ValueError(f"{path}: {error}") from None
            frames.append(
                warehouse.read_sql(
                    f"SELECT * FROM ({source.select()}) WHERE date BETWEEN DATE '{start}' AND DATE '{end}'"
                )
            )
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).drop_duplicates(ignore_index=True)
