"""`make demo`: from nothing, archive ~60 trading days on the embedded default and summarise.

Runs go to the Dagster instance in DAGSTER_HOME, so `make ui` shows them afterwards.
"""

from __future__ import annotations

import argparse
import time
import warnings

import dagster as dg
import pandas as pd

# The demo uses BackfillPolicy (beta) on purpose; its notices would drown the summary.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

from rl_assets import calendar  # noqa: E402
from rl_assets.assets.checks import options_chain_history_checks, price_data_checks  # noqa: E402
from rl_assets.assets.market import options_chain, options_chain_history, price_data  # noqa: E402
from rl_assets.assets.technicals import technicals_history  # noqa: E402
from rl_assets.definitions import defs  # noqa: E402
from rl_assets.partitions import range_run_tags  # noqa: E402
from rl_assets.settings import Settings  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=60, help="trading days to materialise (default 60)")
    args = parser.parse_args(argv)
    if args.days < 2:
        parser.error("--days must be at least 2")

    settings = Settings.from_env()
    end = calendar.latest_closed_session(pd.Timestamp.now(tz="UTC"))
    start = calendar.shift_trading_days(end, -(args.days - 1))
    if start < settings.start_date:
        parser.error(f"{args.days} days back from {end} starts before RL_ASSETS_START_DATE={settings.start_date}")
    backfill_end = calendar.shift_trading_days(end, -1)
    instance = dg.DagsterInstance.get()
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    resources = defs.resources
    print(f"rl-assets demo: {args.days} NYSE trading days {start} .. {end}, {settings.universe} synthetic tickers")
    print(f"warehouse: DuckDB file {settings.duckdb_path} (schema {settings.dataset})")

    started = time.perf_counter()
    # 1. Prices from the first partition on: the technicals' warm-up reads them (one run).
    prices_run = dg.materialize(
        [price_data, price_data_checks], instance=instance, resources=resources, run_config=quiet,
        tags=range_run_tags(settings.start_date, backfill_end),
    )  # fmt: skip
    # 2. The history: one single-run backfill over the past days, each day's chain from the provider.
    backfill = dg.materialize(
        [options_chain_history, technicals_history, options_chain_history_checks],
        instance=instance, resources=resources, run_config=quiet, tags=range_run_tags(start, backfill_end),
    )  # fmt: skip
    backfill_seconds = time.perf_counter() - started

    # 3. The daily sidecar run for the newest session: load the live table, archive it in-warehouse.
    daily_started = time.perf_counter()
    daily = dg.materialize(
        [options_chain, price_data, options_chain_history, technicals_history, price_data_checks, options_chain_history_checks],
        instance=instance, resources=resources, run_config=quiet, partition_key=str(end),
    )  # fmt: skip
    daily_seconds = time.perf_counter() - daily_started

    history = _metadata(backfill, "options_chain_history")
    technicals = _metadata(backfill, "technicals_history")
    prices = _metadata(prices_run, "price_data")
    today = _metadata(daily, "options_chain_history")
    runs = (prices_run, backfill, daily)
    checks = [(e.check_name, e.passed) for result in runs for e in result.get_asset_check_evaluations()]
    failed = sorted({name for name, passed in checks if not passed})
    print()
    print(
        f"prices    {settings.start_date} .. {backfill_end}: {prices['trading_days']} partitions, "
        f"{prices['dagster/row_count']:,} rows (one run)"
    )
    print(
        f"backfill  {start} .. {backfill_end}: {history['trading_days']} partitions, "
        f"{history['dagster/row_count']:,} contracts archived, {technicals['dagster/row_count']:,} technicals rows "
        f"({technicals['warmup_sessions']}-session warm-up); {backfill_seconds:.1f} s with the prices"
    )
    print(
        f"daily run {end}: live options_chain archived in-warehouse, {today['dagster/row_count']:,} contracts "
        f"in {daily_seconds:.1f} s"
    )
    print(
        f"asset checks: {len(checks) - sum(not p for _, p in checks)}/{len(checks)} passed"
        + (f"; failing: {', '.join(failed)}" if failed else "")
    )
    print(f"total {time.perf_counter() - started:.1f} s. Explore it: make ui")


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    event = result.asset_materializations_for_node(asset)[0]
    return {key: value.value for key, value in event.metadata.items()}


if __name__ == "__main__":
    main()
