"""The sidecar archiver's assets: the live chain, daily prices and the chain's dated history."""


import datetime as dt
import time
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from rl_assets import calendar, quality
from rl_assets.archive import ArchiveRefused, archive_chain, archive_chain_frame, replace_live_chain, write_prices
from rl_assets.partitions import partition_days, trading_days
from rl_assets.resources import MarketDataProvider, Warehouse


class LiveChainConfig(dg.Config):
    trading_date: str | None = Field(
        default=None,
        description="Session to load (YYYY-MM-DD). Default: the run's partition when it targets one "
        "trading day, else the newest session that has closed.",
    )


class ArchiveConfig(dg.Config):
    source: Literal["auto", "live", "provider"] = Field(
        default="auto",
        description="Where each day's chain comes from. 'live': the options_chain table, refused unless "
        "its quotes belong to the partition's trading date. 'provider': that day's chain from the "
        "market provider (past days). 'auto': live for a one-day run, provider for a range.",
    )


def _check_specs(asset_key: str, names_and_descriptions: dict[str, str]) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(name, asset=asset_key, description=text) for name, text in names_and_descriptions.items()]


def _check_results(asset_key: str, outcomes: list[quality.CheckOutcome]) -> list[dg.AssetCheckResult]:
    return [
        dg.AssetCheckResult(
            asset_key=asset_key,
            check_name=o.name,
            passed=o.passed,
            severity=dg.AssetCheckSeverity.WARN if o.warn_only else dg.AssetCheckSeverity.ERROR,
            description=o.description,
            metadata={key: dg.MetadataValue.json(value) if isinstance(value, dict) else value for key, value in o.metadata.items()},
        )
        for o in outcomes
    ]


def _window(days: list[dt.date]) -> dict[str, dt.date]:
    return {"start_date": days[0], "end_date": days[-1]}


HISTORY_CHECKS = {
    "unique_key": "One row per (snapshot_date, contract_symbol).",
    "bid_not_above_ask": "No crossed quotes: bid <= ask.",
    "no_negative_prices": "No negative bid/ask/mid/last; positive strike and underlying price.",
    "iv_in_range": "Implied volatility present and in (0, 5].",
    "delta_sign_and_range": "Calls: delta in [0, 1]; puts: delta in [-1, 0].",
    "every_underlying_present": "Every underlying of the market's universe has contracts each day.",
    "row_count_vs_previous_partition": "Warns when a day has 30% fewer rows than the day before.",
}
PRICE_CHECKS = {
    "unique_key": "One row per (ticker, date).",
    "no_negative_prices": "Positive open/high/low/close, non-negative volume.",
    "consistent_bars": "high >= max(open, close) and low <= min(open, close).",
    "every_ticker_present": "Every ticker of the market's universe has a bar each trading day.",
}


@dg.asset(group_name="market_data", kinds={"duckdb"})
def options_chain(
    context: dg.AssetExecutionContext, config: LiveChainConfig, market: MarketDataProvider, warehouse: Warehouse
) -> dg.MaterializeResult:
    """The live options chain: one row per listed contract, latest snapshot only. Replaced on
    every run (TRUNCATE + load), as the existing market-data pipeline does."""
    day = _live_trading_date(context, config)
    started = time.perf_counter()
    chain = market.chain(day)
    with warehouse.session() as wh:
        rows = replace_live_chain(wh, chain)
    return dg.MaterializeResult(
        metadata={
            "trading_date": str(day),
            "dagster/row_count": rows,
            "underlyings": int(chain["underlying"].nunique()),
            "quote_time": str(chain["quote_time"].max()),
            "seconds": round(time.perf_counter() - started, 3),
        }
    )

@dg.asset(
    group_name="market_data",
    kinds={"duckdb"},
    partitions_def=trading_days,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=_check_specs("price_data", PRICE_CHECKS),
)
def price_data(
    context: dg.AssetExecutionContext, market: MarketDataProvider, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Daily OHLCV per ticker, one partition per NYSE trading day. A backfill fetches the whole
    range at once and replaces it in one transaction."""
    days = partition_days(context)
    started = time.perf_counter()
    prices = market.prices(days[0], days[-1])
    with warehouse.session() as wh:
        rows = write_prices(wh, prices, days[0], days[-1])
        outcomes = quality.price_data_outcomes(
            wh.query("price_data_quality", _window(days)),
            wh.query("price_data_tickers", _window(days)),
            market.tickers(),
            days,
        )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "first_date": str(days[0]),
            "last_date": str(days[-1]),
            "trading_days": len(days),
            "tickers": int(prices["ticker"].nunique()),
            "seconds": round(time.perf_counter() - started, 3),
        },
        check_results=_check_results("price_data", outcomes),
    )

@dg.asset(
    group_name="market_data",
    kinds={"duckdb"},
    partitions_def=trading_days,
    deps=[options_chain],
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=_check_specs("options_chain_history", HISTORY_CHECKS),
)
def options_chain_history(
    context: dg.AssetExecutionContext, config: ArchiveConfig, market: MarketDataProvider, warehouse: Warehouse
) -> dg.MaterializeResult:
    """Point-in-time archive of the live chain, one partition per NYSE trading day
    (snapshot_date). Each day is replaced atomically by an in-warehouse INSERT ... SELECT; a
    live table whose quotes belong to another trading date is refused and nothing is written."""
    days = partition_days(context)
    source = config.source if config.source != "auto" else ("live" if len(days) == 1 else "provider")
    started = time.perf_counter()
    archived_at = pd.Timestamp.now(tz="UTC")
    reports = []
    with warehouse.session() as wh:
        for number, day in enumerate(days, start=1):
            try:
                if source == "live":
                    reports.append(archive_chain(wh, day, archived_at=archived_at))
                else:
                    reports.append(archive_chain_frame(wh, market.chain(day), day, archived_at=archived_at))
            except ArchiveRefused as refused:
                # An expected refusal, not a crash: the UI shows the reason, not a stack of internals.
                raise dg.Failure(description=str(refused), metadata={"trading_date": str(day), "source": source}) from refused
            context.log.info(f"archived {day}: {reports[-1].rows} contracts ({number}/{len(days)})")
        extra_columns = sorted({c for r in reports for c in r.extra_columns})
        if extra_columns:
            context.log.warning(f"the source has columns outside the contract, not archived: {extra_columns}")
        before = calendar.shift_trading_days(days[0], -1)
        outcomes = quality.options_chain_history_outcomes(
            wh.query("options_chain_history_quality", _window(days)),
            wh.query("options_chain_history_underlyings", _window(days)),
            wh.query("options_chain_history_row_counts", {"start_date": before, "end_date": days[-1]}),
            market.tickers(),
            days,
        )
    rows = sum(r.rows for r in reports)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "source": source,
            "first_date": str(days[0]),
            "last_date": str(days[-1]),
            "trading_days": len(days),
            "rows_per_day": dg.MetadataValue.json({str(r.snapshot_date): r.rows for r in reports}),
            "columns_not_archived": dg.MetadataValue.json(extra_columns),
            "archived_at": str(archived_at),
            "seconds": round(time.perf_counter() - started, 3),
        },
        check_results=_check_results("options_chain_history", outcomes),
    )

def _live_trading_date(context: dg.AssetExecutionContext, config: LiveChainConfig) -> dt.date:
    if config.trading_date:
        return calendar.require_trading_day(config.trading_date)
    tags = context.run.tags
    if "dagster/partition" in tags:
        return calendar.require_trading_day(tags["dagster/partition"])
    return calendar.latest_closed_session(pd.Timestamp.now(tz="UTC"))
