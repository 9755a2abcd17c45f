"""Daily partitions over NYSE trading days (America/New_York)."""

import datetime as dt

import dagster as dg

from rl_assets import calendar
from rl_assets.settings import Settings


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


def range_run_tags(start: dt.date, end: dt.date) -> dict[str, str]:
    """Run tags for one run over a partition range, as a single-run backfill launches it."""
    return {"dagster/asset_partition_range_start": str(start), "dagster/asset_partition_range_end": str(end)}


def partition_days(context: dg.AssetExecutionContext) -> list[dt.date]:
    """The trading days a run covers: one for a single partition, many for a single-run backfill."""
    key_range = context.partition_key_range
    return calendar.trading_days(key_range.start, key_range.end)


# Built once from RL_ASSETS_START_DATE: every daily asset shares this definition.
trading_days = trading_day_partitions(Settings.from_env().start_date)
