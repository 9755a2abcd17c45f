"""The sidecar archiver's assets: the live chain, daily prices and the chain's dated history."""

import datetime as dt
import time
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from rl_assets import calendar
from rl_assets.archive import (
    ArchiveRefused,
    PricesRefused,
    archive_chain,
    archive_chain_frame,
    replace_live_chain,
    write_prices,
)
from rl_assets.defs.partitions import HISTORY_FRESHNESS, PARTITION_TAG, partition_days, run_window_metadata
from rl_assets.defs.resources import WAREHOUSE_POOL, MarketDataProvider, Warehouse


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
        "market provider (past days; not in sidecar mode). 'auto': live for a one-day run or in sidecar "
        "mode, provider for a range.",
    )


class PriceDataConfig(dg.Config):
    allow_fewer_rows: bool = Field(
        default=False,
        description="Let the provider's answer replace a range with fewer bars than price_data holds: "
        "tickers or days it no longer returns are deleted. By default such a run fails, names the "
        "tickers and days that would be lost, and writes nothing (an empty or partial answer must "
        "not delete good history).",
    )


def build_market_assets(
    daily: dg.TimeWindowPartitionsDefinition, warehouse_kind: str, sidecar: bool
) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    """The live chain, prices and the chain's archive, for the trading-day partitions `daily`.

    In sidecar mode (RL_ASSETS_MARKET=warehouse) the existing pipeline owns options_chain and
    price_data: they are external assets, observed by live_chain_sensor (defs/sensors.py), never
    written here."""
    options_chain_source = dg.AssetSpec(
        "options_chain",
        group_name="market_data",
        kinds={warehouse_kind},
        description="The live options chain, owned by the existing market-data pipeline, which replaces it "
        "every day. Observed (row count, quote dates) by live_chain_sensor; never written by rl-assets.",
    )
    price_data_source = dg.AssetSpec(
        "price_data",
        group_name="market_data",
        kinds={warehouse_kind},
        partitions_def=daily,
        description="Daily OHLCV per ticker, owned by the existing market-data pipeline; never written by rl-assets.",
    )

    @dg.asset(group_name="market_data", kinds={warehouse_kind}, pool=WAREHOUSE_POOL)
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
        pool=WAREHOUSE_POOL,
        kinds={warehouse_kind},
        partitions_def=daily,
        freshness_policy=HISTORY_FRESHNESS,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def price_data(
        context: dg.AssetExecutionContext, config: PriceDataConfig, market: MarketDataProvider, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        """Daily OHLCV per ticker, one partition per NYSE trading day. A backfill fetches and replaces
        its range a block of sessions at a time (a quarter at most), each block in one transaction.
        A block whose answer lacks bars price_data holds is refused unless allow_fewer_rows is set."""
        days = partition_days(context)
        started = time.perf_counter()
        rows, tickers = 0, set()
        with warehouse.session() as wh:
            for block in calendar.blocks(days, calendar.BACKFILL_BLOCK_SESSIONS):
                prices = market.prices(block[0], block[-1])
                try:
                    rows += write_prices(wh, prices, block[0], block[-1], allow_fewer_rows=config.allow_fewer_rows)
                except PricesRefused as refused:
                    raise dg.Failure(
                        description=str(refused), metadata={"start": str(block[0]), "end": str(block[-1])}
                    ) from refused
                tickers.update(prices["ticker"].unique())
        return dg.MaterializeResult(
            metadata={
                **run_window_metadata(days, rows),
                "tickers": len(tickers),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )

    @dg.asset(
        group_name="market_data",
        pool=WAREHOUSE_POOL,
        kinds={warehouse_kind},
        partitions_def=daily,
        deps=["options_chain"],
        freshness_policy=HISTORY_FRESHNESS,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def options_chain_history(
        context: dg.AssetExecutionContext, config: ArchiveConfig, market: MarketDataProvider, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        """Point-in-time archive of the live chain, one partition per NYSE trading day
        (snapshot_date). Each day is replaced atomically by an in-warehouse INSERT ... SELECT; a
        live table whose quotes belong to another trading date is refused and nothing is written."""
        days = partition_days(context)
        source = config.source
        if source == "auto":
            source = "live" if len(days) == 1 or not market.serves_past_chains else "provider"
        if source == "live" and len(days) > 1:
            raise dg.Failure(
                description=f"the live options_chain holds one trading day; a run of {len(days)} days "
                f"({days[0]}..{days[-1]}) cannot archive it (past chains were wiped): run one partition"
            )
        started = time.perf_counter()
        archived_at = pd.Timestamp.now(tz="UTC")
        reports = []
        with warehouse.session() as wh:
            for number, day in enumerate(days, start=1):
                try:
                    if source == "live":
                        # The format is matched to the table's columns on each run: a table the
                        # pipeline reshaped is refused (naming the column), never misread.
                        reports.append(archive_chain(wh, day, warehouse.live_chain(wh), archived_at))
                    else:
                        reports.append(archive_chain_frame(wh, market.chain(day), day, archived_at=archived_at))
                except ArchiveRefused as refused:
                    # An expected refusal, not a crash: the UI shows the reason, not a stack of internals.
                    raise dg.Failure(
                        description=str(refused), metadata={"trading_date": str(day), "source": source}
                    ) from refused
                context.log.info(f"archived {day}: {reports[-1].rows} contracts ({number}/{len(days)})")
                if reports[-1].non_finite_values_nulled:
                    context.log.warning(
                        f"{day}: NaN or infinite values stored as NULL, per column: {reports[-1].non_finite_values_nulled}"
                    )
                if reports[-1].source_type_changes:
                    context.log.warning(
                        f"{day}: source columns changed type since the previous archived day (kept as the source "
                        f"typed them in source_row): {reports[-1].source_type_changes}"
                    )
        rows = sum(r.rows for r in reports)
        return dg.MaterializeResult(
            metadata={
                **run_window_metadata(days, rows),
                "source": source,
                "source_table": reports[-1].source_table if reports else "",
                "chain_format": reports[-1].chain_format if reports else "",
                "rows_per_day": dg.MetadataValue.json({str(r.snapshot_date): r.rows for r in reports}),
                "extra_columns_kept_in_source_row": dg.MetadataValue.json(
                    sorted({c for r in reports for c in r.extra_columns})
                ),
                "non_finite_values_nulled": dg.MetadataValue.json(_summed(r.non_finite_values_nulled for r in reports)),
                "computed_iv": sum(r.computed.implied_volatility for r in reports),
                "computed_greeks": sum(r.computed.greeks for r in reports),
                "no_iv_by_reason": dg.MetadataValue.json(_summed(r.computed.no_iv for r in reports)),
                "source_type_changes": dg.MetadataValue.json(
                    {str(r.snapshot_date): r.source_type_changes for r in reports if r.source_type_changes}
                ),
                "archived_at": str(archived_at),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )

    if sidecar:
        return [options_chain_source, price_data_source, options_chain_history]
    return [options_chain, price_data, options_chain_history]


def _summed(counts) -> dict[str, int]:
    """Per-key sums of several {key: count} dicts (one per archived day)."""
    total: dict[str, int] = {}
    for day in counts:
        for key, count in day.items():
            total[key] = total.get(key, 0) + count
    return total


def _live_trading_date(context: dg.AssetExecutionContext, config: LiveChainConfig) -> dt.date:
    if config.trading_date:
        return calendar.require_trading_day(config.trading_date)
    tags = context.run.tags
    if PARTITION_TAG in tags:
        return calendar.require_trading_day(tags[PARTITION_TAG])
    return calendar.latest_closed_session(pd.Timestamp.now(tz="UTC"))
