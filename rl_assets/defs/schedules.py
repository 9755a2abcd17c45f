"""The schedules: the evening run of each NYSE session, and the freshness deadline.

In sidecar mode the existing pipeline's clock replaces the evening schedule (live_chain_sensor,
defs/sensors.py); in files mode history is imported by backfills, on no clock. The freshness
deadline applies where sessions arrive daily (synthetic and sidecar modes).
"""

from zoneinfo import ZoneInfo

import dagster as dg

from rl_assets import calendar
from rl_assets.defs.jobs import Jobs
from rl_assets.defs.partitions import DAILY_RUN_CRON, FRESHNESS_DEADLINE_CRON


def build_schedules(jobs: Jobs, freshness_checks: dg.AssetChecksDefinition, market: str) -> list[dg.ScheduleDefinition]:
    @dg.schedule(
        job=jobs.daily,
        cron_schedule=DAILY_RUN_CRON,
        execution_timezone=calendar.TIMEZONE,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    def trading_day_schedule(context: dg.ScheduleEvaluationContext):
        """After each NYSE session's close: that session's partition end to end (the live chain is
        archived before the next wipe). Weekdays without a session (exchange holidays) are skipped."""
        day = context.scheduled_execution_time.astimezone(ZoneInfo(calendar.TIMEZONE)).date()
        if not calendar.is_trading_day(day):
            return dg.SkipReason(f"{day} ({day:%A}) is not an NYSE session")
        return dg.RunRequest(run_key=f"daily:{day}", partition_key=str(day))

    freshness_deadline_schedule = dg.ScheduleDefinition(
        name="freshness_deadline_schedule",
        cron_schedule=FRESHNESS_DEADLINE_CRON,
        execution_timezone=calendar.TIMEZONE,
        target=dg.AssetSelection.checks(freshness_checks),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="At each weekday's deadline: has the session's partition of every history asset landed?",
    )
    if market == "files":
        return []
    if market == "warehouse":
        return [freshness_deadline_schedule]
    return [trading_day_schedule, freshness_deadline_schedule]
