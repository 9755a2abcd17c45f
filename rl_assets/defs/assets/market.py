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
    write_prices_from_chain,
)
from rl_assets.files import CHAIN_FILES_VARIABLE, PRICE_FILES_VARIABLE, import_chain_files, list_files, read_price_files
from rl_assets.defs.partitions import HISTORY_FRESHNESS, PARTITION_TAG, partition_days, run_window_metadata
from rl_assets.defs.resources import WAREHOUSE_POOL, FilesMarketProvider, MarketDataProvider, Warehouse


class LiveChainConfig(dg.Config):
    trading_date: str | None = Field(
        default=None,
        description="Session to load (YYYY-MM-DD). Default: the run's partition when it targets one "
        "trading day, else the newest session that has closed.",
    )


class ArchiveConfig(dg.Config):
    source: Literal["auto", "live", "provider", "files"] = Field(
        default="auto",
        description="Where each day's chain comes from. 'live': the options_chain table, refused unless "
        "its quotes belong to the partition's trading date. 'provider': that day's chain from the "
        "market provider (past days; not in sidecar mode). 'files': the history files (files mode). "
        "'auto': files in files mode; else live for a one-day run or in sidecar mode, provider for a range.",
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
    daily: dg.TimeWindowPartitionsDefinition, warehouse_kind: str, market: str, prices_from_chain: bool = False
) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    """The live chain, prices and the chain's archive, for the trading-day partitions `daily`.

    In sidecar mode (market 'warehouse') the existing pipeline owns options_chain and price_data:
    they are external assets, observed by live_chain_sensor (defs/sensors.py), never written here.
    In files mode options_chain is the vendor's history files, imported by options_chain_history;
    price_data comes from the price files or, `prices_from_chain`, from the archived chain."""
    sidecar = market == "warehouse"
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

    chain_files_source = dg.AssetSpec(
        "options_chain",
        group_name="market_data",
        kinds={"csv", "parquet"},
        description="The chain's history files (RL_ASSETS_CHAIN_FILES: CSV, CSV.gz or Parquet, one session or "
        "many per file, read through RL_ASSETS_CHAIN_FORMAT). options_chain_history imports them session by "
        "session; never written by rl-assets.",
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
        files_mode = isinstance(market, FilesMarketProvider)
        if source == "auto":
            source = "files" if files_mode else "live" if len(days) == 1 or not market.serves_past_chains else "provider"
        if (source == "files") != files_mode:
            raise dg.Failure(
                description=f"source {source!r} is not this mode's: 'files' is files mode's (RL_ASSETS_MARKET=files) "
                "and files mode has no live table or provider chains"
            )
        if source == "files":
            return _import_history_files(context, market, warehouse, days)
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
                **_archive_metadata(reports),
                "archived_at": str(archived_at),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )

    if sidecar:
        return [options_chain_source, price_data_source, options_chain_history]
    if market == "files":
        return [chain_files_source, build_files_price_data(daily, warehouse_kind, prices_from_chain), options_chain_history]
    return [options_chain, price_data, options_chain_history]


def _archive_metadata(reports) -> dict:
    """What every archive run reports about the days it wrote (ArchiveReport each)."""
    return {
        "source_table": reports[-1].source_table if reports else "",
        "chain_format": reports[-1].chain_format if reports else "",
        "rows_per_day": dg.MetadataValue.json({str(r.snapshot_date): r.rows for r in reports}),
        "extra_columns_kept_in_source_row": dg.MetadataValue.json(sorted({c for r in reports for c in r.extra_columns})),
        "non_finite_values_nulled": dg.MetadataValue.json(_summed(r.non_finite_values_nulled for r in reports)),
        "computed_iv": sum(r.computed.implied_volatility for r in reports),
        "computed_greeks": sum(r.computed.greeks for r in reports),
        "no_iv_by_reason": dg.MetadataValue.json(_summed(r.computed.no_iv for r in reports)),
        "source_type_changes": dg.MetadataValue.json(
            {str(r.snapshot_date): r.source_type_changes for r in reports if r.source_type_changes}
        ),
    }


def _import_history_files(
    context: dg.AssetExecutionContext, market: FilesMarketProvider, warehouse: Warehouse, days: list[dt.date]
) -> dg.MaterializeResult:
    """options_chain_history in files mode: each session of the run from the history files."""
    started = time.perf_counter()
    archived_at = pd.Timestamp.now(tz="UTC")
    files = list_files(market.chain_files, CHAIN_FILES_VARIABLE)
    with warehouse.session() as wh:
        imported = import_chain_files(
            wh, files, market.chain_format, days, archived_at, log=context.log.info, source=market.chain_files
        )
    for path, dates in imported.not_sessions.items():
        context.log.warning(f"{path}: dated {', '.join(map(str, dates))}, not an NYSE session: not archived")
    if imported.sessions_without_data:
        context.log.warning(
            f"{len(imported.sessions_without_data)} session(s) without data in the files: "
            f"{', '.join(map(str, imported.sessions_without_data))} (recorded: downstream treats them as empty)"
        )
    for day, paths in imported.repeated_sessions.items():
        context.log.warning(f"{day} is also in {', '.join(paths)}: archived once, from {imported.archived_from[day]}")
    reports = imported.archived
    metadata = {
        **run_window_metadata(days, imported.rows),
        "source": "files",
        **_archive_metadata(reports),
        "files_read": len(imported.files_read),
        "sessions_archived": len(reports),
        "sessions_without_data": dg.MetadataValue.json([str(d) for d in imported.sessions_without_data]),
        "not_sessions": dg.MetadataValue.json({p: [str(d) for d in ds] for p, ds in imported.not_sessions.items()}),
        "repeated_sessions": dg.MetadataValue.json({str(d): p for d, p in imported.repeated_sessions.items()}),
        "duplicate_rows_dropped": dg.MetadataValue.json({str(d): n for d, n in imported.duplicate_rows_dropped.items()}),
        "rows_without_quote_date": dg.MetadataValue.json(imported.rows_without_quote_date),
        "saturday_expirations_read_as_friday": imported.saturday_expirations,
        "archived_at": str(archived_at),
        "seconds": round(time.perf_counter() - started, 3),
    }
    problems = imported.problems()
    if problems:
        # The sessions that were archived stay archived (each its own transaction); these need fixing.
        raise dg.Failure(
            description=f"{len(problems)} problem(s) in the files; the other {len(reports)} session(s) were archived: "
            + "; ".join(problems[:5]) + (" ..." if len(problems) > 5 else ""),
            metadata=metadata,
        )
    return dg.MaterializeResult(metadata=metadata)


def build_files_price_data(
    daily: dg.TimeWindowPartitionsDefinition, warehouse_kind: str, from_chain: bool
) -> dg.AssetsDefinition:
    """price_data in files mode: the price files' bars, or close-only bars from the archived chain."""

    @dg.asset(
        name="price_data",
        group_name="market_data",
        pool=WAREHOUSE_POOL,
        kinds={warehouse_kind},
        partitions_def=daily,
        deps=["options_chain_history"] if from_chain else [],
        freshness_policy=HISTORY_FRESHNESS,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def price_data(
        context: dg.AssetExecutionContext, config: PriceDataConfig, market: FilesMarketProvider, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        """Daily bars per ticker, one partition per NYSE trading day, in files mode: read from the price
        files (RL_ASSETS_PRICE_FILES, through RL_ASSETS_PRICE_FORMAT), or, with no price files, one
        close-only bar per underlying and session from the archived chain's underlying price (open,
        high, low and volume NULL, close_only TRUE: technicals that need them stay NULL, never invented)."""
        days = partition_days(context)
        started = time.perf_counter()
        with warehouse.session() as wh:
            if market.price_files is None:
                made = write_prices_from_chain(wh, days[0], days[-1])
                return dg.MaterializeResult(
                    metadata={
                        **run_window_metadata(days, made.rows),
                        "source": "options_chain_history (close-only bars)",
                        "tickers": made.tickers,
                        "sessions": made.days,
                        "underlying_days_with_disagreeing_prices": made.disagreeing,
                        "seconds": round(time.perf_counter() - started, 3),
                    }
                )
            files = list_files(market.price_files, PRICE_FILES_VARIABLE)
            try:
                bars = read_price_files(wh, files, market.price_format, days[0], days[-1])
            except ValueError as error:
                raise dg.Failure(description=str(error)) from error
            sessions = set(days)
            dates = pd.to_datetime(bars["date"]).dt.date if len(bars) else pd.Series([], dtype=object)
            off_session = sorted({d for d in dates if d not in sessions})
            if off_session:
                context.log.warning(f"price rows dated on days that are not sessions, left out: {off_session[:10]}")
                bars = bars[dates.isin(sessions).to_numpy()]
                dates = dates[dates.isin(sessions)]
            rows = 0
            for block in calendar.blocks(days, calendar.BACKFILL_BLOCK_SESSIONS):
                in_block = bars[((dates >= block[0]) & (dates <= block[-1])).to_numpy()]
                try:
                    rows += write_prices(wh, in_block, block[0], block[-1], allow_fewer_rows=config.allow_fewer_rows)
                except (PricesRefused, ValueError) as refused:
                    raise dg.Failure(
                        description=str(refused), metadata={"start": str(block[0]), "end": str(block[-1])}
                    ) from refused
        return dg.MaterializeResult(
            metadata={
                **run_window_metadata(days, rows),
                "source": "price files",
                "files": len(files),
                "tickers": int(bars["ticker"].nunique()) if len(bars) else 0,
                "rows_not_on_a_session": len(off_session),
                "seconds": round(time.perf_counter() - started, 3),
            }
        )

    return price_data


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
