"""Data-quality rules for the archived tables, evaluated from in-warehouse counts per trading date.

Each rule yields a CheckOutcome; the assets turn them into Dagster asset check results. A run that
covers many trading days (a backfill) passes a rule only if every day passes it, and the outcome
names the days that did not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from rl_assets import calendar

ROW_DROP_WARNING = 0.30  # warn when a day has 30% fewer rows than the trading day before


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    description: str
    warn_only: bool = False
    metadata: dict = field(default_factory=dict)


def _bad_days(counts: pd.DataFrame, date_column: str, column: str) -> dict[str, int]:
    bad = counts[counts[column] > 0]
    return {str(pd.Timestamp(d).date()): int(n) for d, n in zip(bad[date_column], bad[column], strict=False)}


def _count_rule(name: str, counts: pd.DataFrame, date_column: str, column: str, what: str) -> CheckOutcome:
    bad = _bad_days(counts, date_column, column)
    total = int(counts[column].sum()) if len(counts) else 0
    return CheckOutcome(
        name=name,
        passed=not bad,
        description=f"{total} {what}" + (f" on {len(bad)} day(s)" if bad else ""),
        metadata={"offending_rows": total, "days_with_offending_rows": bad},
    )


def _missing_days(counts: pd.DataFrame, date_column: str, days: Sequence[dt.date]) -> list[str]:
    present = {pd.Timestamp(d).date() for d in counts[date_column]}
    return [str(d) for d in days if d not in present]


def _coverage_rule(
    name: str,
    members: pd.DataFrame,
    date_column: str,
    member_column: str,
    expected: Iterable[str],
    days: Sequence[dt.date],
    what: str,
) -> CheckOutcome:
    expected = set(expected)
    present: dict[dt.date, set[str]] = {d: set() for d in days}
    for day, member in zip(pd.to_datetime(members[date_column]).dt.date, members[member_column], strict=False):
        present.setdefault(day, set()).add(member)
    missing = {str(d): sorted(expected - present.get(d, set())) for d in days}
    missing = {d: names for d, names in missing.items() if names}
    return CheckOutcome(
        name=name,
        passed=not missing,
        description=(
            f"all {len(expected)} {what} present" if not missing else f"{what} missing on {len(missing)} day(s)"
        ),
        metadata={"expected": len(expected), "missing_by_day": {d: n[:20] for d, n in missing.items()}},
    )


def options_chain_history_outcomes(
    quality: pd.DataFrame,
    underlyings: pd.DataFrame,
    row_counts: pd.DataFrame,
    expected_underlyings: Iterable[str],
    days: Sequence[dt.date],
) -> list[CheckOutcome]:
    """Rules for options_chain_history over `days`.

    quality: sql/options_chain_history_quality.sql over the days; underlyings: its
    (snapshot_date, underlying) pairs; row_counts: rows per day from the trading day before the
    first of `days` through the last.
    """
    outcomes = [
        _count_rule(
            "unique_key", quality, "snapshot_date", "duplicate_keys", "duplicate (snapshot_date, contract_symbol) rows"
        ),
        _count_rule("bid_not_above_ask", quality, "snapshot_date", "crossed_quotes", "rows with bid > ask"),
        _count_rule(
            "no_negative_prices",
            quality,
            "snapshot_date",
            "negative_prices",
            "rows with a negative price or a non-positive strike/underlying price",
        ),
        _count_rule(
            "iv_in_range",
            quality,
            "snapshot_date",
            "iv_out_of_range",
            "rows with implied volatility missing or outside (0, 5]",
        ),
        _count_rule(
            "delta_sign_and_range",
            quality,
            "snapshot_date",
            "bad_delta",
            "rows with a delta outside [0, 1] for calls or [-1, 0] for puts",
        ),
        _coverage_rule(
            "every_underlying_present",
            underlyings,
            "snapshot_date",
            "underlying",
            expected_underlyings,
            days,
            "underlyings",
        ),
        row_count_drop_outcome(row_counts, "snapshot_date", days),
    ]
    missing = _missing_days(quality, "snapshot_date", days)
    if missing:  # an empty day fails every rule: it should not exist after an archive
        outcomes = [CheckOutcome(o.name, False, f"no rows on {missing}", o.warn_only, o.metadata) for o in outcomes]
    return outcomes


def price_data_outcomes(
    quality: pd.DataFrame, tickers: pd.DataFrame, expected_tickers: Iterable[str], days: Sequence[dt.date]
) -> list[CheckOutcome]:
    """Rules for price_data over `days` (sql/price_data_quality.sql and price_data_tickers.sql)."""
    outcomes = [
        _count_rule("unique_key", quality, "date", "duplicate_keys", "duplicate (ticker, date) rows"),
        _count_rule(
            "no_negative_prices",
            quality,
            "date",
            "negative_prices",
            "rows with a non-positive price or a negative volume",
        ),
        _count_rule(
            "consistent_bars", quality, "date", "inconsistent_bars", "rows whose high/low do not bound open and close"
        ),
        _coverage_rule("every_ticker_present", tickers, "date", "ticker", expected_tickers, days, "tickers"),
    ]
    missing = _missing_days(quality, "date", days)
    if missing:
        outcomes = [CheckOutcome(o.name, False, f"no rows on {missing}", o.warn_only, o.metadata) for o in outcomes]
    return outcomes


def row_count_drop_outcome(row_counts: pd.DataFrame, date_column: str, days: Sequence[dt.date]) -> CheckOutcome:
    """Warn when a day has ROW_DROP_WARNING fewer rows than the trading day before it."""
    counts = {
        pd.Timestamp(d).date(): int(n) for d, n in zip(row_counts[date_column], row_counts["row_count"], strict=False)
    }
    drops = {}
    for day in days:
        previous = calendar.shift_trading_days(day, -1)
        if previous in counts and counts[previous] > 0:
            change = counts.get(day, 0) / counts[previous] - 1.0
            if change < -ROW_DROP_WARNING:
                drops[str(day)] = {
                    "rows": counts.get(day, 0),
                    "previous_rows": counts[previous],
                    "change": round(change, 4),
                }
    return CheckOutcome(
        name="row_count_vs_previous_partition",
        passed=not drops,
        warn_only=True,
        description=(
            f"no day lost more than {ROW_DROP_WARNING:.0%} of the previous day's rows"
            if not drops
            else f"{len(drops)} day(s) lost more than {ROW_DROP_WARNING:.0%} of the previous day's rows"
        ),
        metadata={"drops": drops},
    )
