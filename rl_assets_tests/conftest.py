import datetime as dt
import secrets

import pandas as pd
import pytest

from rl_assets import calendar
from rl_assets.defs.resources import SyntheticMarketProvider, Warehouse
from rl_assets.market.synthetic import SyntheticMarket
from rl_assets.warehouse.bigquery_backend import EMULATOR_HOST, BigQueryBackend, bigquery_client
from rl_assets.warehouse.duckdb_backend import open_duckdb
from rl_assets_bench.history import ThinnedMarket, build_history, table
from rl_assets_tests.bigquery_emulator import PROJECT, running_emulator

DAY = dt.date(2026, 11, 20)  # a Friday session
NEXT_DAY = dt.date(2026, 11, 23)
SMALL_UNIVERSE = 4


@pytest.fixture
def duckdb_path(tmp_path):
    return str(tmp_path / "warehouse.duckdb")


@pytest.fixture(scope="module")
def bigquery_emulator(tmp_path_factory):
    """The local BigQuery emulator, one per test module (its catalogue slows as it grows); its URL."""
    with running_emulator(tmp_path_factory.mktemp("bigquery_emulator")) as url:
        yield url


@pytest.fixture
def emulated_bigquery(bigquery_emulator, monkeypatch):
    """BIGQUERY_EMULATOR_HOST set for this test, and a dataset name of its own (dropped after it,
    so the emulator's catalogue stays small)."""
    monkeypatch.setenv(EMULATOR_HOST, bigquery_emulator)
    dataset = f"rl_test_{secrets.token_hex(4)}"
    yield dataset
    with bigquery_client(PROJECT, "US") as client:
        client.delete_dataset(f"{PROJECT}.{dataset}", delete_contents=True, not_found_ok=True)


@pytest.fixture(params=["duckdb", "bigquery"])
def warehouse(request, duckdb_path):
    """A backend with the contract's tables, once on a fresh DuckDB file and once on a fresh
    dataset of the BigQuery emulator."""
    if request.param == "duckdb":
        with open_duckdb(duckdb_path, "rl_test") as backend:
            backend.ensure_tables()
            yield backend
        return
    dataset = request.getfixturevalue("emulated_bigquery")
    with bigquery_client(PROJECT, "US") as client:
        backend = BigQueryBackend(client, dataset)
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


# ---- Two synthetic markets built by the real pipeline, shared by the leakage and model tests.
# To keep CI fast: 40 underlyings over 220 sessions, chains thinned to a fixed 1/32 of contract
# symbols (a smaller market, not a per-day sample: contracts persist day to day).
UNDERLYINGS, SESSIONS, SEED = 40, 220, 3
PLANTED_SIGNAL = 2.0
MARKET_DAYS = calendar.trading_days(dt.date(2023, 1, 3), dt.date(2025, 6, 30))[-SESSIONS:]


def _build(tmp_path_factory, signal: float) -> dict:
    path = str(tmp_path_factory.mktemp(f"signal_{signal}") / "warehouse.duckdb")
    with open_duckdb(path, "rl_test") as wh:
        wh.ensure_tables()
        build_history(wh, ThinnedMarket(seed=SEED, signal=signal, tickers=UNDERLYINGS), MARKET_DAYS)
        dataset, prices = table(wh, "rl_dataset"), table(wh, "price_data", "ticker, date")
    dataset["snapshot_date"] = pd.to_datetime(dataset["snapshot_date"]).dt.date
    prices["date"] = pd.to_datetime(prices["date"]).dt.date
    return {"path": path, "dataset": dataset, "prices": prices}


@pytest.fixture(scope="session")
def null_market(tmp_path_factory):
    return _build(tmp_path_factory, 0.0)


@pytest.fixture(scope="session")
def planted_market(tmp_path_factory):
    return _build(tmp_path_factory, PLANTED_SIGNAL)
