"""What every warehouse backend offers (DuckDB and BigQuery), and the staging tables built on it.

The archive, dataset, technicals and paper-trading code only calls these methods, so it never
branches on the warehouse.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

import pandas as pd

from rl_assets.schema import TECHNICALS_COMPLETE_FEATURES
from rl_assets.warehouse import sql


class WarehouseError(RuntimeError):
    """The warehouse cannot be reached or refused a statement; the message names which and why."""


class WarehouseBackend(Protocol):
    dialect: str
    dataset: str
    # Tables read through a format's SELECT instead (RL_ASSETS_PRICE_FORMAT): name -> SELECT.
    sources: dict[str, str]
    # How many trading days one heavy statement (rl_state, rl_dataset) covers; None: the whole range.
    days_per_statement: int | None

    def query(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        tables: Mapping[str, str] | None = None,
        sources: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        """Run a SELECT statement from sql/ and return its rows."""

    def execute(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        tables: Mapping[str, str] | None = None,
        sources: Mapping[str, str] | None = None,
    ) -> int | None:
        """Run a DDL/DML statement from sql/; the affected row count where the warehouse gives one."""

    def read_sql(self, text: str) -> pd.DataFrame:
        """An ad-hoc SELECT in BigQuery's dialect over unqualified table names (notebooks, tests)."""

    def transaction(self) -> AbstractContextManager[None]:
        """All statements inside commit together or not at all."""

    def load_frame(
        self, table: str, frame: pd.DataFrame, *, replace_table: bool, like: str | None = None, scratch: bool = False
    ) -> int:
        """Write a DataFrame: replace_table=True (re)creates `table` with the frame's columns,
        typed as the contract table `like` declares them where given; False appends by column
        name to an existing table. A `scratch` table (staging) may expire by itself."""

    def columns(self, table: str, dataset: str | None = None, project: str | None = None) -> dict[str, str]:
        """Column name -> type (of a table in another dataset/project, where given); empty if the
        table does not exist."""

    def drop_table(self, table: str) -> None: ...

    def release_cached_blocks(self) -> None:
        """Let go of table data this process cached for earlier statements (DuckDB's buffer pool), so
        reading a long history piece by piece keeps memory flat; a no-op where nothing is cached."""

    def load_file(self, table: str, path: str) -> int:
        """(Re)create `table` from a CSV, CSV.gz or Parquet file (rl_assets.warehouse.file_tables)."""
        ...

    def run_text(self, text: str) -> None:
        """A generated DDL statement in BigQuery's dialect (no values), qualified and transpiled."""

    def ensure_tables(self, external: Collection[str] = (), skipped: Collection[str] = ()) -> None:
        """Create the contract's tables (sql/create_*.sql) that do not exist yet, except the
        `external` ones (another pipeline's): a missing one is a WarehouseError."""


CREATE_STATEMENTS = [
    "create_options_chain",
    "create_options_chain_history",
    "create_options_chain_sources",
    "create_sessions_without_data",
    "create_price_data",
    "create_technicals_history",
    "create_rl_state",
    "create_rl_dataset",
    "create_model_registry",
    "create_recommendations",
    "create_paper_trades",
]


def create_missing_tables(
    warehouse: WarehouseBackend, existing: set[str], external: Collection[str] = (), skipped: Collection[str] = ()
) -> None:
    """Run the contract's CREATE statements for the tables not in `existing` (a backend's listing),
    but never for an `external` table (another pipeline's: require_external_tables) nor a `skipped`
    one (sidecar mode reads the pipeline's live and price tables wherever they are); add the columns
    a newer contract gave options_chain_history and price_data to one an older version created
    (never to another pipeline's table)."""
    require_external_tables(warehouse, existing, external)
    for name in CREATE_STATEMENTS:
        table = sql.target_table(name)
        if table not in existing and table not in external and table not in skipped:
            warehouse.execute(name)
    for table in MIGRATED_TABLES:
        if table in existing and table not in external and table not in skipped:
            add_missing_columns(warehouse, table)
    for table in STATE_TABLES:
        if table in existing:
            keep_candidates_without_technicals(warehouse, table)


HISTORY_TABLE = "options_chain_history"
# Tables whose contract gained nullable columns after release (PROVENANCE_COLUMNS, price_data's close_only).
MIGRATED_TABLES = (HISTORY_TABLE, "price_data")
STATE_TABLES = ("rl_state", "rl_dataset")
TECHNICALS_FLAG = "technicals_incomplete"


def keep_candidates_without_technicals(warehouse: WarehouseBackend, table: str) -> bool:
    """Migrate an rl_state / rl_dataset created before candidates without technicals were kept (it
    lacks technicals_incomplete): technicals_date loses NOT NULL, the flag is added (nullable: neither
    warehouse adds a NOT NULL column to a table that has rows; every insert sets it) and set on the
    rows held from their features, as sql/insert_rl_state.sql sets it. Whether it migrated."""
    if TECHNICALS_FLAG in warehouse.columns(table):
        return False
    warehouse.run_text(f"ALTER TABLE {table} ALTER COLUMN technicals_date DROP NOT NULL")
    add_missing_columns(warehouse, table)
    incomplete = " OR ".join(f"{column} IS NULL" for column in ["technicals_date", *TECHNICALS_COMPLETE_FEATURES])
    warehouse.run_text(f"UPDATE {table} SET {TECHNICALS_FLAG} = {incomplete} WHERE {TECHNICALS_FLAG} IS NULL")
    return True


def add_missing_columns(warehouse: WarehouseBackend, table: str) -> list[str]:
    """ALTER TABLE ... ADD COLUMN for the contract's nullable columns `table` lacks (they were added
    after it was created); the columns added."""
    held = warehouse.columns(table)
    added = []
    for column, kind in contract_types(table).items():
        if column not in held:
            text = f"ALTER TABLE {table} ADD COLUMN {column} {kind}"
            warehouse.run_text(text)
            added.append(column)
    return added


def require_external_tables(warehouse: WarehouseBackend, existing: set[str], external: Collection[str]) -> None:
    """A WarehouseError unless every `external` table is in `existing`. In sidecar mode the existing
    pipeline owns options_chain and price_data: one missing means the dataset is the wrong one, so
    nothing may be created there (an empty options_chain would only say "options_chain is empty")."""
    missing = sorted(set(external) - existing)
    if missing:
        raise WarehouseError(
            f"{', '.join(missing)} not found in dataset {warehouse.dataset}: in sidecar mode "
            "(RL_ASSETS_MARKET=warehouse) the existing pipeline owns these tables and rl-assets never creates "
            "them; check RL_ASSETS_BQ_DATASET (and RL_ASSETS_BQ_PROJECT or RL_ASSETS_DUCKDB_PATH)"
        )


def contract_types(table: str) -> dict[str, str]:
    """The BigQuery column types the contract declares for `table` (from sql/create_<table>.sql)."""
    return sql.column_types(f"create_{sql.validate_identifier('table', table)}")


# Every staging table's base name: staged() adds an 8-hex suffix per call. A table named so is a
# leftover once no live staged() holds it (a killed run's); DuckDB drops those when a session opens.
CHAIN_STAGING_TABLE = "options_chain_staging"
PRICE_STAGING_TABLE = "price_data_staging"
TECHNICALS_STAGING_TABLE = "technicals_history_staging"
PAPER_TRADES_STAGING = "paper_trades_staging"
LABEL_WINDOWS_TABLE = "rl_label_windows"
COMPUTED_GREEKS_TABLE = "options_chain_computed"
FILE_STAGING_TABLE = "imported_file_staging"
STAGING_BASES = (
    CHAIN_STAGING_TABLE,
    FILE_STAGING_TABLE,
    COMPUTED_GREEKS_TABLE,
    PRICE_STAGING_TABLE,
    TECHNICALS_STAGING_TABLE,
    PAPER_TRADES_STAGING,
    LABEL_WINDOWS_TABLE,
)
_STAGING_NAME = re.compile(rf"^(?:{'|'.join(STAGING_BASES)})_[0-9a-f]{{8}}$")
# The staging tables of this process's live staged() contexts: another session opening the same
# file in this process (Dagster's in-process executor, a test) must not drop them.
_live_staging: set[str] = set()
_live_staging_lock = threading.Lock()


def abandoned_staging_tables(tables: Iterable[str]) -> list[str]:
    """The staging tables among `tables` (a base of STAGING_BASES + 8 hex digits) that no live
    staged() context of this process holds: what a killed run left behind."""
    with _live_staging_lock:
        live = set(_live_staging)
    return sorted(t for t in tables if _STAGING_NAME.match(t) and t not in live)


@contextmanager
def staging_table(warehouse: WarehouseBackend, base: str) -> Iterator[str]:
    """A staging table name of its own (`base` + 8 hex digits), dropped afterwards. A name per call
    means two runs (BigQuery runs in parallel) never share or drop each other's staging; a killed
    run's table is dropped by the next DuckDB session (abandoned_staging_tables)."""
    name = f"{base}_{secrets.token_hex(4)}"
    with _live_staging_lock:
        _live_staging.add(name)
    try:
        yield name
    finally:
        try:
            warehouse.drop_table(name)
        finally:
            with _live_staging_lock:
                _live_staging.discard(name)


@contextmanager
def staged(
    warehouse: WarehouseBackend, base: str, frame: pd.DataFrame, like: str | None = None
) -> Iterator[dict[str, str]]:
    """Load `frame` into a staging table of its own and drop it afterwards. Yields {base: unique
    name}, the `tables` renaming for the statements that read `base`."""
    with staging_table(warehouse, base) as name:
        warehouse.load_frame(name, frame, replace_table=True, like=like, scratch=True)
        yield {base: name}


@contextmanager
def staged_file(warehouse: WarehouseBackend, path: str, base: str = FILE_STAGING_TABLE) -> Iterator[tuple[str, int]]:
    """Load a file into a staging table of its own (warehouse.load_file) and drop it afterwards.
    Yields (table name, rows)."""
    with staging_table(warehouse, base) as name:
        rows = warehouse.load_file(name, path)
        yield name, rows
