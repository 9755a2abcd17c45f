"""The Dagster layer: everything Dagster sees, built from a Settings value.

    assets/      one module per asset group (market_data, features, rl, models, paper_trading)
    checks.py    data checks on the warehouse tables, and the history assets' freshness checks
    jobs.py      the jobs (selections of assets with their checks)
    schedules.py the evening run of each NYSE session, the freshness deadline
    sensors.py   labels after a daily run, the sidecar's live chain, retraining
    partitions.py  NYSE trading-day partitions and run tags
    resources.py   the warehouse, the market and the model store
    run_launcher.py, demo.py  the embedded instance's launcher and `make demo`

`build_definitions(settings)` is the one place a mode is decided: the market (synthetic, or the
existing pipeline's tables in sidecar mode), the warehouse (DuckDB or BigQuery) and the first
partition. Nothing here reads RL_ASSETS_* variables; rl_assets/definitions.py, the code
location's entry point, reads them once. The pure logic (SQL, rewards, models) lives outside
defs/ and does not import dagster.
"""

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
        assets=build_assets(daily, settings.warehouse, sidecar),
        asset_checks=[*DATA_CHECKS, freshness_checks],
        jobs=jobs.all(),
        schedules=build_schedules(jobs, freshness_checks, sidecar),
        sensors=build_sensors(jobs, daily, sidecar),
        resources=build_resources(settings),
        # One process per run: a DuckDB file has one writer, so a run's steps must not open it in
        # parallel, and the code location (torch included) is imported once per run, not per step.
        executor=dg.in_process_executor,
    )
