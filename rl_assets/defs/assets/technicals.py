"""technicals_history: the underlying's technical state per trading day, from price_data."""

import time

import dagster as dg

from rl_assets import quality
from rl_assets.defs.checks import check_result, check_spec
from rl_assets.defs.partitions import HISTORY_FRESHNESS, partition_days, run_window_metadata
from rl_assets.defs.resources import WAREHOUSE_POOL, Warehouse
from rl_assets.technicals import WARMUP_SESSIONS, MissingPrices, update_technicals

EVERY_TICKER_COMPUTED = check_spec("technicals_history", quality.EVERY_TICKER_COMPUTED)


def build_technicals_assets(daily: dg.TimeWindowPartitionsDefinition, warehouse_kind: str) -> list[dg.AssetsDefinition]:
    @dg.asset(
        group_name="features",
        pool=WAREHOUSE_POOL,
        kinds={warehouse_kind, "pandas"},
        partitions_def=daily,
        deps=["price_data"],
        freshness_policy=HISTORY_FRESHNESS,
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
        started = time.perf_counter()
        with warehouse.session() as wh:
            try:
                report = update_technicals(wh, days)
            except MissingPrices as error:
                raise dg.Failure(description=str(error)) from error
        skipped = report.skipped
        if skipped:
            context.log.warning(f"skipped {len(skipped)} ticker(s) with bad price rows: {skipped}")
        return dg.MaterializeResult(
            metadata={
                **run_window_metadata(days, report.rows),
                "tickers_computed": report.tickers,
                "tickers_skipped": dg.MetadataValue.json(skipped),
                "warmup_sessions": WARMUP_SESSIONS,
                "warmup_start": str(report.warmup_start),
                "seconds": round(time.perf_counter() - started, 3),
            },
            check_results=[check_result(quality.every_ticker_computed_outcome(skipped))],
        )

    return [technicals_history]
