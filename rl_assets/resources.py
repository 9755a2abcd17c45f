"""Dagster resources: the warehouse and the market-data provider."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from rl_assets.market.synthetic import SyntheticMarket, default_tickers
from rl_assets.warehouse.duckdb_backend import DuckDBBackend
from rl_assets.warehouse.sql import validate_identifier

# Every asset and check that opens the warehouse runs in this concurrency pool. A DuckDB file has
# one writer at a time, so the embedded dagster.yaml limits the pool to one run: a second run
# waits in the queue instead of failing on the file lock.
WAREHOUSE_POOL = "warehouse"


class Warehouse(dg.ConfigurableResource):
    """Where every table lives: a DuckDB file by default (BigQuery in production)."""

    backend: str = "duckdb"
    duckdb_path: str = "data/rl_assets.duckdb"
    dataset: str = "rl_assets"

    @contextmanager
    def session(self) -> Iterator[DuckDBBackend]:
        """An open backend with the contract's tables created if missing."""
        if self.backend != "duckdb":
            raise ValueError(f"warehouse backend {self.backend!r} is not available; use 'duckdb'")
        validate_identifier("dataset", self.dataset)
        Path(self.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
        # dagster-duckdb's resource retries while another process holds the file's lock. It does
        # not close the connection when the body raises, so close it here (closing twice is fine).
        with DuckDBResource(database=self.duckdb_path).get_connection() as connection:
            try:
                backend = DuckDBBackend(connection, self.dataset)
                backend.ensure_tables()
                yield backend
            finally:
                connection.close()


class MarketDataProvider(dg.ConfigurableResource):
    """Where chains and prices come from. Implementations serve any trading day they can and say
    plainly when they cannot."""

    def tickers(self) -> list[str]:
        raise NotImplementedError

    def chain(self, day: dt.date) -> pd.DataFrame:
        raise NotImplementedError

    def prices(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        raise NotImplementedError


class SyntheticMarketProvider(MarketDataProvider):
    """The deterministic synthetic market (rl_assets.market.synthetic): any past trading day."""

    seed: int = 7
    signal: float = 0.0
    universe: int = 20
    _market: SyntheticMarket | None = PrivateAttr(default=None)

    def market(self) -> SyntheticMarket:
        if self._market is None:
            self._market = SyntheticMarket(seed=self.seed, signal=self.signal, tickers=self.universe)
        return self._market

    def tickers(self) -> list[str]:
        return default_tickers(self.universe)  # without simulating the market

    def chain(self, day: dt.date) -> pd.DataFrame:
        return self.market().chain(day)

    def prices(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        return self.market().prices(start, end)


class ModelStore(dg.ConfigurableResource):
    """Where model artifacts live: a local folder (default data/models) or gs://bucket/prefix."""

    location: str = "data/models"
