"""NYSE trading days, from exchange_calendars (no hand-written holiday list).

A trading date is the session date in America/New_York. Everything that asks "which day does
this row belong to" goes through here, never through the wall clock.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import exchange_calendars as xc
import pandas as pd

EXCHANGE = "XNYS"
TIMEZONE = "America/New_York"
# A long single-run backfill works through its days in blocks of at most a quarter's sessions, so
# what one run holds in memory does not grow with its range (a year is four blocks).
BACKFILL_BLOCK_SESSIONS = 63


@lru_cache(maxsize=1)
def nyse() -> xc.ExchangeCalendar:
    return xc.get_calendar(EXCHANGE)


def as_date(value: dt.date | str | pd.Timestamp) -> dt.date:
    """A date from a date, an ISO string or a Timestamp; anything else is a clear error."""
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError as err:
            raise ValueError(f"not an ISO date (YYYY-MM-DD): {value!r}") from err
    raise TypeError(f"expected a date or an ISO date string, got {type(value).__name__}: {value!r}")


def _check_in_range(day: dt.date) -> None:
    cal = nyse()
    first, last = cal.first_session.date(), cal.last_session.date()
    if not first <= day <= last:
        raise ValueError(f"{day} is outside the NYSE calendar's range {first}..{last}")


def is_trading_day(day: dt.date | str) -> bool:
    day = as_date(day)
    _check_in_range(day)
    return bool(nyse().is_session(pd.Timestamp(day)))


def require_trading_day(day: dt.date | str) -> dt.date:
    """The day itself if NYSE traded on it, else a ValueError that says why."""
    day = as_date(day)
    if not is_trading_day(day):
        raise ValueError(f"{day} ({day:%A}) is not an NYSE trading day")
    return day


def trading_days(start: dt.date | str, end: dt.date | str) -> list[dt.date]:
    """Every NYSE session date in [start, end], in order."""
    start, end = as_date(start), as_date(end)
    if end < start:
        raise ValueError(f"empty date range: end {end} is before start {start}")
    return [ts.date() for ts in nyse().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))]


def blocks(days: list[dt.date], size: int | None) -> list[list[dt.date]]:
    """Consecutive runs of at most `size` of `days`, in order (size None: one block of all)."""
    if size is None:
        return [list(days)] if days else []
    if size < 1:
        raise ValueError(f"block size must be at least 1, got {size}")
    return [list(days[i : i + size]) for i in range(0, len(days), size)]


def shift_trading_days(day: dt.date | str, n: int) -> dt.date:
    """The trading day n sessions after (n < 0: before) a trading day."""
    day = require_trading_day(day)
    return nyse().session_offset(pd.Timestamp(day), n).date()


def session_close_utc(day: dt.date | str) -> pd.Timestamp:
    """The official close of a session (13:00 ET on early-close days), as a UTC Timestamp."""
    day = require_trading_day(day)
    return nyse().session_close(pd.Timestamp(day)).tz_convert("UTC")


def _as_utc(timestamp: pd.Timestamp | dt.datetime) -> pd.Timestamp:
    """A Timestamp with a time zone (naive timestamps are taken as UTC)."""
    ts = pd.Timestamp(timestamp)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts


def trading_date_of(timestamp: pd.Timestamp) -> dt.date:
    """The America/New_York calendar date of a timestamp (naive timestamps are taken as UTC)."""
    return _as_utc(timestamp).tz_convert(TIMEZONE).date()


def latest_session_due(now: pd.Timestamp | dt.datetime, deadline: dt.time) -> dt.date:
    """The newest session whose `deadline` (New York wall time on the session's own date) is at or
    before `now`: the partition a freshness check expects to have landed."""
    local = _as_utc(now).tz_convert(TIMEZONE)
    day = local.date() if local.time() >= deadline else local.date() - dt.timedelta(days=1)
    return nyse().date_to_session(pd.Timestamp(day), direction="previous").date()


def latest_closed_session(now: pd.Timestamp | dt.datetime) -> dt.date:
    """The newest session whose close is at or before `now` (used only to pick a default day)."""
    now = _as_utc(now)
    cal = nyse()
    day = cal.date_to_session(now.tz_convert(TIMEZONE).normalize().tz_localize(None), direction="previous")
    if cal.session_close(day) > now:
        day = cal.previous_session(day)
    return day.date()


def non_trading_weekdays(start: dt.date | str, end: dt.date | str) -> list[dt.date]:
    """Weekdays in [start, end] on which NYSE is closed (holidays, days of mourning)."""
    start, end = as_date(start), as_date(end)
    sessions = set(trading_days(start, end))
    return [d.date() for d in pd.bdate_range(start, end) if d.date() not in sessions]
