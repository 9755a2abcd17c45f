"""The code location's entry point (`dagster dev`, workspace.yaml, pyproject's [tool.dagster]):
the RL_ASSETS_* variables are read here, once, and the definitions built from them
(rl_assets.defs.code_location.build_definitions)."""

from rl_assets.defs.code_location import build_definitions
from rl_assets.settings import Settings

defs = build_definitions(Settings.from_env())
