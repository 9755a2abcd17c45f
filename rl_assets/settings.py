"""Configuration from RL_ASSETS_* environment variables; the defaults are the offline setup."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DUCKDB_PATH = str(REPO_ROOT / "data" / "rl_assets.duckdb")
DEFAULT_MODEL_STORE = str(REPO_ROOT / "data" / "models")
# DuckDB caches every page it touches up to its memory limit (80% of the machine by default), so a
# long backfill's memory would grow with its range; a fixed limit makes it evict and spill instead.
DEFAULT_DUCKDB_MEMORY_LIMIT = "2GB"
_MEMORY_LIMIT = re.compile(r"^\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def validate_memory_limit(value: str) -> str:
    """A DuckDB memory size such as '2GB' or '1500MiB', or a ValueError naming the value."""
    if not _MEMORY_LIMIT.match(value):
        raise ValueError(f"DuckDB memory limit {value!r} is not a size such as '2GB' or '1500MiB'")
    return value.strip()


# A base64-encoded service-account key, passed to the warehouse as an EnvVar (never read as a value
# here). Without it, BigQuery uses Application Default Credentials.
CREDENTIALS_VARIABLE = "RL_ASSETS_BQ_CREDENTIALS"


@dataclass(frozen=True)
class Settings:
    warehouse: str = "duckdb"
    duckdb_path: str = DEFAULT_DUCKDB_PATH
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT
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
            duckdb_memory_limit=get(
                "RL_ASSETS_DUCKDB_MEMORY_LIMIT", defaults.duckdb_memory_limit, validate_memory_limit
            ),
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
