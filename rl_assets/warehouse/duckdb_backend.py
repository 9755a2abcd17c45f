"""The embedded warehouse: one DuckDB file, a schema standing in for the BigQuery dataset."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import duckdb
import pandas as pd

from rl_assets.warehouse import file_tables, sql
from rl_assets.warehouse.backend import abandoned_staging_tables, create_missing_tables


class DuckDBBackend:
    """Runs sql/ statements on an open DuckDB connection (rl_assets.warehouse.backend.WarehouseBackend)."""

    dialect = "duckdb"
    # One machine's memory: a statement over one day's snapshots keeps a run's peak memory that of a
    # day however long the range (20 full-market days of rl_dataset in one statement took 13.5 GB, or
    # twice the time spilling within the 2 GB limit; one statement a day: same time, 2.4 GB).
    days_per_statement = 1

    def __init__(self, connection: duckdb.DuckDBPyConnection, dataset: str, memory_limit: str | None = None):
        self.connection = connection
        if memory_limit is not None and not re.fullmatch(r"[0-9.]+ *[A-Za-z]*", memory_limit.strip()):
            raise ValueError(f"DuckDB memory limit {memory_limit!r} is not a size such as 2GB")
        self.memory_limit = memory_limit  # as the connection was opened with it (None: DuckDB's default)
        self.dataset = sql.validate_identifier("dataset", dataset)
        # Tables read through a format's SELECT (the user's price table): name -> SELECT.
        self.sources: dict[str, str] = {}
        # Timestamps are stored in UTC; DATE(ts, 'America/New_York') must not depend on the host.
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.dataset}"')
        # Qualify with the catalog too: a file named like the dataset would make "x.table" ambiguous.
        self.catalog = connection.execute("SELECT current_database()").fetchone()[0]
        self.drop_abandoned_staging()

    def _run(self, name: str, params, tables, sources):
        params = sql.bound_parameters(name, params)
        text = sql.render(
            name, self.dialect, self.dataset, self.catalog, dict(tables or {}), {**self.sources, **(sources or {})}
        )
        return self.connection.execute(text, params or None)

    def query(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        tables: Mapping[str, str] | None = None,
        sources: Mapping[str, str] | None = None,
    ) -> pd.DataFrame:
        """Run a SELECT statement from sql/ and return its rows."""
        return self._run(name, params, tables, sources).df()

    def execute(
        self,
        name: str,
        params: Mapping[str, Any] | None = None,
        tables: Mapping[str, str] | None = None,
        sources: Mapping[str, str] | None = None,
    ) -> int | None:
        """Run a DDL/DML statement from sql/; returns the affected row count where DuckDB gives one."""
        result = self._run(name, params, tables, sources).fetchall()
        return int(result[0][0]) if result and len(result[0]) == 1 and isinstance(result[0][0], int) else None

    def read_sql(self, text: str) -> pd.DataFrame:
        """An ad-hoc SELECT in BigQuery's dialect over unqualified table names (notebooks, tests)."""
        text = sql.render_text(text, self.dialect, self.dataset, self.catalog, self.sources)
        return self.connection.execute(text).df()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all."""
        self.connection.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def tables(self) -> set[str]:
        """The names of the dataset's tables."""
        rows = self.connection.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ?",
            [self.catalog, self.dataset],
        ).fetchall()
        return {row[0] for row in rows}

    def ensure_tables(self, external: Collection[str] = (), skipped: Collection[str] = ()) -> None:
        """Create the contract's missing tables but the `external` and `skipped` ones (rendering every
        CREATE cost ~0.3 s a session)."""
        create_missing_tables(self, self.tables(), external, skipped)

    def run_text(self, text: str) -> None:
        self.connection.execute(sql.render_text(text, self.dialect, self.dataset, self.catalog))

    def drop_abandoned_staging(self) -> list[str]:
        """Drop the staging tables a killed run left (rl_assets.warehouse.backend.staged); the
        dropped names. A run in another process cannot hold this file meanwhile (DuckDB's file
        lock), and one in this process keeps its tables (staged() registers them while live)."""
        abandoned = abandoned_staging_tables(self.tables())
        for table in abandoned:
            self.drop_table(table)
        return abandoned

    def qualified(self, table: str) -> str:
        catalog = self.catalog.replace('"', '""')
        return f'"{catalog}"."{self.dataset}"."{sql.validate_identifier("table", table)}"'

    def load_frame(
        self, table: str, frame: pd.DataFrame, *, replace_table: bool, like: str | None = None, scratch: bool = False
    ) -> int:
        """Write a DataFrame to a table: replace_table=True (re)creates it with the frame's
        columns (staging); False appends by column name to an existing, typed table. (`like` and
        `scratch` are for BigQuery's typed loads and expiring staging: DuckDB casts on INSERT,
        and a file has no table expiry.)"""
        target = self.qualified(table)
        self.connection.register("_incoming_frame", frame)
        try:
            if replace_table:
                self.connection.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM _incoming_frame")
            else:
                self.connection.execute(f"INSERT INTO {target} BY NAME SELECT * FROM _incoming_frame")
        finally:
            self.connection.unregister("_incoming_frame")
        return len(frame)

    def load_file(self, table: str, path: str) -> int:
        """(Re)create `table` from a CSV, CSV.gz or Parquet file (rl_assets.warehouse.file_tables: CSV as
        text, clean header names); its row count. A ValueError names an unreadable file."""
        select = file_tables.select_file(self.connection, path)
        try:
            self.connection.execute(f"CREATE OR REPLACE TABLE {self.qualified(table)} AS {select}", [path])
        except duckdb.Error as error:
            raise ValueError(f"cannot read {path}: {error}") from None
        return self.connection.execute(f"SELECT COUNT(*) FROM {self.qualified(table)}").fetchone()[0]

    def columns(self, table: str, dataset: str | None = None, project: str | None = None) -> dict[str, str]:
        """Column name -> type of a table (in another schema, or attached database, where given);
        empty if the table does not exist."""
        rows = self.connection.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = ? AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [project or self.catalog, dataset or self.dataset, sql.validate_identifier("table", table)],
        ).fetchall()
        return dict(rows)

    def release_cached_blocks(self) -> None:
        """Let go of the table blocks earlier statements read. DuckDB keeps every block it has read cached
        up to its memory limit, so a process reading a long history a day at a time would grow to the
        limit; lowering the limit evicts the unpinned blocks at once, then the setting is put back."""
        self.connection.execute("SET memory_limit = '32MB'")
        if self.memory_limit is None:
            self.connection.execute("RESET memory_limit")
        else:
            self.connection.execute(f"SET memory_limit = '{self.memory_limit.strip()}'")

    def drop_table(self, table: str) -> None:
        self.connection.execute(f"DROP TABLE IF EXISTS {self.qualified(table)}")


@contextmanager
def open_duckdb(path: str, dataset: str) -> Iterator[DuckDBBackend]:
    """A backend on its own connection to the file at `path` (outside Dagster: tests, benchmarks)."""
    connection = duckdb.connect(path)
    try:
        yield DuckDBBackend(connection, dataset)
    finally:
        connection.close()
