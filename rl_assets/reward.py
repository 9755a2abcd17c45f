"""The reward of docs/design.md: buy a contract at T's ask, hold it at most three trading days.

- Entry: the ask at T's snapshot. Contracts with bid <= 0 or ask <= 0, or expiring by T, are not
  candidates (rl_state leaves them out).
- Take-profit: on the first of T+1, T+2, T+3 (up to the contract's expiration) whose closing bid
  is >= TAKE_PROFIT x entry, exit at TAKE_PROFIT x entry; hit_50 is true.
- Otherwise a contract expiring inside the window exits at its intrinsic value on the expiration
  session (the last session on or before its expiration date), valued at the underlying's close.
- Otherwise it exits at T+3's closing bid. A contract missing from T+3's snapshot has no
  observable exit: reward NULL and exit_reason 'missing_quote'. Missing quotes on earlier label
  days are counted in missing_quotes. Rows are kept and flagged, never dropped.
- reward = exit_price / entry_price - 1; hit_50 = take-profit or exit_price >= TAKE_PROFIT x entry.
- A NaN or infinite bid or close counts as missing (the archive stores them as NULL; older history
  may hold them).

Daily snapshots see closing quotes only: a take-profit that an intraday quote would have hit and
the close did not is not seen, and the exit is filled at exactly TAKE_PROFIT x entry on the day the
close first shows it.

The warehouse computes the reward in sql/insert_rl_dataset.sql for the dataset (and paper trades
are resolved from it); `resolve` below is the same rule on plain Python values, for readers and for
the tests that hold the SQL to it. The RL environment and the evaluation read the `reward` column.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

from rl_assets import calendar

TAKE_PROFIT = 1.5  # exit once the bid reaches +50% of the entry price
HORIZON_DAYS = 3  # trading days after T that the outcome may use


class ExitReason(StrEnum):
    """rl_dataset.exit_reason (and paper_trades'): how a contract's holding ended. The SQL writes
    and counts the same names (sql/insert_rl_dataset.sql, rl_dataset_summary.sql,
    rl_dataset_quality.sql; a test holds them to this list)."""

    TAKE_PROFIT = "take_profit"  # a closing bid reached TAKE_PROFIT x entry
    HORIZON = "horizon"  # held to T+3's closing bid
    EXPIRED = "expired"  # expired inside the window: intrinsic value at the underlying's close
    MISSING_QUOTE = "missing_quote"  # no quote on T+3: no observable exit
    MISSING_PRICE = "missing_price"  # expired inside the window without an underlying close: no observable exit


EXIT_REASONS = tuple(reason.value for reason in ExitReason)


def label_days(day: dt.date) -> list[dt.date]:
    """The HORIZON_DAYS NYSE sessions after `day` whose snapshots decide its outcome."""
    day = calendar.require_trading_day(day)
    return [calendar.shift_trading_days(day, k) for k in range(1, HORIZON_DAYS + 1)]


def label_windows(days: Sequence[dt.date]) -> pd.DataFrame:
    """One row per trading day T: snapshot_date, day_1 .. day_3 (what sql/insert_rl_dataset.sql reads)."""
    rows = [(day, *label_days(day)) for day in days]
    return pd.DataFrame(rows, columns=["snapshot_date", *[f"day_{k}" for k in range(1, HORIZON_DAYS + 1)]])


@dataclass(frozen=True)
class Outcome:
    exit_date: dt.date | None
    exit_price: float | None
    reward: float | None
    hit_50: bool | None
    exit_reason: ExitReason
    missing_quotes: int
    max_gain_3d: float | None


def intrinsic_value(option_type: str, strike: float, underlying_close: float) -> float:
    if option_type == "call":
        return max(underlying_close - strike, 0.0)
    if option_type == "put":
        return max(strike - underlying_close, 0.0)
    raise ValueError(f"option_type must be 'call' or 'put'; got {option_type!r}")


def _finite(value: float | None) -> bool:
    """A quote or close the reward may use: present and a finite number (NaN and +-inf count as missing)."""
    return value is not None and math.isfinite(value)


def resolve(
    *,
    snapshot_date: dt.date,
    entry_price: float,
    option_type: str,
    strike: float,
    expiration: dt.date,
    bids: Mapping[dt.date, float],
    closes: Mapping[dt.date, float],
) -> Outcome:
    """The outcome of buying one contract at `entry_price` on `snapshot_date`.

    bids: the contract's closing bid on the label days it was quoted (a day absent = not in that
    day's snapshot); closes: the underlying's closes by session (only the expiration session's is
    used).
    """
    if not (entry_price > 0 and math.isfinite(entry_price)):
        raise ValueError(f"entry_price must be > 0 and finite (an ask of {entry_price} is not a candidate)")
    if expiration <= snapshot_date:
        raise ValueError(f"a contract expiring {expiration} is not a candidate on {snapshot_date}")
    window = label_days(snapshot_date)
    live = [d for d in window if d <= expiration]  # label days before the contract expired
    observed = {d: bids[d] for d in live if _finite(bids.get(d))}
    missing_quotes = sum(1 for d in window if d < expiration and not _finite(bids.get(d)))

    expiry_session = None
    if expiration <= window[-1]:
        expiry_session = max([snapshot_date, *[d for d in window if d <= expiration]])
    expiry_value = None
    if expiry_session is not None and _finite(closes.get(expiry_session)):
        expiry_value = intrinsic_value(option_type, strike, closes[expiry_session])
    values = [*observed.values(), *([expiry_value] if expiry_value is not None else [])]
    max_gain = max(values) / entry_price - 1 if values else None

    target = TAKE_PROFIT * entry_price
    for day in live:
        if day in observed and observed[day] >= target:
            return Outcome(day, target, TAKE_PROFIT - 1, True, ExitReason.TAKE_PROFIT, missing_quotes, max_gain)
    if expiry_session is not None:
        if expiry_value is None:
            return Outcome(None, None, None, None, ExitReason.MISSING_PRICE, missing_quotes, max_gain)
        exit_date, exit_price, reason = expiry_session, expiry_value, ExitReason.EXPIRED
    elif window[-1] in observed:
        exit_date, exit_price, reason = window[-1], observed[window[-1]], ExitReason.HORIZON
    else:
        return Outcome(None, None, None, None, ExitReason.MISSING_QUOTE, missing_quotes, max_gain)
    return Outcome(
        exit_date, exit_price, exit_price / entry_price - 1, exit_price >= target, reason, missing_quotes, max_gain
    )
