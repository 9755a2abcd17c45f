"""The Dagster layer: everything Dagster sees, built from a Settings value.

    assets/      one module per asset group (market_data, features, rl, models, paper_trading)
    checks.py    data checks on the warehouse tables, and the history assets' freshness checks
    jobs.py      the jobs (selections of assets with their checks)
    schedules.py the evening run of each NYSE session, the freshness deadline
    sensors.py   labels after a daily run, the sidecar's live chain, retraining
    partitions.py  NYSE trading-day partitions and run tags
    resources.py   the warehouse, the market and the model store
    code_location.py  build_definitions(settings): the above, for one mode
    run_launcher.py, demo.py  the embedded instance's launcher and `make demo`

`build_definitions(settings)` (code_location.py) is the one place a mode is decided: the market
(synthetic, or the existing pipeline's tables in sidecar mode), the warehouse (DuckDB or
BigQuery) and the first partition. Nothing here reads RL_ASSETS_* variables; rl_assets/definitions.py, the code
location's entry point, reads them once. The pure logic (SQL, rewards, models) lives outside
defs/ and does not import dagster.

This package's own module imports nothing: the instance's daemon imports run_launcher.py without
loading the code location (torch included).
"""
