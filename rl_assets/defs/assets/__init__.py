"""The assets, one module per group: market_data, features, rl, models, paper_trading."""

import dagster as dg

from rl_assets.defs.assets.dataset import build_dataset_assets
from rl_assets.defs.assets.market import build_market_assets
from rl_assets.defs.assets.models import baseline_model, ppo_agent
from rl_assets.defs.assets.paper_trading import build_paper_trading_assets
from rl_assets.defs.assets.technicals import build_technicals_assets


def build_assets(
    daily: dg.TimeWindowPartitionsDefinition, warehouse_kind: str, sidecar: bool
) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    """Every asset of one mode: the daily ones on the trading-day partitions `daily`, tagged with
    the warehouse's kind (duckdb or bigquery); in sidecar mode the live chain and prices are the
    existing pipeline's external assets."""
    return [
        *build_market_assets(daily, warehouse_kind, sidecar),
        *build_technicals_assets(daily, warehouse_kind),
        *build_dataset_assets(daily, warehouse_kind),
        baseline_model,
        ppo_agent,
        *build_paper_trading_assets(daily, warehouse_kind),
    ]
