"""recommendations, paper_trades and paper_trading_performance: the agent filtering each day's
candidate trades, tracked against the >50%-in-3-days target."""

import time

import dagster as dg
import pandas as pd
from pydantic import Field

from rl_assets import quality, reporting
from rl_assets.defs.checks import check_result, check_spec
from rl_assets.defs.partitions import partition_days, run_window_metadata
from rl_assets.defs.resources import WAREHOUSE_POOL, Warehouse
from rl_assets.paper_trading import (
    MODELS,
    PERFORMANCE_TABLE,
    Scorers,
    ScreenerRules,
    build_recommendations,
    performance,
    record_paper_trades,
    resolve_paper_trades,
)


class ScreenerConfig(dg.Config):
    """The screener's rules as run config; defaults from rl_assets.paper_trading.ScreenerRules."""

    min_volume: int = Field(default=ScreenerRules.min_volume, description="contracts traded that day, at least")
    min_open_interest: int = Field(default=ScreenerRules.min_open_interest, description="open interest, at least")
    min_dte: int = Field(default=ScreenerRules.min_dte, description="calendar days to expiration, at least")
    max_dte: int = Field(default=ScreenerRules.max_dte, description="calendar days to expiration, at most")
    min_abs_delta: float = Field(default=ScreenerRules.min_abs_delta, description="|delta|, at least")
    max_abs_delta: float = Field(default=ScreenerRules.max_abs_delta, description="|delta|, at most")
    max_spread_pct: float = Field(default=ScreenerRules.max_spread_pct, description="(ask - bid) / mid, at most")
    min_entry_price: float = Field(default=ScreenerRules.min_entry_price, description="ask, at least")


EVERY_MODEL_LOADED = check_spec("paper_trades", quality.EVERY_MODEL_LOADED)


class PaperTradesConfig(dg.Config):
    picks_per_day: int = Field(default=5, description="picks per model and day")
    repick: bool = Field(
        default=False, description="re-record days that already have picks (normally they are only resolved)"
    )


def build_paper_trading_assets(
    daily: dg.TimeWindowPartitionsDefinition, warehouse_kind: str
) -> list[dg.AssetsDefinition]:
    @dg.asset(
        group_name="paper_trading",
        pool=WAREHOUSE_POOL,
        kinds={warehouse_kind, "sql"},
        partitions_def=daily,
        deps=["rl_state"],
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def recommendations(
        context: dg.AssetExecutionContext, config: ScreenerConfig, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        """The day's candidate trades: rl_state through a configurable rule screener (liquidity, days
        to expiration, delta band, spread limit, minimum price). The list the agent filters."""
        days = partition_days(context)
        try:
            rules = ScreenerRules(**config.model_dump())
        except ValueError as error:
            raise dg.Failure(description=str(error)) from error
        with warehouse.session() as wh:
            by_day = build_recommendations(wh, days[0], days[-1], rules)
        empty = [d for d, n in by_day.items() if n == 0]
        if empty:
            context.log.warning(f"no contract passed the screener on {empty}")
        return dg.MaterializeResult(
            metadata={
                **run_window_metadata(days, sum(by_day.values())),
                "rules": dg.MetadataValue.json(rules.parameters()),
                "recommendations_by_day": dg.MetadataValue.json(by_day),
                "days_without_recommendations": dg.MetadataValue.json(empty),
            }
        )

    @dg.asset(
        group_name="paper_trading",
        pool=WAREHOUSE_POOL,
        kinds={warehouse_kind, "torch"},
        partitions_def=daily,
        deps=[recommendations, *MODELS, "rl_dataset"],
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=[EVERY_MODEL_LOADED],
    )
    def paper_trades(
        context: dg.AssetExecutionContext, config: PaperTradesConfig, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        """For each trading day T: the picks of the newest ppo_agent version usable at T (and the
        baseline's, for comparison) among the day's recommendations, recorded with score and entry
        price before any outcome is known; resolved with the shared reward once rl_dataset[T] exists
        (re-running a recorded day only resolves it). A backfill picks each day with the version usable
        then; a day with no usable model or no recommendations is recorded as such.

        A model whose artifact cannot be loaded (missing, corrupt, another model's) is skipped for the
        day and the other model's picks are still recorded: the run succeeds, so the labels and the
        other model keep coming, and the failure shows as a failed ERROR check (every_model_loaded),
        an error in the log and `skipped_models` in the metadata. Restore the file and re-run those
        days: the skipped picks are made, the recorded ones kept."""
        days = partition_days(context)
        started = time.perf_counter()
        scorers = Scorers()
        with warehouse.session() as wh:
            report = record_paper_trades(
                wh, days, picks_per_day=config.picks_per_day, recorded_at=pd.Timestamp.now(tz="UTC"),
                repick=config.repick, scorers=scorers,
            )  # fmt: skip
            status = wh.query("paper_trades_days", {"start_date": days[0], "end_date": days[-1]})
        skipped = list(scorers.skipped.values())
        for entry in skipped:
            context.log.error(
                f"{entry['model_name']} v{entry['version']} (artifact {entry['artifact_uri']}): {entry['reason']}; "
                f"its picks of {len(entry['days'])} day(s) ({entry['days'][0]} .. {entry['days'][-1]}) were skipped"
            )
        return dg.MaterializeResult(
            metadata={
                **run_window_metadata(days, int(status["picks"].sum())),
                "resolved": int(status["resolved"].sum()),
                "by_day": dg.MetadataValue.json(report),
                "skipped_models": dg.MetadataValue.json(skipped),
                "seconds": round(time.perf_counter() - started, 3),
            },
            check_results=[check_result(quality.every_model_loaded_outcome(skipped))],
        )

    @dg.asset(
        group_name="paper_trading", kinds={warehouse_kind}, deps=[paper_trades, "rl_dataset"], pool=WAREHOUSE_POOL
    )
    def paper_trading_performance(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        """Running hit rate of >50%-in-3-days and mean reward of the agent's picks, the baseline's and
        all recommendations, with 95% intervals and equity curves; also the table
        paper_trading_performance (one row per model and trade date) for notebooks."""
        with warehouse.session() as wh:
            span = wh.query("paper_trades_date_range").iloc[0]
            if not span["row_count"]:
                # Normal before the first model version is usable: the daily runs record no picks yet.
                context.log.info("paper_trades has no picks yet (no usable model version on the days recorded)")
                return dg.MaterializeResult(
                    metadata={
                        "dagster/row_count": 0,
                        "open_trades": 0,
                        "summary": dg.MetadataValue.md("(no picks yet)"),
                    }
                )
            window = {"start_date": span["first_date"], "end_date": span["last_date"]}
            resolve_paper_trades(wh, window["start_date"], window["end_date"], pd.Timestamp.now(tz="UTC"))
            trades = wh.query("paper_trades_window", window)
            everything = wh.query("recommendations_outcomes", window)
            daily, summary = performance(trades, everything)
            wh.load_frame(PERFORMANCE_TABLE, daily, replace_table=True)
        open_trades = int(trades["resolved_at"].isna().sum())
        table = reporting.performance_table(summary)
        plot = (
            reporting.markdown_image(reporting.performance_plot(daily), "paper trading")
            if len(daily)
            else "(no resolved trades yet)"
        )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": len(daily),
                "first_trade_date": str(pd.Timestamp(window["start_date"]).date()),
                "last_trade_date": str(pd.Timestamp(window["end_date"]).date()),
                "open_trades": open_trades,
                "summary": dg.MetadataValue.md(table + "\n\n" + plot),
                "metrics": dg.MetadataValue.json(summary),
                "table": PERFORMANCE_TABLE,
            }
        )

    return [recommendations, paper_trades, paper_trading_performance]
