"""Configuration: the Settings value every mode is built from, and its RL_ASSETS_* environment
variables (read by the code location's entry point, rl_assets/definitions.py, once). The defaults
are the offline setup."""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rl_assets import calendar
from rl_assets.files import CHAIN_FILES_VARIABLE, PRICE_FILES_VARIABLE, list_files
from rl_assets.formats.model import CONTRACT, FormatError, load_chain_format, load_price_format
from rl_assets.formats.select import TableRef
from rl_assets.market.synthetic import EPOCH, MAX_TICKERS
from rl_assets.warehouse.sql import validate_identifier

# The folder holding rl_assets/: the checkout's root (tests and benchmarks run there), or
# site-packages when rl_assets is installed from the wheel.
REPO_ROOT = Path(__file__).resolve().parents[1]
# Where the defaults keep the DuckDB file and the models: the checkout's data/ (pyproject.toml beside
# rl_assets/), or installed from the wheel, data/ in the working directory the code location starts in.
DATA_DIR = (REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else Path.cwd()) / "data"
DEFAULT_DUCKDB_PATH = str(DATA_DIR / "rl_assets.duckdb")
DEFAULT_MODEL_STORE = str(DATA_DIR / "models")
# DuckDB caches every page it touches up to its memory limit (80% of the machine by default), so a
# long backfill's memory would grow with its range; a fixed limit makes it evict and spill instead.
DEFAULT_DUCKDB_MEMORY_LIMIT = "2GB"
_MEMORY_LIMIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)
_BYTES_PER_UNIT = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}  # DuckDB's: MB is 10^6, MiB 2^20
_BYTES_PER_UNIT |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
# Below this a run fails on memory, not data: the default 20-ticker universe's rl_dataset statement
# (one day) ran out of memory at 128MB and ran at 256MB (measured); 1KB fails creating the tables.
MIN_DUCKDB_MEMORY_LIMIT = "256MB"


def memory_bytes(value: str) -> int:
    """The bytes of a DuckDB memory size such as '2GB' or '1500MiB', or a ValueError naming the value."""
    match = _MEMORY_LIMIT.match(value)
    if not match:
        raise ValueError(f"DuckDB memory limit {value!r} is not a size such as '2GB' or '1500MiB'")
    return int(float(match.group(1)) * _BYTES_PER_UNIT[match.group(2).lower()])


def validate_memory_limit(value: str) -> str:
    """A DuckDB memory size of at least MIN_DUCKDB_MEMORY_LIMIT, or a ValueError naming the value."""
    if memory_bytes(value) < memory_bytes(MIN_DUCKDB_MEMORY_LIMIT):
        raise ValueError(f"DuckDB memory limit {value!r} is below {MIN_DUCKDB_MEMORY_LIMIT}, too little to run")
    return value.strip()


# A base64-encoded service-account key, passed to the warehouse as an EnvVar (never read as a value
# here). Without it, BigQuery uses Application Default Credentials.
CREDENTIALS_VARIABLE = "RL_ASSETS_BQ_CREDENTIALS"


# synthetic: the embedded demo market; warehouse: sidecar, beside the user's pipeline; files: a
# vendor's history files.
MARKETS = ("synthetic", "warehouse", "files")


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
    # The name of the variable that holds a base64 service-account key (passed on as an EnvVar, so
    # the value is never read here); None: Application Default Credentials.
    credentials_variable: str | None = None
    # Sidecar mode: the pipeline's live chain and daily bars, wherever they are and in its vendor's
    # layout (a preset's name or a YAML file: rl_assets/formats/).
    live_table: str = "options_chain"
    chain_format: str = CONTRACT
    price_table: str = "price_data"
    price_format: str = CONTRACT
    # Files mode: a vendor's history files (a folder, a glob or a file; gs:// on BigQuery), read
    # through chain_format / price_format. No price files: price_data is built from the chain.
    chain_files: str | None = None
    price_files: str | None = None

    def __post_init__(self) -> None:
        """Bad values fail here, when the code location loads, naming the variable and the value."""

        def refuse(field: str, reason: str) -> None:
            value = getattr(self, field)
            shown = repr(str(value) if isinstance(value, dt.date) else value)
            raise ValueError(f"{VARIABLES[field]}={shown} is not valid: {reason}")

        for field in ("seed", "universe"):
            if not isinstance(getattr(self, field), int) or isinstance(getattr(self, field), bool):
                refuse(field, "not an integer")
        if not 1 <= self.universe <= MAX_TICKERS:
            refuse("universe", f"the synthetic universe is 1 to {MAX_TICKERS} tickers")
        if not math.isfinite(self.signal) or self.signal < 0:
            refuse("signal", "the signal strength is a finite number >= 0")
        try:
            trading_day = calendar.is_trading_day(self.start_date)
        except ValueError as error:
            refuse("start_date", str(error))
        if not trading_day:
            refuse("start_date", f"{self.start_date:%A} {self.start_date} is not an NYSE trading day")
        if self.market == "synthetic" and self.start_date < EPOCH:
            refuse("start_date", f"the synthetic market starts on {EPOCH}")
        try:
            validate_memory_limit(self.duckdb_memory_limit)
        except ValueError as error:
            refuse("duckdb_memory_limit", str(error))
        for field, load in (("chain_format", load_chain_format), ("price_format", load_price_format)):
            try:
                load(getattr(self, field))
            except FormatError as error:
                refuse(field, str(error))
        for field in ("live_table", "price_table"):
            try:
                TableRef.parse(getattr(self, field), VARIABLES[field])
            except ValueError as error:
                refuse(field, str(error))
        if self.market != "warehouse":
            for field in ("live_table", "price_table"):
                if getattr(self, field) != getattr(Settings, field):
                    refuse(
                        field, "the live and price tables are read in sidecar mode only (RL_ASSETS_MARKET=warehouse)"
                    )
        if self.market == "synthetic":
            for field in ("chain_format", "price_format"):
                if getattr(self, field) != getattr(Settings, field):
                    refuse(
                        field,
                        "formats read the pipeline's tables (RL_ASSETS_MARKET=warehouse) or history files "
                        "(RL_ASSETS_MARKET=files); the synthetic market has its own layout",
                    )
        if self.market == "files":
            if not self.chain_files:
                raise ValueError(
                    f"RL_ASSETS_MARKET=files needs {VARIABLES['chain_files']}: the folder, glob or file of the chain history"
                )
            for field in ("chain_files", "price_files"):
                if getattr(self, field):
                    try:
                        list_files(getattr(self, field), VARIABLES[field])
                    except ValueError as error:
                        raise ValueError(str(error)) from None
        else:
            for field in ("chain_files", "price_files"):
                if getattr(self, field):
                    refuse(field, "history files are read in files mode only (RL_ASSETS_MARKET=files)")
        for field, kind in (("dataset", "dataset"), ("bq_project", "project")):
            if getattr(self, field) is not None:
                try:
                    validate_identifier(kind, getattr(self, field))
                except ValueError as error:
                    refuse(field, str(error))

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

        return cls(  # __post_init__ validates the values
            warehouse=get("RL_ASSETS_WAREHOUSE", defaults.warehouse, allowed=("duckdb", "bigquery")),
            duckdb_path=get("RL_ASSETS_DUCKDB_PATH", defaults.duckdb_path),
            duckdb_memory_limit=get(
                "RL_ASSETS_DUCKDB_MEMORY_LIMIT", defaults.duckdb_memory_limit, validate_memory_limit
            ),
            bq_project=get("RL_ASSETS_BQ_PROJECT", defaults.bq_project),
            dataset=get("RL_ASSETS_BQ_DATASET", defaults.dataset),
            bq_location=get("RL_ASSETS_BQ_LOCATION", defaults.bq_location),
            market=get("RL_ASSETS_MARKET", defaults.market, allowed=MARKETS),
            seed=get("RL_ASSETS_SEED", defaults.seed, int),
            signal=get("RL_ASSETS_SIGNAL", defaults.signal, float),
            universe=get("RL_ASSETS_UNIVERSE", defaults.universe, int),
            start_date=get("RL_ASSETS_START_DATE", defaults.start_date, dt.date.fromisoformat),
            model_store=get("RL_ASSETS_MODEL_STORE", defaults.model_store),
            credentials_variable=CREDENTIALS_VARIABLE if env.get(CREDENTIALS_VARIABLE, "").strip() else None,
            live_table=get("RL_ASSETS_LIVE_TABLE", defaults.live_table),
            chain_format=get("RL_ASSETS_CHAIN_FORMAT", defaults.chain_format),
            price_table=get("RL_ASSETS_PRICE_TABLE", defaults.price_table),
            price_format=get("RL_ASSETS_PRICE_FORMAT", defaults.price_format),
            chain_files=get("RL_ASSETS_CHAIN_FILES", defaults.chain_files),
            price_files=get("RL_ASSETS_PRICE_FILES", defaults.price_files),
        )


VARIABLES = {
    "warehouse": "RL_ASSETS_WAREHOUSE",
    "duckdb_path": "RL_ASSETS_DUCKDB_PATH",
    "duckdb_memory_limit": "RL_ASSETS_DUCKDB_MEMORY_LIMIT",
    "bq_project": "RL_ASSETS_BQ_PROJECT",
    "dataset": "RL_ASSETS_BQ_DATASET",
    "bq_location": "RL_ASSETS_BQ_LOCATION",
    "market": "RL_ASSETS_MARKET",
    "seed": "RL_ASSETS_SEED",
    "signal": "RL_ASSETS_SIGNAL",
    "universe": "RL_ASSETS_UNIVERSE",
    "start_date": "RL_ASSETS_START_DATE",
    "model_store": "RL_ASSETS_MODEL_STORE",
    "live_table": "RL_ASSETS_LIVE_TABLE",
    "chain_format": "RL_ASSETS_CHAIN_FORMAT",
    "price_table": "RL_ASSETS_PRICE_TABLE",
    "price_format": "RL_ASSETS_PRICE_FORMAT",
    "chain_files": CHAIN_FILES_VARIABLE,
    "price_files": PRICE_FILES_VARIABLE,
}
