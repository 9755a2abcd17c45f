"""Build rl_state and rl_dataset inside the warehouse (sql/insert_rl_state.sql, insert_rl_dataset.sql).

Each build replaces a range of trading days in one transaction, like the archive: a re-run never
duplicates rows, a failure never leaves half a range. rl_dataset refuses, writing nothing, unless
every snapshot and price its labels need has landed: labels are never invented for an incomplete
window. Inside the transaction, each build counts what it wrote: a key (snapshot_date,
contract_symbol) held twice, or rl_dataset rows differing from rl_state's, refuses the write and
names the duplicated source rows that caused it. Works on any backend with the interface of
DuckDBBackend.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from rl_assets import calendar, quality
from rl_assets.archive import dates_present, sessions_without_data
from rl_assets.reward import HORIZON_DAYS, TAKE_PROFIT, label_windows
from rl_assets.warehouse.backend import LABEL_WINDOWS_TABLE, staged


class DatasetRefused(RuntimeError):
    """The inputs for these trading days are incomplete or would break a key; nothing was written."""


@dataclass(frozen=True)
class BuildReport:
    by_day: pd.DataFrame  # per-day counts: snapshot_date, row_count (rl_dataset: sql/rl_dataset_summary.sql)

    @property
    def rows(self) -> int:
        return int(self.by_day["row_count"].sum())

    @property
    def rows_by_day(self) -> dict[str, int]:
        return {
            str(pd.Timestamp(d).date()): int(n)
            for d, n in zip(self.by_day["snapshot_date"], self.by_day["row_count"], strict=True)
        }


def _refuse_if_missing(warehouse, what: str, needed: list[dt.date], present: set[dt.date], remedy: str) -> None:
    """DatasetRefused naming the days of `needed` not in `present`, but the sessions known to have
    no data (archive.sessions_without_data: asked only when a day is missing)."""
    missing = [d for d in needed if d not in present]
    if missing:
        empty = sessions_without_data(warehouse, missing[0], missing[-1])
        missing = [d for d in missing if d not in empty]
    if missing:
        shown = ", ".join(str(d) for d in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DatasetRefused(f"{what} has no rows for {shown}: {remedy}; nothing was written")


# Source tables whose duplicated keys multiply a build's rows: statement, what a row is.
_DUPLICATE_SOURCES = {
    "options_chain_history": ("options_chain_history_duplicate_keys", "rows"),
    "technicals_history": ("technicals_history_duplicate_keys", "rows"),
    "price_data": ("price_data_duplicate_keys", "bars"),
}


def _key_problems(subject: str, by_day: pd.DataFrame, expected_rows: dict[dt.date, int] | None = None) -> list[str]:
    """Days on which `by_day` (snapshot_date, row_count, contracts) holds a key twice or, given
    `expected_rows` (rl_state's per day), a row count other than those; `subject` starts each
    sentence ("rl_dataset would hold")."""
    counts = {
        pd.Timestamp(d).date(): (int(n), int(k))
        for d, n, k in zip(by_day["snapshot_date"], by_day["row_count"], by_day["contracts"], strict=True)
    }
    problems = []
    for day in sorted(set(counts) | set(expected_rows or {})):
        rows, contracts = counts.get(day, (0, 0))
        if rows != contracts:
            problems.append(f"{subject} {rows} rows for {contracts} contracts on {day}")
        elif expected_rows is not None and rows != expected_rows.get(day, 0):
            problems.append(f"{subject} {rows} rows on {day} for rl_state's {expected_rows.get(day, 0)}")
    return problems


def _refuse_broken_keys(warehouse, problems: list[str], sources: dict[str, dict], remedy: str) -> None:
    """Raise DatasetRefused naming `problems` and the duplicated keys of `sources` (table -> the
    window to look in) that explain them."""
    if not problems:
        return
    causes = []
    for source, window in sources.items():
        statement, noun = _DUPLICATE_SOURCES[source]
        for row in warehouse.query(statement, window).itertuples(index=False):
            key, day, copies = row
            causes.append(f"{source} has {int(copies)} {noun} for ({key}, {pd.Timestamp(day).date()})")
    shown = "; ".join(problems[:5]) + (f" and {len(problems) - 5} more days" if len(problems) > 5 else "")
    if sources:
        shown += f" ({'cause: ' + '; '.join(causes) if causes else 'no duplicated key in ' + ', '.join(sources)})"
    raise DatasetRefused(f"{shown}: {remedy}; nothing was written")


def build_rl_state(warehouse, start: dt.date, end: dt.date) -> BuildReport:
    """Replace rl_state[start..end] from options_chain_history and technicals_history of the same days.

    Refuses (DatasetRefused, nothing written) when a source lacks a day, or when what was written
    holds a (snapshot_date, contract_symbol) twice: a source key held twice, named in the message.
    """
    days = calendar.trading_days(start, end)
    if not days:
        raise ValueError(f"no NYSE trading day between {start} and {end}")
    window = {"start_date": days[0], "end_date": days[-1]}
    _refuse_if_missing(
        warehouse,
        "options_chain_history",
        days,
        dates_present(warehouse.query("options_chain_history_row_counts", window), "snapshot_date"),
        "archive those days first",
    )
    technicals_days = warehouse.query("technicals_history_row_counts", window)
    _refuse_if_missing(
        warehouse, "technicals_history", days, dates_present(technicals_days, "date"), "compute them first"
    )
    with warehouse.transaction():
        warehouse.execute("delete_rl_state_range", window)
        for block in calendar.blocks(days, warehouse.days_per_statement):
            warehouse.execute(
                "insert_rl_state",
                {
                    "start_date": block[0],
                    "end_date": block[-1],
                    "intrinsic_tolerance": quality.INTRINSIC_TOLERANCE,
                    "carry_rate": quality.CARRY_RATE,
                },
            )
        counts = warehouse.query("rl_state_row_counts", window)
        _refuse_broken_keys(
            warehouse,
            _key_problems("rl_state would hold", counts),
            {"options_chain_history": window, "technicals_history": window},
            "remove the duplicated rows (one per key) and rebuild",
        )
    return BuildReport(counts)


def build_rl_dataset(warehouse, start: dt.date, end: dt.date) -> BuildReport:
    """Replace rl_dataset[start..end]: rl_state of those days with their outcomes.

    Refuses (DatasetRefused, nothing written) unless rl_state has every day, options_chain_history
    every label day (the next HORIZON_DAYS sessions of each) and price_data every day from start
    to the last label day; and when rl_state holds a key twice, or what was written holds a key
    twice or differs from rl_state's rows on a day (a price bar held twice, named in the message).
    """
    days = calendar.trading_days(start, end)
    if not days:
        raise ValueError(f"no NYSE trading day between {start} and {end}")
    windows = label_windows(days)
    label_start, label_end = windows["day_1"].min(), windows[f"day_{HORIZON_DAYS}"].max()
    label_days = calendar.trading_days(label_start, label_end)
    remedy = f"labels for {days[-1]} need the snapshots through {label_end}"
    _refuse_if_missing(
        warehouse,
        "options_chain_history",
        label_days,
        dates_present(
            warehouse.query("options_chain_history_row_counts", {"start_date": label_start, "end_date": label_end}),
            "snapshot_date",
        ),
        f"{remedy} (T+{HORIZON_DAYS} has not landed or was not archived)",
    )
    _refuse_if_missing(
        warehouse,
        "price_data",
        calendar.trading_days(days[0], label_end),
        dates_present(warehouse.query("price_data_row_counts", {"start_date": days[0], "end_date": label_end}), "date"),
        f"{remedy} and the closes through {label_end}",
    )
    window = {"start_date": days[0], "end_date": days[-1]}
    with staged(warehouse, LABEL_WINDOWS_TABLE, windows) as tables, warehouse.transaction():
        # rl_state as the insert reads it: every day present, each key once.
        state_counts = warehouse.query("rl_state_row_counts", window)
        _refuse_if_missing(
            warehouse,
            "rl_state",
            days,
            dates_present(state_counts, "snapshot_date"),
            "materialise rl_state for those days first",
        )
        _refuse_broken_keys(
            warehouse, _key_problems("rl_state holds", state_counts), {}, "rebuild rl_state for those days first"
        )
        warehouse.execute("delete_rl_dataset_range", window)
        for block in calendar.blocks(days, warehouse.days_per_statement):
            block_windows = windows[windows["snapshot_date"].between(block[0], block[-1])]
            params = {
                "start_date": block[0],
                "end_date": block[-1],
                "label_start": block_windows["day_1"].min(),
                "label_end": block_windows[f"day_{HORIZON_DAYS}"].max(),
                "take_profit": TAKE_PROFIT,
            }
            warehouse.execute("insert_rl_dataset", params, tables=tables)
        summary = warehouse.query("rl_dataset_summary", window)
        state_rows, written_rows = (
            {pd.Timestamp(d).date(): int(n) for d, n in zip(counts["snapshot_date"], counts["row_count"], strict=True)}
            for counts in (state_counts, summary)
        )
        # rl_state holds each key once (checked above) and each of its rows gives at least one row
        # here (an inner join on its day's one label window, left joins otherwise): rl_state's row
        # counts mean each key once, and only other counts need the keys counted, to name the cause.
        if written_rows != state_rows:
            _refuse_broken_keys(
                warehouse,
                _key_problems("rl_dataset would hold", warehouse.query("rl_dataset_row_counts", window), state_rows),
                {"price_data": {"start_date": days[0], "end_date": label_end}},
                "remove the duplicated rows (one per key) and rebuild",
            )
    return BuildReport(summary)
