"""The code location of the default mode (synthetic market, DuckDB), built in-process as
rl_assets/definitions.py builds it, and its parts by name for the tests that materialise a few
assets with their checks. Other modes: build_definitions(Settings(...)) in the test."""

import dagster as dg

from rl_assets.defs.code_location import build_definitions
from rl_assets.model_store import BASELINE_MODEL, PPO_AGENT
from rl_assets.settings import Settings

DEFS = build_definitions(Settings())
CHECKS = {checks.node_def.name: checks for checks in DEFS.asset_checks}

options_chain = DEFS.get_assets_def("options_chain")
price_data = DEFS.get_assets_def("price_data")
options_chain_history = DEFS.get_assets_def("options_chain_history")
technicals_history = DEFS.get_assets_def("technicals_history")
rl_state = DEFS.get_assets_def("rl_state")
rl_dataset = DEFS.get_assets_def("rl_dataset")
baseline_model = DEFS.get_assets_def(BASELINE_MODEL.name)
ppo_agent = DEFS.get_assets_def(PPO_AGENT.name)
recommendations = DEFS.get_assets_def("recommendations")
paper_trades = DEFS.get_assets_def("paper_trades")
paper_trading_performance = DEFS.get_assets_def("paper_trading_performance")

price_data_checks = CHECKS["price_data_checks"]
price_data_matches_chain = CHECKS["price_data_close_matches_chain_underlying_price"]
options_chain_history_checks = CHECKS["options_chain_history_checks"]
rl_state_checks = CHECKS["rl_state_checks"]
rl_dataset_checks = CHECKS["rl_dataset_checks"]
history_freshness_checks = CHECKS["history_freshness_checks"]


def sensor(name: str, defs: dg.Definitions = DEFS) -> dg.SensorDefinition:
    return defs.get_sensor_def(name)
