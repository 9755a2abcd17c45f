"""Test helpers on a warehouse: ad-hoc statements, and what the warehouse raises when it refuses one.
Building a history from a synthetic market, and reading a table back, live in rl_assets_bench.history
(the models benchmark uses them too, and benchmarks import nothing from the tests)."""

from __future__ import annotations

import duckdb

from rl_assets.warehouse import sql
from rl_assets.warehouse.backend import WarehouseError


def run_statement(warehouse, text: str) -> None:
    """An ad-hoc DDL/DML statement in BigQuery's dialect on either backend (tests only: it plays
    the existing pipeline changing its tables)."""
    if warehouse.dialect == "duckdb":
        warehouse.connection.execute(sql.render_text(text, "duckdb", warehouse.dataset, warehouse.catalog))
    else:
        warehouse.client.query(sql.render_text(text, "bigquery", warehouse.dataset, warehouse.project)).result()


# What a statement the warehouse refuses (a constraint, a type) raises on each backend.
STATEMENT_ERRORS = {"duckdb": duckdb.Error, "bigquery": WarehouseError}
