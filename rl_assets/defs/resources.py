"""Dagster resources: the warehouse, the market-data provider and the model store, built from the settings."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import ClassVar, Literal

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from rl_assets import quality
from rl_assets.archive import live_chain_source, price_source
from rl_assets.formats.model import CONTRACT
from rl_assets.formats.select import ChainSource, TableRef
from rl_assets.market.synthetic import SyntheticMarket, default_tickers
from rl_assets.settings import DEFAULT_DUCKDB_MEMORY_LIMIT, Settings, validate_memory_limit
from rl_assets.warehouse.backend import WarehouseBackend, WarehouseError
from rl_assets.warehouse.bigquery_backend import BigQueryBackend, bigquery_client
from rl_assets.warehouse.duckdb_backend import DuckDBBackend
from rl_assets.warehouse.lock import holding
from rl_assets.warehouse.sql import validate_identifier

# Every asset and check that opens the warehouse runs in this concurrency pool. A DuckDB file has
# one writer at a time, so the embedded dagster.yaml limits the pool to one run: a second run
# waits in the queue instead of failing on the file lock.
WAREHOUSE_POOL = "warehouse"


class Warehouse(dg.ConfigurableResource):
    """Where every table lives: a DuckDB file (the embedded default) or a BigQuery dataset."""

    backend: Literal["duckdb", "bigquery"] = "duckdb"
    duckdb_path: str = "data/rl_assets.duckdb"
    dataset: str = "rl_assets"
    bq_project: str | None = Field(default=None, description="BigQuery project; default: the credentials' project.")
    duckdb_memory_limit: str = Field(
        default=DEFAULT_DUCKDB_MEMORY_LIMIT,
        description="DuckDB's memory limit (e.g. '2GB'): past it DuckDB evicts cached pages and spills to "
        "disk, so a long backfill's memory stays bounded. DuckDB's own default is 80% of the machine.",
    )
    bq_location: str = "US"
    gcp_credentials: str | None = Field(
        default=None,
        description="A base64-encoded service-account key (pass it as an EnvVar), held in memory, never "
        "written to a file; default: Application Default Credentials.",
    )
    external_tables: list[str] = Field(
        default=[],
        description="Tables another pipeline owns (sidecar mode: options_chain and price_data): never "
        "created; a session fails naming any that is missing (the wrong dataset).",
    )
    skipped_tables: list[str] = Field(
        default=[],
        description="Contract tables never created here (sidecar mode: the pipeline's live chain and prices, "
        "read wherever RL_ASSETS_LIVE_TABLE and RL_ASSETS_PRICE_TABLE name them).",
    )
    live_table: str = Field(
        default="options_chain",
        description="The live chain: table, dataset.table or project.dataset.table (read only).",
    )
    chain_format: str = Field(default=CONTRACT, description="The live chain's layout: a preset or a YAML file.")
    price_table: str = Field(
        default="price_data",
        description="The daily bars: table, dataset.table or project.dataset.table (read only).",
    )
    price_format: str = Field(default=CONTRACT, description="The daily bars' layout: a preset or a YAML file.")
    imports_history_files: bool = Field(
        default=False,
        description="Files mode: the sessions an import found no data for (sessions_without_data) are empty by "
        "design, and the data checks leave them out.",
    )
    lock_timeout_seconds: float = Field(
        default=300,
        description="How long a run (or a session outside a run) waits for another process that holds the "
        "DuckDB file (its `<file>.lock`) before failing with the holder's pid and run.",
    )
    _run_hold: ExitStack = PrivateAttr(default_factory=ExitStack)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A run holds the DuckDB file from its first step to its last: another process (a CLI or
        # Python run outside the queue) cannot write between two of its steps. Once per run with
        # the in-process executor. BigQuery takes concurrent runs: partitions are replaced atomically.
        if self.backend == "duckdb" and context.run is not None:
            self._run_hold.enter_context(self._duckdb_hold(f"run {context.run.run_id}", context.log.warning))

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._run_hold.close()

    def _duckdb_hold(self, purpose: str, log=None):
        require_writable_file(self.duckdb_path)
        return holding(self.duckdb_path, purpose, self.lock_timeout_seconds, log or dg.get_dagster_logger().warning)

    @contextmanager
    def session(self) -> Iterator[WarehouseBackend]:
        """An open backend with the contract's tables created if missing."""
        validate_identifier("dataset", self.dataset)
        if self.bq_project is not None:
            validate_identifier("project", self.bq_project)
        if self.backend == "bigquery":
            with bigquery_client(self.bq_project, self.bq_location, self.gcp_credentials) as client:
                backend = BigQueryBackend(client, self.dataset, self.bq_location)
                backend.ensure_tables(self.external_tables, self.skipped_tables)
                self._read_prices_through_format(backend)
                yield backend
            return
        # Inside a run this reuses the run's hold; outside one (tests, sensors, notebooks) it holds
        # the file for the session.
        hold = self._duckdb_hold(f"a session of {Path(sys.argv[0]).name}")
        # dagster-duckdb's resource retries while another process holds the file's lock. It does
        # not close the connection when the body raises, so close it here (closing twice is fine).
        memory_limit = validate_memory_limit(self.duckdb_memory_limit)
        with (
            hold,
            DuckDBResource(
                database=self.duckdb_path, connection_config={"memory_limit": memory_limit}
            ).get_connection() as connection,
        ):
            try:
                backend = DuckDBBackend(connection, self.dataset, memory_limit)
                backend.ensure_tables(self.external_tables, self.skipped_tables)
                self._read_prices_through_format(backend)
                yield backend
            finally:
                connection.close()

    def _read_prices_through_format(self, backend: WarehouseBackend) -> None:
        """Statements that read price_data read the pipeline's own table through its format, unless
        it is rl-assets' price_data in the contract's layout with close_only (another pipeline's
        price_data lacks it, and is never altered: its format reads its bars as real ones)."""
        contract = TableRef.parse(self.price_table) == TableRef("price_data") and self.price_format == CONTRACT
        if contract:
            held = backend.columns("price_data")
            contract = not held or "close_only" in held
        if not contract:
            backend.sources["price_data"] = price_source(backend, self.price_table, self.price_format).select()

    def live_chain(self, backend: WarehouseBackend) -> ChainSource:
        """The live chain as its format reads it (ArchiveRefused names a missing table or column)."""
        return live_chain_source(backend, self.live_table, self.chain_format)


def require_writable_file(path: str) -> None:
    """A WarehouseError at once, naming the path and the reason, when the DuckDB file cannot be
    written: a directory, a folder that cannot be created or written (DuckDB writes a .wal beside
    the file), a read-only file. dagster-duckdb retries every IOException for ~105 s, which only a
    lock held by another process deserves."""
    file = Path(path)

    def refuse(reason: str) -> WarehouseError:
        return WarehouseError(f"cannot write the DuckDB file {path} (RL_ASSETS_DUCKDB_PATH): {reason}")

    if file.is_dir():
        raise refuse("it is a directory")
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise refuse(f"its folder cannot be created: {error.strerror}") from None
    if not os.access(file.parent, os.W_OK | os.X_OK):
        raise refuse(f"its folder {file.parent} is not writable")
    if file.exists() and not os.access(file, os.R_OK | os.W_OK):
        raise refuse("the file is not writable")


class MarketDataProvider(dg.ConfigurableResource):
    """Where chains and prices come from. Implementations serve any trading day they can and say
    plainly when they cannot."""

    serves_past_chains: ClassVar[bool] = True

    def tickers(self) -> list[str]:
        raise NotImplementedError

    def tickers_by_day(self, days: list[dt.date]) -> dict[dt.date, list[str]]:
        """The tickers the market lists on each of `days`, as of that day (what the coverage checks
        expect): a universe that changes over time is judged day by day, not by today's."""
        tickers = self.tickers()
        return {day: tickers for day in days}

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


# Sidecar mode: the existing pipeline's tables (Warehouse.external_tables).
SIDECAR_TABLES = ("options_chain", "price_data")


class WarehouseMarketProvider(MarketDataProvider):
    """Sidecar mode: an existing pipeline owns options_chain and price_data in the warehouse.
    Nothing is fetched; the universe is what price_data holds. Past chains cannot be served: the
    live table is wiped daily, which is why the archive exists."""

    warehouse: Warehouse
    serves_past_chains: ClassVar[bool] = False

    def tickers(self) -> list[str]:
        with self.warehouse.session() as wh:
            return wh.query("price_data_universe")["ticker"].tolist()

    def tickers_by_day(self, days: list[dt.date]) -> dict[dt.date, list[str]]:
        """Each day's: the tickers price_data held in the week up to that day (quality.universe_by_day)."""
        window = {"start_date": days[0] - dt.timedelta(days=quality.UNIVERSE_LOOKBACK_DAYS), "end_date": days[-1]}
        with self.warehouse.session() as wh:
            held = wh.query("price_data_tickers", window)
        return quality.universe_by_day(held, "date", "ticker", days)

    def chain(self, day: dt.date) -> pd.DataFrame:
        raise ValueError(
            f"sidecar mode (RL_ASSETS_MARKET=warehouse) has no chain for {day}: only the live options_chain "
            "table's own day can be archived"
        )

    def prices(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        raise ValueError("sidecar mode (RL_ASSETS_MARKET=warehouse): price_data is the existing pipeline's table")


class FilesMarketProvider(MarketDataProvider):
    """Files mode: a vendor's history files (rl_assets.files). options_chain_history imports each
    session from the chain files; price_data comes from the price files, or, without them, from the
    archived chain's underlying price (close-only bars). The universe is what the archive holds."""

    warehouse: Warehouse
    chain_files: str = Field(description="The chain history: a folder, a glob or a file (CSV, CSV.gz, Parquet).")
    chain_format: str = Field(default=CONTRACT, description="The chain files' layout: a preset or a YAML file.")
    price_files: str | None = Field(
        default=None, description="Daily bars, in the same kinds of file; none: close-only bars from the chain."
    )
    price_format: str = Field(default=CONTRACT, description="The price files' layout: a preset or a YAML file.")
    serves_past_chains: ClassVar[bool] = False  # sessions come from import_chain_files, not chain(day)

    def tickers(self) -> list[str]:
        with self.warehouse.session() as wh:
            return wh.query("options_chain_history_universe")["ticker"].tolist()

    def tickers_by_day(self, days: list[dt.date]) -> dict[dt.date, list[str]]:
        """Each day's: the underlyings the archive holds that day (the files' universe, as of that day)."""
        with self.warehouse.session() as wh:
            held = wh.query("options_chain_history_underlyings", {"start_date": days[0], "end_date": days[-1]})
        by_day = held.groupby(pd.to_datetime(held["snapshot_date"]).dt.date)["underlying"].apply(sorted).to_dict()
        return {day: by_day.get(day, []) for day in days}

    def chain(self, day: dt.date) -> pd.DataFrame:
        raise ValueError(f"files mode reads {day} from {self.chain_files} through options_chain_history's import")

    def prices(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        raise ValueError("files mode: price_data is imported by its asset (price files, or the chain)")


class ModelStore(dg.ConfigurableResource):
    """Where model artifacts live: a local folder (default data/models) or gs://bucket/prefix."""

    location: str = "data/models"


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """The resources of one mode: the warehouse (DuckDB or BigQuery), the market (synthetic, the
    existing pipeline's tables in sidecar mode, or history files) and the model store."""
    sidecar = settings.market == "warehouse"
    pipeline_tables = [TableRef.parse(settings.live_table), TableRef.parse(settings.price_table)]
    warehouse = Warehouse(
        backend=settings.warehouse,
        duckdb_path=settings.duckdb_path,
        duckdb_memory_limit=settings.duckdb_memory_limit,
        dataset=settings.dataset,
        bq_project=settings.bq_project,
        bq_location=settings.bq_location,
        # A service-account key travels as an EnvVar: the UI and logs show its name, never its value.
        gcp_credentials=dg.EnvVar(settings.credentials_variable) if settings.credentials_variable else None,
        # Sidecar mode: rl-assets never creates the existing pipeline's tables; those in its own
        # dataset must exist (one missing means the wrong dataset).
        external_tables=[t.table for t in pipeline_tables if t.dataset is None] if sidecar else [],
        skipped_tables=list(SIDECAR_TABLES) if sidecar else [],
        # The pipeline's tables and their layouts (sidecar mode; in files mode the formats read the files).
        live_table=settings.live_table,
        chain_format=settings.chain_format if sidecar else CONTRACT,
        price_table=settings.price_table,
        price_format=settings.price_format if sidecar else CONTRACT,
        imports_history_files=settings.market == "files",
    )
    market: MarketDataProvider
    if sidecar:
        market = WarehouseMarketProvider(warehouse=warehouse)
    elif settings.market == "files":
        market = FilesMarketProvider(
            warehouse=warehouse,
            chain_files=settings.chain_files,
            chain_format=settings.chain_format,
            price_files=settings.price_files,
            price_format=settings.price_format,
        )
    else:
        market = SyntheticMarketProvider(seed=settings.seed, signal=settings.signal, universe=settings.universe)
    return {"warehouse": warehouse, "market": market, "model_store": ModelStore(location=settings.model_store)}
