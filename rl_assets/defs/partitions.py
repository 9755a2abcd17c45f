"""Daily partitions over NYSE trading days (America/New_York), and the daily cadence around them."""

import datetime as dt

import dagster as dg

from rl_assets import calendar

# The evening run starts an hour after the regular 16:00 close (early closes are earlier), once the
# day's chain and closes have landed and before the live chain is wiped for the next session.
DAILY_RUN_CRON = "0 17 * * 1-5"
# By then the session's partitions must exist; the partition-aware freshness checks fail after it.
FRESHNESS_DEADLINE = dt.time(20, 0)
FRESHNESS_DEADLINE_CRON = f"{FRESHNESS_DEADLINE.minute} {FRESHNESS_DEADLINE.hour} * * 1-5"
# The plain policy on the history assets sees only the newest materialisation of any partition (a
# backfill of an old day resets it), so it is the coarse guard: the longest regular gap between
# two evening runs is four days (a weekend next to a holiday), plus slack for the run itself.
HISTORY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(days=4, hours=6))


def trading_day_partitions(start: dt.date) -> dg.TimeWindowPartitionsDefinition:
    """One partition per NYSE session from `start`; the key is the session date (YYYY-MM-DD).

    Weekdays come from the cron schedule and exchange holidays are excluded from the calendar
    library. end_offset=1 makes today's session a partition from midnight, so the evening
    schedule can target it.
    """
    start = calendar.require_trading_day(start)
    calendar_end = calendar.nyse().last_session.date()
    holidays = [dt.datetime.combine(day, dt.time()) for day in calendar.non_trading_weekdays(start, calendar_end)]
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule="0 0 * * 1-5",
        start=start.isoformat(),
        fmt="%Y-%m-%d",
        timezone=calendar.TIMEZONE,
        end_offset=1,
        exclusions=holidays,
    )


def run_window_metadata(days: list[dt.date], rows: int) -> dict:
    """The metadata every daily asset reports about the trading days its run covered."""
    return {
        "dagster/row_count": rows,
        "first_date": str(days[0]),
        "last_date": str(days[-1]),
        "trading_days": len(days),
    }


PARTITION_TAG = "dagster/partition"
RANGE_START_TAG, RANGE_END_TAG = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def range_run_tags(start: dt.date, end: dt.date) -> dict[str, str]:
    """Run tags for one run over a partition range, as a single-run backfill launches it."""
    return {RANGE_START_TAG: str(start), RANGE_END_TAG: str(end)}


def partition_days(context: dg.AssetExecutionContext) -> list[dt.date]:
    """The trading days a run covers: one for a single partition, many for a single-run backfill."""
    key_range = context.partition_key_range
    days = calendar.trading_days(key_range.start, key_range.end)
    if len(days) > 1:
        context.log.info(f"{context.asset_key.to_user_string()}: {len(days)} trading days {days[0]} .. {days[-1]}")
    return days


def run_days(tags: dict[str, str]) -> list[dt.date]:
    """The trading days of a launched run, from its tags: one partition or a single-run range."""
    if PARTITION_TAG in tags:
        return [calendar.require_trading_day(tags[PARTITION_TAG])]
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    return calendar.trading_days(start, end) if start and end else []
