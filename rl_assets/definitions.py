"""The code location: assets, checks, jobs, schedules, sensors and resources, configured from RL_ASSETS_* variables."""

import dagster as dg

from rl_assets import automation
from rl_assets.assets.checks import options_chain_history_checks, price_data_checks, rl_dataset_checks, rl_state_checks
from rl_assets.assets.dataset import rl_dataset, rl_state
from rl_assets.assets.market import options_chain, options_chain_history, price_data
from rl_assets.assets.models import baseline_model, ppo_agent
from rl_assets.assets.paper_trading import paper_trades, paper_trading_performance, recommendations
from rl_assets.assets.technicals import technicals_history
from rl_assets.resources import MarketDataProvider, ModelStore, SyntheticMarketProvider, Warehouse
from rl_assets.settings import Settings


def build_resources(settings: Settings) -> dict:
    if settings.warehouse != "duckdb":
        raise ValueError(
            f"RL_ASSETS_WAREHOUSE={settings.warehouse!r}: the BigQuery backend is not built yet; use duckdb"
        )
    if settings.market != "synthetic":
        raise ValueError(f"RL_ASSETS_MARKET={settings.market!r}: sidecar mode is not built yet; use synthetic")
    market: MarketDataProvider = SyntheticMarketProvider(
        seed=settings.seed, signal=settings.signal, universe=settings.universe
    )
    return {
        "warehouse": Warehouse(duckdb_path=settings.duckdb_path, dataset=settings.dataset),
        "market": market,
        "model_store": ModelStore(location=settings.model_store),
    }


defs = dg.Definitions(
    assets=[
        options_chain,
        price_data,
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
        options_chain_history_checks,
        rl_state_checks,
        rl_dataset_checks,
        automation.history_freshness_checks,
    ],
    jobs=automation.jobs,
    schedules=automation.schedules,
    sensors=automation.sensors,
    resources=build_resources(Settings.from_env()),
    # One process per run: a DuckDB file has one writer, so a run's steps must not open it in
    # parallel, and the code location (torch included) is imported once per run, not per step.
    executor=dg.in_process_executor,
)
