"""Configuration from RL_ASSETS_* environment variables; the defaults are the offline setup."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DUCKDB_PATH = str(REPO_ROOT / "data" / "rl_assets.duckdb")
DEFAULT_MODEL_STORE = str(REPO_ROOT / "data" / "models")
# A base64-encoded service-account key, passed to the warehouse as an EnvVar (never read as a value
# here). Without it, BigQuery uses Application Default Credentials.
CREDENTIALS_VARIABLE = "RL_ASSETS_BQ_CREDENTIALS"


@dataclass(frozen=True)
class Settings:
    warehouse: str = "duckdb"
    duckdb_path: str = DEFAULT_DUCKDB_PATH
    bq_project: str | None = None
    dataset: str = "rl_assets"
    bq_location: str = "US"
    market: str = "synthetic"
    seed: int = 7
    signal: float = 0.0
    universe: int = 20
    start_date: dt.date = dt.date(2025, 1, 2)
    model_store: str = DEFAULT_MODEL_STORE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()

        def get(name: str, default, parse=str, allowed: tuple[str, ...] | None = None):
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = parse(raw)
            except ValueError as err:
                raise ValueError(f"{name}={raw!r} is not valid: {err}") from err
            if allowed is not None and value not in allowed:
                raise ValueError(f"{name}={raw!r} is not valid: use one of {', '.join(allowed)}")
            return value

        return cls(
            warehouse=get("RL_ASSETS_WAREHOUSE", defaults.warehouse, allowed=("duckdb", "bigquery")),
            duckdb_path=get("RL_ASSETS_DUCKDB_PATH", defaults.duckdb_path),
            bq_project=get("RL_ASSETS_BQ_PROJECT", defaults.bq_project),
            dataset=get("RL_ASSETS_BQ_DATASET", defaults.dataset),
            bq_location=get("RL_ASSETS_BQ_LOCATION", defaults.bq_location),
            market=get("RL_ASSETS_MARKET", defaults.market, allowed=("synthetic", "warehouse")),
            seed=get("RL_ASSETS_SEED", defaults.seed, int),
            signal=get("RL_ASSETS_SIGNAL", defaults.signal, float),
            universe=get("RL_ASSETS_UNIVERSE", defaults.universe, int),
            start_date=get("RL_ASSETS_START_DATE", defaults.start_date, dt.date.fromisoformat),
            model_store=get("RL_ASSETS_MODEL_STORE", defaults.model_store),
        )
