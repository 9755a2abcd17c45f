"""The code location of one mode: every definition, built from a Settings value."""

import dagster as dg

from rl_assets.defs.assets import build_assets
from rl_assets.defs.checks import DATA_CHECKS, HISTORY_ASSETS, SIDECAR_HISTORY_ASSETS, build_freshness_checks
from rl_assets.defs.jobs import build_jobs
from rl_assets.defs.partitions import trading_day_partitions
from rl_assets.defs.resources import build_resources
from rl_assets.defs.schedules import build_schedules
from rl_assets.defs.sensors import build_sensors
from rl_assets.settings import Settings


def build_definitions(settings: Settings) -> dg.Definitions:
    """The code location of one mode, from its settings."""
    sidecar = settings.market == "warehouse"
    daily = trading_day_partitions(settings.start_date)
    freshness_checks = build_freshness_checks(SIDECAR_HISTORY_ASSETS if sidecar else HISTORY_ASSETS)
    jobs = build_jobs(freshness_checks)
    return dg.Definitions(
        assets=build_assets(
            daily, settings.warehouse, settings.market, prices_from_chain=settings.market == "files" and not settings.price_files
        ),
        asset_checks=[*DATA_CHECKS, freshness_checks],
        jobs=jobs.all(),
        schedules=build_schedules(jobs, freshness_checks, settings.market),
        sensors=build_sensors(jobs, daily, sidecar),
        resources=build_resources(settings),
        # One process per run: a DuckDB file has one writer, so a run's steps must not open it in
        # parallel, and the code location (torch included) is imported once per run, not per step.
        executor=dg.in_process_executor,
    )
