"""The jobs: each a selection of the assets Dagster materialises, with their data checks (the
freshness checks run on their own schedule). A partitioned job runs one trading day, or a range of
them as one run (a single-run backfill)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import dagster as dg

from rl_assets.model_store import MODEL_NAMES
from rl_assets.reward import HORIZON_DAYS

if TYPE_CHECKING:  # what define_asset_job returns; dagster does not export the type
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition


@dataclass(frozen=True)
class Jobs:
    daily: UnresolvedAssetJobDefinition
    labels: UnresolvedAssetJobDefinition
    archive: UnresolvedAssetJobDefinition
    dataset: UnresolvedAssetJobDefinition
    training: UnresolvedAssetJobDefinition
    paper_trading: UnresolvedAssetJobDefinition
    live_archive: UnresolvedAssetJobDefinition

    def all(self) -> list[UnresolvedAssetJobDefinition]:
        return [getattr(self, field.name) for field in fields(self)]


def build_jobs(freshness_checks: dg.AssetChecksDefinition) -> Jobs:
    def selection(*assets: str) -> dg.AssetSelection:
        """The assets Dagster materialises (not the external tables of sidecar mode), with their
        data checks, without the freshness checks."""
        return dg.AssetSelection.assets(*assets).materializable() - dg.AssetSelection.checks(freshness_checks)

    return Jobs(
        daily=dg.define_asset_job(
            "daily_job",
            selection=selection(
                "options_chain",
                "price_data",
                "options_chain_history",
                "technicals_history",
                "rl_state",
                "recommendations",
                "paper_trades",
            ),  # fmt: skip
            description="A session end to end, after the close: load and archive the live chain, prices, "
            "technicals, rl_state, the screened recommendations and the models' paper picks.",
        ),
        labels=dg.define_asset_job(
            "labels_job",
            selection=selection("rl_dataset", "paper_trades", "paper_trading_performance"),
            description=f"Day T once T+{HORIZON_DAYS} has landed: rl_dataset's labels, the resolution of T's paper "
            "trades and the paper-trading performance.",
        ),
        archive=dg.define_asset_job(
            "archive_job",
            selection=selection("price_data", "options_chain_history", "technicals_history"),
            description="Prices, the chain archive and technicals for a trading day or a range of them (one run).",
        ),
        dataset=dg.define_asset_job(
            "dataset_job",
            selection=selection("rl_state", "rl_dataset"),
            description="rl_state and rl_dataset for a trading day or a range (rl_dataset needs T+3's snapshot).",
        ),
        training=dg.define_asset_job(
            "training_job",
            selection=selection(*MODEL_NAMES),
            description="Train, evaluate walk-forward and register new versions of both models.",
        ),
        paper_trading=dg.define_asset_job(
            "paper_trading_job",
            selection=selection("recommendations", "paper_trades", "paper_trading_performance"),
            description="Screen the day's candidates, record the models' picks, resolve and track them.",
        ),
        live_archive=dg.define_asset_job(
            "live_archive_job",
            selection=selection("options_chain_history"),
            description="Archive the live chain as its trading day's partition, before the pipeline wipes it.",
        ),
    )
