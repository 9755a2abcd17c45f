"""Data-quality rules for the archived tables, evaluated from in-warehouse counts per trading date.

Every asset check is declared here once, as a CheckRule (name, description, blocking, warn-only):
the Dagster layer derives its check specs from RULES, and the outcome functions below name the
rule they evaluate by reference. Each rule yields a CheckOutcome; the assets turn them into Dagster
asset check results. A run that covers many trading days (a backfill) passes a rule only if every
day passes it, and the outcome names the days that did not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import pandas as pd

from rl_assets import calendar

ROW_DROP_WARNING = 0.30  # warn when a day has 30% fewer rows than the trading day before
LABEL_COVERAGE_WARNING = 0.99  # warn when fewer than 99% of a day's candidates have an observable exit
# price_data's close and the chain's underlying_price are both the day's raw close. On the synthetic
# market they are equal (both round the same simulated close to 4 decimals: measured gap 0.0). A
# real chain snaps its underlying price at or minutes around the close, and the closing auction
# moves a liquid name well under 1% from its last trade; 2% leaves room for that, while any split
# (a 3:2 split is a 33% gap, 4:1 is 75%) and back-adjusted prices (once their cumulative dividend
# adjustment passes 2%, about a year of a typical payer's dividends) fail.
UNDERLYING_PRICE_TOLERANCE = 0.02
# Ask below intrinsic value. A US equity or ETF option is American: exercised at once it is worth its
# intrinsic value, so an ask below it is free money, which a real market does not leave standing: the
# row is stale or wrong. Quotes and underlying prices are both on a cent grid (options at $0.01 or
# $0.05 ticks; the grid can only round an ask up, never below what the seller would get), so a gap
# of a cent or less is rounding; more is an error.
INTRINSIC_TOLERANCE = 0.01
# A European put (index options; the synthetic market, which prices by BSM) may legitimately trade
# below its intrinsic value by up to the carry on its strike: its floor is strike * exp(-r T) -
# underlying_price. The check allows that carry at 6% a year, above the highest US short rate since
# 2001 (5.3% in 2023-24) and the synthetic market's 4%: measured on the synthetic market (seeds 7,
# 11, 3; 4 to 200 tickers; 10 days each, 808,640 rows) no row is flagged, while plain intrinsic flags
# 152 of 8,372 on one day (deep in-the-money puts, 119 days out). A call's floor is its intrinsic
# value (a European call on a stock without dividends is worth at least S - K exp(-r T) >= S - K).
CARRY_RATE = 0.06
# A vendor's stand-in where its solver found no IV: the real VXX file (HistoricalOptionData layout)
# writes 0.01 with all greeks zero on 310 in-the-money rows (216 with the ask below intrinsic
# value), Yahoo 0 or 1e-5 (each with the ask below intrinsic: no volatility reproduces the quote).
# No listed option trades at 1% a year: the lowest IV on five stocks' surfaces over 2023 (qmoms) is
# 11.5%. So an IV in (0, 0.01] is a placeholder (0 itself is out of range: iv_in_range's).
PLACEHOLDER_IV = 0.01
# How many offending rows a check names per day and problem in its metadata.
EXAMPLE_ROWS = 5
# The universe on a day: the tickers price_data held in the 7 calendar days up to that day (a week
# of sessions, so a ticker missing for a few days keeps being expected; one that stopped listing is
# expected for a week after its last bar, and one that started later is not expected before it).
UNIVERSE_LOOKBACK_DAYS = 7
# The bounds options_chain_history_quality.sql and options_chain_history_problem_rows.sql share.
CHAIN_QUALITY_PARAMETERS = {
    "intrinsic_tolerance": INTRINSIC_TOLERANCE,
    "carry_rate": CARRY_RATE,
    "placeholder_iv": PLACEHOLDER_IV,
}
# The columns counted missing by greeks_present (sql/options_chain_history_quality.sql: missing_<column>).
GREEK_COLUMNS = ("implied_volatility", "delta", "gamma", "theta", "vega", "rho")


@dataclass(frozen=True)
class CheckRule:
    """One asset check as declared: its name, what it checks, whether its failure stops the assets
    downstream in the same run (blocking: the checks that prove corruption) and whether a failure
    only warns (warn_only: WARN severity instead of ERROR)."""

    name: str
    description: str
    blocking: bool = False
    warn_only: bool = False


@dataclass(frozen=True)
class CheckOutcome:
    rule: CheckRule
    passed: bool
    description: str
    metadata: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    def warn_only(self) -> bool:
        return self.rule.warn_only


# ---- The declarations. A rule shared by several assets is one value listed under each.
UNIQUE_CONTRACT_DAY = CheckRule("unique_key", "One row per (snapshot_date, contract_symbol).", blocking=True)
BID_NOT_ABOVE_ASK = CheckRule("bid_not_above_ask", "No crossed quotes: bid <= ask.", blocking=True)
QUOTES_PRESENT = CheckRule("quotes_present", "Every row has a finite bid and ask (not NULL, NaN or infinite).")
EXPIRATION_NOT_BEFORE_SNAPSHOT = CheckRule(
    "expiration_not_before_snapshot", "No contract expiring before its snapshot date."
)
CHAIN_NO_NEGATIVE_PRICES = CheckRule(
    "no_negative_prices", "No negative bid/ask/mid/last; positive strike and underlying price."
)
IV_IN_RANGE = CheckRule(
    "iv_in_range", "Implied volatility, where present, in (0, 5] (a missing one is greeks_present's)."
)
DELTA_SIGN_AND_RANGE = CheckRule(
    "delta_sign_and_range",
    "Calls: delta in [0, 1]; puts: delta in [-1, 0], where present (a missing one is greeks_present's).",
)
GREEKS_PRESENT = CheckRule(
    "greeks_present",
    "Warns when rows lack implied volatility or a greek (NULL: the vendor has none, or no IV solves the quote); "
    "the count per column and day is in the metadata.",
    warn_only=True,
)
ASK_NOT_BELOW_INTRINSIC = CheckRule(
    "ask_not_below_intrinsic",
    f"No ask more than ${INTRINSIC_TOLERANCE:.2f} below intrinsic value (calls: underlying_price - strike; puts: "
    f"strike - underlying_price, less the carry a European put may show at {CARRY_RATE:.0%} a year): free money "
    "is a data error. Offending rows are in the metadata.",
)
NO_PLACEHOLDER_IV = CheckRule(
    "no_placeholder_iv",
    f"Warns when rows carry a vendor's placeholder implied volatility (in (0, {PLACEHOLDER_IV}]: no listed option "
    "trades there); examples are in the metadata.",
    warn_only=True,
)
EVERY_UNDERLYING_PRESENT = CheckRule(
    "every_underlying_present", "Every underlying of the market's universe on the day has contracts that day."
)
ROW_COUNT_VS_PREVIOUS_PARTITION = CheckRule(
    "row_count_vs_previous_partition",
    f"Warns when a day has {ROW_DROP_WARNING:.0%} fewer rows than the day before.",
    warn_only=True,
)

PRICE_UNIQUE_KEY = CheckRule("unique_key", "One row per (ticker, date).", blocking=True)
PRICE_NO_NEGATIVE_PRICES = CheckRule("no_negative_prices", "Positive open/high/low/close, non-negative volume.")
NO_MISSING_VALUES = CheckRule(
    "no_missing_values",
    "open/high/low/close present and finite, volume present; a close-only bar (built from the chain's underlying "
    "price when no price file exists) needs only its close.",
)
CONSISTENT_BARS = CheckRule("consistent_bars", "high >= max(open, close) and low <= min(open, close).")
EVERY_TICKER_PRESENT = CheckRule(
    "every_ticker_present", "Every ticker of the market's universe on the day has a bar that trading day."
)
CLOSE_MATCHES_CHAIN = CheckRule(
    "close_matches_chain_underlying_price",
    f"price_data's close is within {UNDERLYING_PRICE_TOLERANCE:.0%} of the archived chain's underlying_price "
    "for the same underlying and day (a split or adjusted prices fail it); a day without chain rows passes.",
)

ONLY_CANDIDATES = CheckRule(
    "only_candidates", "Every row is a contract a buyer could enter at T: bid > 0, ask > 0, expiring after T."
)
NO_FEATURE_AFTER_SNAPSHOT = CheckRule(
    "no_feature_after_snapshot", "No quote or technicals stamped after T's close (New York date)."
)
EVERY_CANDIDATE_HAS_TECHNICALS = CheckRule(
    "every_candidate_has_technicals",
    "Warns when candidates were left out because their underlying had no technicals that day.",
    warn_only=True,
)

ONE_ROW_PER_STATE_ROW = CheckRule(
    "one_row_per_state_row",
    "rl_dataset has exactly rl_state's rows for each day: none dropped, none invented.",
    blocking=True,
)
LABEL_COVERAGE = CheckRule(
    "label_coverage",
    f"Warns when fewer than {LABEL_COVERAGE_WARNING:.0%} of a day's candidates have an observable exit; the "
    "hit_50 base rate and the number of candidates per day are in the metadata.",
    warn_only=True,
)
LABELS_WITHIN_WINDOW = CheckRule(
    "labels_within_window", "Every outcome comes from T+1..T+3 (the exchange calendar's sessions)."
)

# Checked by the assets themselves, in the same step as the write.
EVERY_TICKER_COMPUTED = CheckRule(
    "every_ticker_computed",
    "Warns when a ticker was skipped for bad price rows (named with the reason in metadata).",
    warn_only=True,
)
EVERY_MODEL_LOADED = CheckRule(
    "every_model_loaded",
    "Fails (ERROR) when a model's artifact could not be loaded and its picks were skipped; the metadata names "
    "model, version, file, reason and days. The other model's picks are recorded all the same.",
)

OPTIONS_CHAIN_HISTORY_RULES = (
    UNIQUE_CONTRACT_DAY, BID_NOT_ABOVE_ASK, QUOTES_PRESENT, EXPIRATION_NOT_BEFORE_SNAPSHOT, CHAIN_NO_NEGATIVE_PRICES,
    IV_IN_RANGE, DELTA_SIGN_AND_RANGE, GREEKS_PRESENT, ASK_NOT_BELOW_INTRINSIC, NO_PLACEHOLDER_IV,
    EVERY_UNDERLYING_PRESENT, ROW_COUNT_VS_PREVIOUS_PARTITION,
)  # fmt: skip
PRICE_DATA_RULES = (
    PRICE_UNIQUE_KEY, PRICE_NO_NEGATIVE_PRICES, NO_MISSING_VALUES, CONSISTENT_BARS, EVERY_TICKER_PRESENT,
)  # fmt: skip
RL_STATE_RULES = (UNIQUE_CONTRACT_DAY, ONLY_CANDIDATES, NO_FEATURE_AFTER_SNAPSHOT, EVERY_CANDIDATE_HAS_TECHNICALS)
RL_DATASET_RULES = (
    ONE_ROW_PER_STATE_ROW, UNIQUE_CONTRACT_DAY, LABEL_COVERAGE, NO_FEATURE_AFTER_SNAPSHOT, LABELS_WITHIN_WINDOW,
)  # fmt: skip
# Every data-quality rule by the asset it checks (the freshness checks are the Dagster layer's own).
RULES: dict[str, tuple[CheckRule, ...]] = {
    "options_chain_history": OPTIONS_CHAIN_HISTORY_RULES,
    "price_data": (*PRICE_DATA_RULES, CLOSE_MATCHES_CHAIN),
    "technicals_history": (EVERY_TICKER_COMPUTED,),
    "rl_state": RL_STATE_RULES,
    "rl_dataset": RL_DATASET_RULES,
    "paper_trades": (EVERY_MODEL_LOADED,),
}


def _bad_days(counts: pd.DataFrame, date_column: str, column: str) -> dict[str, int]:
    bad = counts[counts[column] > 0]
    return {str(pd.Timestamp(d).date()): int(n) for d, n in zip(bad[date_column], bad[column], strict=False)}


def _count_rule(rule: CheckRule, counts: pd.DataFrame, date_column: str, column: str, what: str) -> CheckOutcome:
    bad = _bad_days(counts, date_column, column)
    total = int(counts[column].sum()) if len(counts) else 0
    return CheckOutcome(
        rule,
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


def universe_by_day(
    held: pd.DataFrame, date_column: str, member_column: str, days: Sequence[dt.date]
) -> dict[dt.date, list[str]]:
    """Each day's universe: the members `held` (date, member pairs) has in the
    UNIVERSE_LOOKBACK_DAYS calendar days up to and including the day. `held` must reach back that
    far before the first day."""
    by_date = held.groupby(pd.to_datetime(held[date_column]).dt.date)[member_column].agg(set).to_dict()
    lookback = [dt.timedelta(days=n) for n in range(UNIVERSE_LOOKBACK_DAYS + 1)]
    return {day: sorted(set().union(*(by_date.get(day - back, set()) for back in lookback))) for day in days}


def _coverage_rule(
    rule: CheckRule,
    members: pd.DataFrame,
    date_column: str,
    member_column: str,
    expected: Mapping[dt.date, Iterable[str]],
    days: Sequence[dt.date],
    what: str,
) -> CheckOutcome:
    """Every member of each day's own universe (`expected`, by day) present that day."""
    expected = {d: set(expected.get(d, ())) for d in days}
    present: dict[dt.date, set[str]] = {d: set() for d in days}
    for day, member in zip(pd.to_datetime(members[date_column]).dt.date, members[member_column], strict=False):
        present.setdefault(day, set()).add(member)
    missing = {str(d): sorted(expected[d] - present.get(d, set())) for d in days}
    missing = {d: names for d, names in missing.items() if names}
    sizes = {len(names) for names in expected.values()}
    size = f"{sizes.pop()}" if len(sizes) == 1 else f"{min(sizes)}..{max(sizes)}" if sizes else "0"
    return CheckOutcome(
        rule,
        passed=not missing,
        description=(f"all {size} {what} present" if not missing else f"{what} missing on {len(missing)} day(s)"),
        metadata={
            "expected_by_day": {str(d): len(names) for d, names in expected.items()},
            "missing_by_day": {d: n[:20] for d, n in missing.items()},
        },
    )


def _json_value(value):
    """A value of a warehouse row as JSON metadata holds it."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, dt.date | pd.Timestamp):
        return str(pd.Timestamp(value).date())
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _examples(rows: pd.DataFrame | None, date_column: str, columns: Sequence[str]) -> dict[str, list[dict]]:
    """Offending rows by day, each as {column: value} (the problem-rows query limits them per day)."""
    if rows is None or rows.empty:
        return {}
    examples: dict[str, list[dict]] = {}
    for row in rows.to_dict("records"):
        day = str(pd.Timestamp(row[date_column]).date())
        examples.setdefault(day, []).append({c: _json_value(row[c]) for c in columns})
    return examples


def _with_examples(outcome: CheckOutcome, examples: dict[str, list[dict]]) -> CheckOutcome:
    return replace(outcome, metadata={**outcome.metadata, "examples_by_day": examples})


# What the problem rows of each chain rule show (sql/options_chain_history_problem_rows.sql).
PROBLEM_COLUMNS = {
    ASK_NOT_BELOW_INTRINSIC.name: ("contract_symbol", "option_type", "ask", "strike", "underlying_price", "intrinsic"),
    NO_PLACEHOLDER_IV.name: (
        "contract_symbol", "option_type", "strike", "underlying_price", "ask", "implied_volatility", "delta",
        "gamma", "theta", "vega",
    ),
}  # fmt: skip
# The per-day counts (sql/options_chain_history_quality.sql) behind the rules with problem rows.
PROBLEM_COUNTS = {ASK_NOT_BELOW_INTRINSIC.name: "ask_below_intrinsic", NO_PLACEHOLDER_IV.name: "placeholder_iv"}


def needs_problem_rows(quality: pd.DataFrame) -> bool:
    """Whether any rule with problem rows counted some: only then is the second query run."""
    return any(int(quality[column].sum()) > 0 for column in PROBLEM_COUNTS.values()) if len(quality) else False


def _greeks_present(quality: pd.DataFrame) -> CheckOutcome:
    outcome = _count_rule(
        GREEKS_PRESENT, quality, "snapshot_date", "missing_greeks", "rows without implied volatility or a greek"
    )
    by_column = {}
    for row in quality.itertuples():
        counts = {c: int(getattr(row, f"missing_{c}")) for c in GREEK_COLUMNS if getattr(row, f"missing_{c}")}
        if counts:
            by_column[str(pd.Timestamp(row.snapshot_date).date())] = counts
    return replace(outcome, metadata={**outcome.metadata, "missing_by_column_by_day": by_column})


def evaluate_options_chain_history(
    warehouse, days: list[dt.date], expected_underlyings: Mapping[dt.date, list[str]]
) -> list[CheckOutcome]:
    """The chain's rules over `days`, from the warehouse: the per-day counts, a few offending rows
    only when a count is non-zero, the underlyings and the row counts (the day before included)."""
    window = {"start_date": days[0], "end_date": days[-1]}
    counts = warehouse.query("options_chain_history_quality", {**window, **CHAIN_QUALITY_PARAMETERS})
    problem_rows = None
    if needs_problem_rows(counts):
        problem_rows = warehouse.query(
            "options_chain_history_problem_rows", {**window, **CHAIN_QUALITY_PARAMETERS, "examples": EXAMPLE_ROWS}
        )
    return options_chain_history_outcomes(
        counts,
        warehouse.query("options_chain_history_underlyings", window),
        warehouse.query(
            "options_chain_history_row_counts", {**window, "start_date": calendar.shift_trading_days(days[0], -1)}
        ),
        expected_underlyings,
        days,
        problem_rows,
    )


def options_chain_history_outcomes(
    quality: pd.DataFrame,
    underlyings: pd.DataFrame,
    row_counts: pd.DataFrame,
    expected_underlyings: Mapping[dt.date, Iterable[str]],
    days: Sequence[dt.date],
    problem_rows: pd.DataFrame | None = None,
) -> list[CheckOutcome]:
    """Rules for options_chain_history over `days`.

    quality: sql/options_chain_history_quality.sql over the days; underlyings: its
    (snapshot_date, underlying) pairs; row_counts: rows per day from the trading day before the
    first of `days` through the last; expected_underlyings: each day's universe;
    problem_rows: sql/options_chain_history_problem_rows.sql, run only when needs_problem_rows.
    """
    problems = problem_rows if problem_rows is not None else pd.DataFrame(columns=["problem"])
    outcomes = [
        _count_rule(
            UNIQUE_CONTRACT_DAY,
            quality,
            "snapshot_date",
            "duplicate_keys",
            "duplicate (snapshot_date, contract_symbol) rows",
        ),
        _count_rule(BID_NOT_ABOVE_ASK, quality, "snapshot_date", "crossed_quotes", "rows with bid > ask"),
        _count_rule(
            CHAIN_NO_NEGATIVE_PRICES,
            quality,
            "snapshot_date",
            "negative_prices",
            "rows with a negative price or a non-positive strike/underlying price",
        ),
        _count_rule(
            QUOTES_PRESENT, quality, "snapshot_date", "missing_quotes", "rows with a NULL or non-finite bid or ask"
        ),
        _count_rule(
            EXPIRATION_NOT_BEFORE_SNAPSHOT,
            quality,
            "snapshot_date",
            "expired_before_snapshot",
            "rows whose expiration is before their snapshot date",
        ),
        _count_rule(
            IV_IN_RANGE,
            quality,
            "snapshot_date",
            "iv_out_of_range",
            "rows with an implied volatility outside (0, 5]",
        ),
        _count_rule(
            DELTA_SIGN_AND_RANGE,
            quality,
            "snapshot_date",
            "bad_delta",
            "rows with a delta outside [0, 1] for calls or [-1, 0] for puts",
        ),
        _greeks_present(quality),
        *(
            _with_examples(
                _count_rule(rule, quality, "snapshot_date", PROBLEM_COUNTS[rule.name], what),
                _examples(problems[problems["problem"] == rule.name], "snapshot_date", PROBLEM_COLUMNS[rule.name]),
            )
            for rule, what in (
                (ASK_NOT_BELOW_INTRINSIC, "rows with an ask below intrinsic value"),
                (NO_PLACEHOLDER_IV, f"rows with a placeholder implied volatility (in (0, {PLACEHOLDER_IV}])"),
            )
        ),
        _coverage_rule(
            EVERY_UNDERLYING_PRESENT,
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
    quality: pd.DataFrame,
    tickers: pd.DataFrame,
    expected_tickers: Mapping[dt.date, Iterable[str]],
    days: Sequence[dt.date],
) -> list[CheckOutcome]:
    """Rules for price_data over `days` (sql/price_data_quality.sql and price_data_tickers.sql);
    expected_tickers: each day's universe."""
    outcomes = [
        _count_rule(PRICE_UNIQUE_KEY, quality, "date", "duplicate_keys", "duplicate (ticker, date) rows"),
        _count_rule(
            PRICE_NO_NEGATIVE_PRICES,
            quality,
            "date",
            "negative_prices",
            "rows with a non-positive price or a negative volume",
        ),
        _with_close_only_bars(
            _count_rule(
                NO_MISSING_VALUES,
                quality,
                "date",
                "missing_values",
                "rows with a NULL or non-finite open/high/low/close or a NULL volume",
            ),
            quality,
        ),
        _count_rule(
            CONSISTENT_BARS, quality, "date", "inconsistent_bars", "rows whose high/low do not bound open and close"
        ),
        _coverage_rule(EVERY_TICKER_PRESENT, tickers, "date", "ticker", expected_tickers, days, "tickers"),
    ]
    return _failed_where_empty(outcomes, quality, "date", days)


def _with_close_only_bars(outcome: CheckOutcome, quality: pd.DataFrame) -> CheckOutcome:
    """The close-only bars (from the chain, not missing values) counted in the outcome's metadata."""
    if "close_only_bars" not in quality.columns:
        return outcome
    bars = int(quality["close_only_bars"].fillna(0).sum()) if len(quality) else 0
    return replace(outcome, metadata={**outcome.metadata, "close_only_bars": bars})


def close_matches_chain_outcome(
    compared: pd.DataFrame, days: Sequence[dt.date], mismatched_rows: pd.DataFrame | None = None
) -> CheckOutcome:
    """price_data's close against the chain's underlying_price per underlying and day
    (sql/price_data_vs_chain.sql); a day without chain rows has nothing to compare and passes.
    mismatched_rows: sql/price_data_vs_chain_rows.sql, run only when a day has a mismatch."""
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
        CLOSE_MATCHES_CHAIN,
        passed=not mismatched,
        description=description,
        metadata={
            "tolerance": UNDERLYING_PRICE_TOLERANCE,
            "mismatched_by_day": mismatched,
            "days_without_chain_rows": without_chain,
            "offending_rows": sum(m["tickers"] for m in mismatched.values()),
            "mismatched_rows_by_day": _examples(
                mismatched_rows, "date", ("ticker", "date", "close", "chain_underlying_price", "gap")
            ),
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
        ROW_COUNT_VS_PREVIOUS_PARTITION,
        passed=not drops,
        description=(
            f"no day lost more than {ROW_DROP_WARNING:.0%} of the previous day's rows"
            if not drops
            else f"{len(drops)} day(s) lost more than {ROW_DROP_WARNING:.0%} of the previous day's rows"
        ),
        metadata={"drops": drops},
    )


def rl_state_outcomes(quality: pd.DataFrame, sources: pd.DataFrame, days: Sequence[dt.date]) -> list[CheckOutcome]:
    """Rules for rl_state over `days` (sql/rl_state_quality.sql and rl_state_sources.sql)."""
    outcomes = [
        _count_rule(
            UNIQUE_CONTRACT_DAY, quality, "snapshot_date", "duplicate_keys", "duplicate (snapshot_date, contract_symbol) rows"
        ),
        _count_rule(
            ONLY_CANDIDATES, quality, "snapshot_date", "not_candidates",
            "rows with bid <= 0, ask <= 0 or expiring by T",
        ),
        _count_rule(
            NO_FEATURE_AFTER_SNAPSHOT, quality, "snapshot_date", "stamped_after_snapshot",
            "rows with a quote or technicals stamped after T",
        ),
        _count_rule(
            EVERY_CANDIDATE_HAS_TECHNICALS, sources, "snapshot_date", "candidates_without_technicals",
            "candidates left out because their underlying had no technicals that day",
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
            ONE_ROW_PER_STATE_ROW,
            passed=not mismatched,
            description="every rl_state row labelled or flagged, none invented"
            if not mismatched
            else f"row counts differ from rl_state on {len(mismatched)} day(s)",
            metadata={"mismatched_days": mismatched},
        ),
        _count_rule(
            UNIQUE_CONTRACT_DAY, quality, "snapshot_date", "duplicate_keys", "duplicate (snapshot_date, contract_symbol) rows"
        ),
        CheckOutcome(
            LABEL_COVERAGE,
            passed=not low,
            description=(
                f"at least {LABEL_COVERAGE_WARNING:.0%} of each day's candidates have an observable exit"
                if not low
                else f"{len(low)} day(s) with fewer than {LABEL_COVERAGE_WARNING:.0%} of candidates labelled"
            ),
            metadata={"by_day": coverage},
        ),
        _count_rule(
            NO_FEATURE_AFTER_SNAPSHOT, quality, "snapshot_date", "stamped_after_snapshot",
            "rows with a quote or technicals stamped after T",
        ),
        CheckOutcome(
            LABELS_WITHIN_WINDOW,
            passed=not wrong_end and not outside,
            description="every label from T+1..T+3 (the exchange calendar's sessions)"
            if not wrong_end and not outside
            else f"labels outside their window on {len(set(wrong_end) | set(outside))} day(s)",
            metadata={"wrong_label_end": wrong_end, "rows_outside_window_by_day": outside},
        ),
    ]  # fmt: skip
    return _failed_where_empty(outcomes, quality[quality["row_count"] > 0], "snapshot_date", days)


def every_ticker_computed_outcome(skipped: dict[str, str]) -> CheckOutcome:
    """technicals_history's own check: the tickers skipped for bad price rows (ticker -> reason)."""
    return CheckOutcome(
        EVERY_TICKER_COMPUTED,
        passed=not skipped,
        description=f"{len(skipped)} ticker(s) skipped" if skipped else "every ticker computed",
        metadata={"skipped": skipped},
    )


def every_model_loaded_outcome(skipped: list[dict]) -> CheckOutcome:
    """paper_trades' own check: the model versions whose artifact could not be loaded (model_name,
    version, artifact_uri, reason, days)."""
    return CheckOutcome(
        EVERY_MODEL_LOADED,
        passed=not skipped,
        description=(
            "; ".join(f"{e['model_name']} v{e['version']} skipped: {e['reason']}" for e in skipped)
            if skipped
            else "every usable model version loaded"
        ),
        metadata={"skipped_models": skipped},
    )
