"""The assets, one module per group: market_data, features, rl, models, paper_trading."""

import dagster as dg

from rl_assets.defs.assets.dataset import build_dataset_assets
from rl_assets.defs.assets.market import build_market_assets
from rl_assets.defs.assets.models import baseline_model, ppo_agent
from rl_assets.defs.assets.paper_trading import build_paper_trading_assets
from rl_assets.defs.assets.technicals import build_technicals_assets


def build_assets(
    daily: dg.TimeWindowPartitionsDefinition, warehouse_kind: str, market: str, prices_from_chain: bool = False
) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    """Every asset of one mode: the daily ones on the trading-day partitions `daily`, tagged with
    the warehouse's kind (duckdb or bigquery); in sidecar mode (market 'warehouse') the live chain
    and prices are the existing pipeline's external assets, in files mode the chain is the history
    files (and, `prices_from_chain`, price_data is built from the archived chain)."""
    return [
        *build_market_assets(daily, warehouse_kind, market, prices_from_chain),
        *build_technicals_assets(daily, warehouse_kind),
        *build_dataset_assets(daily, warehouse_kind),
        baseline_model,
        ppo_agent,
        *build_paper_trading_assets(daily, warehouse_kind),
    ]
