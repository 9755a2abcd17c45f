import datetime as dt

import pytest

from rl_assets.market.synthetic import SyntheticMarket
from rl_assets.resources import SyntheticMarketProvider, Warehouse
from rl_assets.warehouse.duckdb_backend import open_duckdb

DAY = dt.date(2026, 11, 20)  # a Friday session
NEXT_DAY = dt.date(2026, 11, 23)
SMALL_UNIVERSE = 4


@pytest.fixture
def duckdb_path(tmp_path):
    return str(tmp_path / "warehouse.duckdb")


@pytest.fixture
def warehouse(duckdb_path):
    """A DuckDB backend on a fresh file with the contract's tables."""
    with open_duckdb(duckdb_path, "rl_test") as backend:
        backend.ensure_tables()
        yield backend


@pytest.fixture(scope="session")
def market():
    return SyntheticMarket(seed=11, tickers=SMALL_UNIVERSE)


@pytest.fixture
def resources(duckdb_path):
    return {
        "warehouse": Warehouse(duckdb_path=duckdb_path, dataset="rl_test"),
        "market": SyntheticMarketProvider(seed=11, universe=SMALL_UNIVERSE),
    }
