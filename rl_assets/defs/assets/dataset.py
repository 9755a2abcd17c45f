"""rl_state and rl_dataset: what the agent sees at T, and what happened over T+1..T+3."""

import time

import dagster as dg

from rl_assets.dataset import DatasetRefused, build_rl_dataset, build_rl_state
from rl_assets.defs.partitions import partition_days, run_window_metadata
from rl_assets.defs.resources import WAREHOUSE_POOL, Warehouse
from rl_assets.reward import EXIT_REASONS, HORIZON_DAYS, TAKE_PROFIT

# The label window: snapshots of the next HORIZON_DAYS trading days, prices from T through them.
LABEL_SNAPSHOTS = dg.TimeWindowPartitionMapping(start_offset=1, end_offset=HORIZON_DAYS)
LABEL_PRICES = dg.TimeWindowPartitionMapping(start_offset=0, end_offset=HORIZON_DAYS)


def build_dataset_assets(daily: dg.TimeWindowPartitionsDefinition, warehouse_kind: str) -> list[dg.AssetsDefinition]:
    @dg.asset(
        group_name="rl",
        pool=WAREHOUSE_POOL,
        kinds={warehouse_kind, "sql"},
        partitions_def=daily,
        deps=["options_chain_history", "technicals_history"],
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def rl_state(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        """What the agent can see at T's close: every candidate contract of the archived chain (bid > 0,
        ask > 0, expiring after T) with its own features (moneyness, spread, leverage, greeks, …), its
        entry price (the ask) and its underlying's technicals at T; a candidate whose underlying has no
        technicals (too short a price history) is kept with them NULL and technicals_incomplete TRUE.
        Built in the warehouse (sql/insert_rl_state.sql); only data stamped at or before T's close."""
        days = partition_days(context)
        started = time.perf_counter()
        with warehouse.session() as wh:
            try:
                report = build_rl_state(wh, days[0], days[-1])
            except DatasetRefused as error:
                raise dg.Failure(description=str(error)) from error
            sources = wh.query("rl_state_sources", {"start_date": days[0], "end_date": days[-1]})
        candidates = int(sources["candidates"].sum())
        return dg.MaterializeResult(
            metadata={
                **run_window_metadata(days, report.rows),
                "contracts_archived": int(sources["contracts"].sum()),
                "candidates": candidates,
                "candidates_without_technicals": int(sources["candidates_without_technicals"].sum()),
                "technicals_incomplete_rows": int(report.by_day["technicals_incomplete"].sum()),
                "rows_by_day": dg.MetadataValue.json(report.rows_by_day),
                "seconds": round(time.perf_counter() - started, 3),
            }
        )

    @dg.asset(
        group_name="rl",
        pool=WAREHOUSE_POOL,
        kinds={warehouse_kind, "sql"},
        partitions_def=daily,
        deps=[
            rl_state,
            dg.AssetDep("options_chain_history", partition_mapping=LABEL_SNAPSHOTS),
            dg.AssetDep("price_data", partition_mapping=LABEL_PRICES),
        ],
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def rl_dataset(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        """rl_state[T] with the outcome of buying each contract at T's ask and holding it at most three
        trading days: take-profit at +50% on the first closing bid that reaches it, else intrinsic
        value at an expiration inside the window, else T+3's bid (rl_assets/reward.py). Written only
        once every snapshot through T+3 and every close through T+3 has landed, never with invented
        labels; a contract missing from a later snapshot is flagged, never dropped."""
        days = partition_days(context)
        started = time.perf_counter()
        with warehouse.session() as wh:
            try:
                report = build_rl_dataset(wh, days[0], days[-1])
            except DatasetRefused as error:
                raise dg.Failure(description=str(error)) from error
        summary = report.by_day
        labelled, hits = int(summary["labelled"].sum()), int(summary["hits"].sum())
        weighted_reward = (summary["mean_reward"].fillna(0) * summary["labelled"]).sum()
        return dg.MaterializeResult(
            metadata={
                **run_window_metadata(days, report.rows),
                "candidates": report.rows,
                "labelled": labelled,
                "hit_50_base_rate": round(hits / labelled, 6) if labelled else None,
                "mean_reward": round(float(weighted_reward / labelled), 6) if labelled else None,
                "exits": dg.MetadataValue.json({r: int(summary[r].sum()) for r in EXIT_REASONS}),
                "hit_50_base_rate_by_day": dg.MetadataValue.json(
                    {
                        str(row.snapshot_date.date()): {
                            "candidates": int(row.row_count),
                            "hit_50_rate": round(row.hits / row.labelled, 6) if row.labelled else None,
                        }
                        for row in summary.itertuples()
                    }
                ),
                "take_profit_multiple": TAKE_PROFIT,
                "horizon_days": HORIZON_DAYS,
                "seconds": round(time.perf_counter() - started, 3),
            }
        )

    return [rl_state, rl_dataset]
