"""The code location: assets, checks, jobs, schedules, sensors and resources, configured from RL_ASSETS_* variables."""

import os

import dagster as dg

from rl_assets import automation
from rl_assets.assets.checks import (
    options_chain_history_checks,
    price_data_checks,
    price_data_matches_chain,
    rl_dataset_checks,
    rl_state_checks,
)
from rl_assets.assets.dataset import rl_dataset, rl_state
from rl_assets.assets.market import (
    options_chain,
    options_chain_history,
    options_chain_source,
    price_data,
    price_data_source,
)
from rl_assets.assets.models import baseline_model, ppo_agent
from rl_assets.assets.paper_trading import paper_trades, paper_trading_performance, recommendations
from rl_assets.assets.technicals import technicals_history
from rl_assets.resources import (
    SIDECAR_TABLES,
    MarketDataProvider,
    ModelStore,
    SyntheticMarketProvider,
    Warehouse,
    WarehouseMarketProvider,
)
from rl_assets.settings import CREDENTIALS_VARIABLE, Settings

SETTINGS = Settings.from_env()


def build_resources(settings: Settings) -> dict:
    warehouse = Warehouse(
        backend=settings.warehouse,
        duckdb_path=settings.duckdb_path,
        duckdb_memory_limit=settings.duckdb_memory_limit,
        dataset=settings.dataset,
        bq_project=settings.bq_project,
        bq_location=settings.bq_location,
        # A service-account key travels as an EnvVar: the UI and logs show its name, never its value.
        gcp_credentials=dg.EnvVar(CREDENTIALS_VARIABLE) if os.environ.get(CREDENTIALS_VARIABLE) else None,
        # Sidecar mode: rl-assets never creates the existing pipeline's tables.
        external_tables=list(SIDECAR_TABLES) if settings.market == "warehouse" else [],
    )
    market: MarketDataProvider = (
        WarehouseMarketProvider(warehouse=warehouse)
        if settings.market == "warehouse"
        else SyntheticMarketProvider(seed=settings.seed, signal=settings.signal, universe=settings.universe)
    )
    return {"warehouse": warehouse, "market": market, "model_store": ModelStore(location=settings.model_store)}


def market_assets(settings: Settings) -> list:
    """The live chain and prices: written from the synthetic market, or (sidecar mode) the
    existing pipeline's tables as external assets."""
    if settings.market == "warehouse":
        return [options_chain_source, price_data_source]
    return [options_chain, price_data]


defs = dg.Definitions(
    assets=[
        *market_assets(SETTINGS),
        options_chain_history,
        technicals_history,
        rl_state,
        rl_dataset,
        baseline_model,
        ppo_agent,
        recommendations,
        paper_trades,
        paper_trading_performance,
    ],
    asset_checks=[
        price_data_checks,
        price_data_matches_chain,
        options_chain_history_checks,
        rl_state_checks,
        rl_dataset_checks,
        automation.history_freshness_checks,
    ],
    jobs=automation.jobs,
    schedules=automation.schedules,
    sensors=automation.sensors,
    resources=build_resources(SETTINGS),
    # One process per run: a DuckDB file has one writer, so a run's steps must not open it in
    # parallel, and the code location (torch included) is imported once per run, not per step.
    executor=dg.in_process_executor,
)
