"""The wheel's packages (the metadata is in pyproject.toml).

sql/ stays at the top of the repo, where the statements are read and reviewed, and ships inside the
wheel as the data-only package rl_assets.sql: pyproject.toml alone cannot add a package mapped from
outside rl_assets/ to the ones it finds. Tests and benchmarks are not packaged.
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[*find_namespace_packages(include=["rl_assets", "rl_assets.*"]), "rl_assets.sql"],
    package_dir={"rl_assets.sql": "sql"},
    package_data={
        "rl_assets.sql": ["*.sql"],
        # The chain and price format presets (RL_ASSETS_CHAIN_FORMAT / RL_ASSETS_PRICE_FORMAT).
        "rl_assets.formats.presets": ["*.yaml"],
        "rl_assets.formats.presets.prices": ["*.yaml"],
    },
)
