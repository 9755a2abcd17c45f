"""technicals_history: the underlying's technical state per trading day, from price_data."""

import time

import dagster as dg
import pandas as pd

from rl_assets import calendar
from rl_assets.archive import replace_date_range
from rl_assets.assets.market import price_data
from rl_assets.partitions import partition_days, run_window_metadata, trading_days
from rl_assets.resources import Warehouse
from rl_assets.technicals import WARMUP_SESSIONS, compute_technicals, prepare_prices

EVERY_TICKER_COMPUTED = dg.AssetCheckSpec(
    "every_ticker_computed",
    asset="technicals_history",
    description="Warns when a ticker was skipped for bad price rows (named with the reason in metadata).",
)


@dg.asset(
    group_name="features",
    kinds={"duckdb", "pandas"},
    partitions_def=trading_days,
    deps=[price_data],
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[EVERY_TICKER_COMPUTED],
)
def technicals_history(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Technical indicators per ticker and NYSE trading day (RSI, MACD, SMAs, Bollinger bands, ATR,
    ADX, returns, realised volatility, volume ratio; TA-Lib's definitions, as pandas-ta uses them). Each day
    uses price_data up to that day only, read with a warm-up window before the run's first day; a
    backfill computes each ticker's series once. A ticker with bad price rows is skipped and named,
    never failing the others."""
    days = partition_days(context)
    warmup_start = calendar.shift_trading_days(days[0], -WARMUP_SESSIONS)
    started = time.perf_counter()
    with warehouse.session() as wh:
        prices = wh.query("price_data_window", {"start_date": warmup_start, "end_date": days[-1]})
        prices["date"] = pd.to_datetime(prices["date"]).dt.date
        days_without_prices = sorted(set(days) - set(prices["date"]))
        if days_without_prices:
            raise dg.Failure(
                description=f"price_data has no rows for {[str(d) for d in days_without_prices[:5]]}"
                f"{' ...' if len(days_without_prices) > 5 else ''}: materialise price_data for these days first"
            )
        clean, skipped = prepare_prices(prices)
        technicals = compute_technicals(clean)
        in_run = technicals[(technicals["date"] >= days[0]) & (technicals["date"] <= days[-1])]
        rows = replace_date_range(
            wh, in_run, days[0], days[-1],
            staging_table="technicals_history_staging",
            delete_statement="delete_technicals_history_range",
            insert_statement="insert_technicals_history",
        )  # fmt: skip
    if skipped:
        context.log.warning(f"skipped {len(skipped)} ticker(s) with bad price rows: {skipped}")
    return dg.MaterializeResult(
        metadata={
            **run_window_metadata(days, rows),
            "tickers_computed": int(in_run["ticker"].nunique()),
            "tickers_skipped": dg.MetadataValue.json(skipped),
            "warmup_sessions": WARMUP_SESSIONS,
            "warmup_start": str(warmup_start),
            "seconds": round(time.perf_counter() - started, 3),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=EVERY_TICKER_COMPUTED.name,
                passed=not skipped,
                severity=dg.AssetCheckSeverity.WARN,
                description=f"{len(skipped)} ticker(s) skipped" if skipped else "every ticker computed",
                metadata={"skipped": dg.MetadataValue.json(skipped)},
            )
        ],
    )
