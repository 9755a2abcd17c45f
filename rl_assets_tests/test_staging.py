"""Staging tables a killed run leaves in the embedded warehouse are dropped when the next session
opens; a live run's staging, the contract's tables and a user's tables are never touched."""

import pandas as pd

from rl_assets.defs.resources import Warehouse
from rl_assets.warehouse.backend import LABEL_WINDOWS_TABLE, PRICE_STAGING_TABLE, STAGING_BASES, staged
from rl_assets.warehouse.duckdb_backend import open_duckdb

FRAME = pd.DataFrame({"x": [1, 2]})
LEFTOVERS = [f"{base}_0123abcd" for base in STAGING_BASES]  # what staged() names, after a kill
# Look alike, but not staged()'s names: kept.
USER_TABLES = [
    "my_notes", "price_data_staging", "price_data_staging_notes", "price_data_staging_0123abcg",
    "price_data_staging_0123abcd9", "x_rl_label_windows_0123abcd",
]  # fmt: skip


def _leave_behind(path: str) -> None:
    """Staging tables as a run killed inside staged() leaves them, beside the user's own tables."""
    with open_duckdb(path, "rl_test") as wh:
        wh.ensure_tables()
        bar = pd.DataFrame({"ticker": ["A"], "date": [pd.Timestamp("2026-11-20")]})
        wh.load_frame("price_data", bar, replace_table=False)
        for name in LEFTOVERS + USER_TABLES:
            wh.load_frame(name, FRAME, replace_table=True, scratch=True)
        assert set(LEFTOVERS + USER_TABLES) <= wh.tables()


def test_a_new_session_drops_what_a_killed_run_staged_and_nothing_else(duckdb_path):
    _leave_behind(duckdb_path)
    with Warehouse(duckdb_path=duckdb_path, dataset="rl_test").session() as wh:
        tables = wh.tables()
        assert not set(LEFTOVERS) & tables
        assert set(USER_TABLES) <= tables
        assert {"price_data", "options_chain_history", "rl_dataset"} <= tables
        assert len(wh.read_sql("SELECT * FROM price_data")) == 1


def test_opening_the_backend_directly_cleans_too(duckdb_path):
    _leave_behind(duckdb_path)
    with open_duckdb(duckdb_path, "rl_test") as wh:
        assert not set(LEFTOVERS) & wh.tables()


def test_a_live_staging_table_survives_another_session_opening(duckdb_path):
    _leave_behind(duckdb_path)
    with open_duckdb(duckdb_path, "rl_test") as running:
        with (
            staged(running, PRICE_STAGING_TABLE, FRAME) as prices,
            staged(running, LABEL_WINDOWS_TABLE, FRAME) as windows,
        ):
            live = {prices[PRICE_STAGING_TABLE], windows[LABEL_WINDOWS_TABLE]}
            with open_duckdb(duckdb_path, "rl_test") as other:  # the same process, the same file
                assert live <= other.tables()
            assert len(running.read_sql(f"SELECT * FROM {prices[PRICE_STAGING_TABLE]}")) == 2
        assert not live & running.tables()  # dropped by staged() itself on the way out
