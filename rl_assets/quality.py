"""Data-quality rules for the archived tables, evaluated from in-warehouse counts per trading date.

Each rule yields a CheckOutcome; the assets turn them into Dagster asset check results. A run that
covers many trading days (a backfill) passes a rule only if every day passes it, and the outcome
names the days that did not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

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


def _failed_where_empty(
    outcomes: list[CheckOutcome], counts: pd.DataFrame, date_column: str, days: Sequence[dt.date]
) -> list[CheckOutcome]:
    """A day with no rows fails every rule: after its asset ran, it should not exist."""
    missing = _missing_days(counts, date_column, days)
    if not missing:
        return outcomes
    return [replace(o, passed=False, description=f"no rows on {missing}") for o in outcomes]


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
            "quotes_present", quality, "snapshot_date", "missing_quotes", "rows with a NULL or non-finite bid or ask"
        ),
        _count_rule(
            "expiration_not_before_snapshot",
            quality,
            "snapshot_date",
            "expired_before_snapshot",
            "rows whose expiration is before their snapshot date",
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
    return _failed_where_empty(outcomes, quality, "snapshot_date", days)


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
            "no_missing_values",
            quality,
            "date",
            "missing_values",
            "rows with a NULL or non-finite open/high/low/close or a NULL volume",
        ),
        _count_rule(
            "consistent_bars", quality, "date", "inconsistent_bars", "rows whose high/low do not bound open and close"
        ),
        _coverage_rule("every_ticker_present", tickers, "date", "ticker", expected_tickers, days, "tickers"),
    ]
    return _failed_where_empty(outcomes, quality, "date", days)


# price_data's close and the chain's underlying_price are both the day's raw close. On the synthetic
# market they are equal (both round the same simulated close to 4 decimals: measured gap 0.0). A
# real chain snaps its underlying price at or minutes around the close, and the closing auction
# moves a liquid name well under 1% from its last trade; 2% leaves room for that, while any split
# (a 3:2 split is a 33% gap, 4:1 is 75%) and back-adjusted prices (once their cumulative dividend
# adjustment passes 2%, about a year of a typical payer's dividends) fail.
UNDERLYING_PRICE_TOLERANCE = 0.02


def close_matches_chain_outcome(compared: pd.DataFrame, days: Sequence[dt.date]) -> CheckOutcome:
    """price_data's close against the chain's underlying_price per underlying and day
    (sql/price_data_vs_chain.sql); a day without chain rows has nothing to compare and passes."""
    by_day = {pd.Timestamp(row.date).date(): row for row in compared.itertuples()}
    without_chain = [str(d) for d in days if d not in by_day or not by_day[d].compared]
    mismatched = {
        str(d): {
            "tickers": int(r.mismatched),
            "largest_gap": round(float(r.largest_gap), 6),
            "example_ticker": r.example_ticker,
        }
        for d, r in by_day.items()
        if r.mismatched
    }
    compared_days = len(days) - len(without_chain)
    if mismatched:
        description = (
            f"price_data's close differs from the chain's underlying_price by more than "
            f"{UNDERLYING_PRICE_TOLERANCE:.0%} on {len(mismatched)} day(s) (a split or adjusted prices?)"
        )
    else:
        description = (
            f"close within {UNDERLYING_PRICE_TOLERANCE:.0%} of the chain's underlying_price on {compared_days} day(s)"
        )
    if without_chain:
        description += f"; no chain rows to compare on {len(without_chain)} day(s)"
    return CheckOutcome(
        name="close_matches_chain_underlying_price",
        passed=not mismatched,
        description=description,
        metadata={
            "tolerance": UNDERLYING_PRICE_TOLERANCE,
            "mismatched_by_day": mismatched,
            "days_without_chain_rows": without_chain,
            "offending_rows": sum(m["tickers"] for m in mismatched.values()),
        },
    )


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


LABEL_COVERAGE_WARNING = 0.99  # warn when fewer than 99% of a day's candidates have an observable exit


def rl_state_outcomes(quality: pd.DataFrame, sources: pd.DataFrame, days: Sequence[dt.date]) -> list[CheckOutcome]:
    """Rules for rl_state over `days` (sql/rl_state_quality.sql and rl_state_sources.sql)."""
    outcomes = [
        _count_rule("unique_key", quality, "snapshot_date", "duplicate_keys", "duplicate (snapshot_date, contract_symbol) rows"),
        _count_rule(
            "only_candidates", quality, "snapshot_date", "not_candidates",
            "rows with bid <= 0, ask <= 0 or expiring by T",
        ),
        _count_rule(
            "no_feature_after_snapshot", quality, "snapshot_date", "stamped_after_snapshot",
            "rows with a quote or technicals stamped after T",
        ),
        replace(
            _count_rule(
                "every_candidate_has_technicals", sources, "snapshot_date", "candidates_without_technicals",
                "candidates left out because their underlying had no technicals that day",
            ),
            warn_only=True,
        ),
    ]  # fmt: skip
    return _failed_where_empty(outcomes, quality, "snapshot_date", days)


def rl_dataset_outcomes(
    quality: pd.DataFrame, expected_label_end: dict[dt.date, dt.date], days: Sequence[dt.date]
) -> list[CheckOutcome]:
    """Rules for rl_dataset over `days` (sql/rl_dataset_quality.sql); expected_label_end maps
    each day to its T+3 session from the exchange calendar."""
    by_day = {pd.Timestamp(row.snapshot_date).date(): row for row in quality.itertuples()}
    mismatched = {
        str(d): {"rl_state": int(r.state_rows), "rl_dataset": int(r.row_count)}
        for d, r in by_day.items()
        if r.state_rows != r.row_count
    }
    coverage = {
        str(d): {
            "candidates": int(r.row_count),
            "labelled": int(r.labelled),
            "coverage": round(r.labelled / r.row_count, 6) if r.row_count else None,
            "hit_50_base_rate": round(r.hits / r.labelled, 6) if r.labelled else None,
        }
        for d, r in by_day.items()
    }
    low = {d: c for d, c in coverage.items() if c["coverage"] is not None and c["coverage"] < LABEL_COVERAGE_WARNING}
    wrong_end = {
        str(d): {"label_end_date": str(pd.Timestamp(r.last_label_end).date()), "expected": str(expected_label_end[d])}
        for d, r in by_day.items()
        if d in expected_label_end
        and r.row_count
        and not (
            pd.Timestamp(r.first_label_end).date() == pd.Timestamp(r.last_label_end).date() == expected_label_end[d]
        )
    }
    outside = _bad_days(quality, "snapshot_date", "labels_outside_window")
    outcomes = [
        CheckOutcome(
            "one_row_per_state_row",
            passed=not mismatched,
            description="every rl_state row labelled or flagged, none invented"
            if not mismatched
            else f"row counts differ from rl_state on {len(mismatched)} day(s)",
            metadata={"mismatched_days": mismatched},
        ),
        _count_rule("unique_key", quality, "snapshot_date", "duplicate_keys", "duplicate (snapshot_date, contract_symbol) rows"),
        CheckOutcome(
            "label_coverage",
            passed=not low,
            warn_only=True,
            description=(
                f"at least {LABEL_COVERAGE_WARNING:.0%} of each day's candidates have an observable exit"
                if not low
                else f"{len(low)} day(s) with fewer than {LABEL_COVERAGE_WARNING:.0%} of candidates labelled"
            ),
            metadata={"by_day": coverage},
        ),
        _count_rule(
            "no_feature_after_snapshot", quality, "snapshot_date", "stamped_after_snapshot",
            "rows with a quote or technicals stamped after T",
        ),
        CheckOutcome(
            "labels_within_window",
            passed=not wrong_end and not outside,
            description="every label from T+1..T+3 (the exchange calendar's sessions)"
            if not wrong_end and not outside
            else f"labels outside their window on {len(set(wrong_end) | set(outside))} day(s)",
            metadata={"wrong_label_end": wrong_end, "rows_outside_window_by_day": outside},
        ),
    ]  # fmt: skip
    return _failed_where_empty(outcomes, quality[quality["row_count"] > 0], "snapshot_date", days)
