"""Bad quotes and prices never become labels (issue 16): rl_state's candidate filter, the quality
rules that catch values no rule caught before, the blocking checks, and the checks' warehouse
sessions in sidecar mode."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import ClassVar

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from rl_assets import calendar, quality
from rl_assets.archive import archive_chain_frame, replace_live_chain, write_prices
from rl_assets.dataset import build_rl_state
from rl_assets.defs.checks import BLOCKING_CHECKS
from rl_assets.defs.partitions import range_run_tags
from rl_assets.defs.resources import Warehouse, WarehouseMarketProvider
from rl_assets.warehouse.duckdb_backend import open_duckdb
from rl_assets_bench.history import table
from rl_assets_tests.code_location import (
    options_chain_history,
    options_chain_history_checks,
    price_data,
    price_data_checks,
    price_data_matches_chain,
    rl_dataset_checks,
    rl_state,
    rl_state_checks,
    technicals_history,
)
from rl_assets_tests.conftest import DAY, NEXT_DAY
from rl_assets_tests.history import run_statement

WINDOW = {"start_date": DAY, "end_date": DAY}


def _candidates(chain: pd.DataFrame) -> pd.DataFrame:
    return chain[(chain["bid"] > 0) & (chain["ask"] > 0) & (chain["expiration"] > DAY)]


# ---- rl_state: only finite quotes are candidates


def test_rl_state_leaves_out_contracts_with_a_non_finite_bid_ask_or_underlying_price(warehouse, market):
    """History archived before NaN/inf were stored as NULL may hold them: NaN > 0 is true in
    DuckDB and inf > 0 everywhere, so today they become candidates (an inf ask is an inf entry)."""
    chain = market.chain(DAY)
    history = chain.assign(snapshot_date=DAY, archived_at=calendar.session_close_utc(DAY))
    symbols = sorted(_candidates(chain)["contract_symbol"])[:4]
    history.loc[history["contract_symbol"] == symbols[1], "ask"] = np.inf
    history.loc[history["contract_symbol"] == symbols[3], "bid"] = np.inf
    warehouse.load_frame("options_chain_history", history, replace_table=False)
    technicals = pd.DataFrame({"ticker": market.tickers, "date": DAY, "close": 100.0})
    warehouse.load_frame("technicals_history", technicals, replace_table=False)
    # A NaN cannot be loaded from pandas (it becomes NULL): planted by SQL.
    for column, symbol in (("bid", symbols[0]), ("underlying_price", symbols[2])):
        run_statement(
            warehouse,
            f"UPDATE options_chain_history SET {column} = CAST('NaN' AS FLOAT64) WHERE contract_symbol = '{symbol}'",
        )
    build_rl_state(warehouse, DAY, DAY)
    state = table(warehouse, "rl_state")
    assert set(state["contract_symbol"]) == set(_candidates(chain)["contract_symbol"]) - set(symbols)
    assert np.isfinite(state[["bid", "ask", "entry_price", "underlying_price", "moneyness"]].to_numpy()).all()


# ---- Values no rule caught before


def _history_outcomes(wh) -> dict[str, quality.CheckOutcome]:
    return {o.name: o for o in quality.evaluate_options_chain_history(wh, [DAY], {})}


def test_history_rules_count_missing_quotes_and_expirations_before_the_snapshot(warehouse, market):
    chain = market.chain(DAY)
    archive_chain_frame(warehouse, chain, DAY)
    assert all(o.passed for o in _history_outcomes(warehouse).values())
    symbols = sorted(chain["contract_symbol"])[:4]
    run_statement(warehouse, f"UPDATE options_chain_history SET bid = NULL WHERE contract_symbol = '{symbols[0]}'")
    run_statement(warehouse, f"UPDATE options_chain_history SET ask = NULL WHERE contract_symbol = '{symbols[1]}'")
    # An infinite ask archived before the archive stored it as NULL.
    run_statement(
        warehouse,
        f"UPDATE options_chain_history SET ask = CAST('inf' AS FLOAT64) WHERE contract_symbol = '{symbols[2]}'",
    )
    run_statement(
        warehouse,
        f"UPDATE options_chain_history SET expiration = DATE '2026-11-19' WHERE contract_symbol = '{symbols[3]}'",
    )
    outcomes = _history_outcomes(warehouse)
    failed = {name for name, o in outcomes.items() if not o.passed}
    assert {"quotes_present", "expiration_not_before_snapshot"} <= failed
    assert outcomes["quotes_present"].metadata["days_with_offending_rows"] == {str(DAY): 3}
    assert outcomes["expiration_not_before_snapshot"].metadata["days_with_offending_rows"] == {str(DAY): 1}
    assert outcomes["iv_in_range"].passed  # NULL greeks and IV stay with their own rules


def _price_outcomes(wh, tickers) -> dict[str, quality.CheckOutcome]:
    outcomes = quality.price_data_outcomes(
        wh.query("price_data_quality", WINDOW), wh.query("price_data_tickers", WINDOW), {DAY: tickers}, [DAY]
    )
    return {o.name: o for o in outcomes}


def test_price_rules_count_null_values_and_a_negative_volume(warehouse, market):
    write_prices(warehouse, market.prices(DAY, DAY), DAY, DAY)
    assert all(o.passed for o in _price_outcomes(warehouse, market.tickers).values())
    first, second, third = market.tickers[:3]
    run_statement(warehouse, f"UPDATE price_data SET close = NULL WHERE ticker = '{first}'")  # `close <= 0` is NULL
    run_statement(warehouse, f"UPDATE price_data SET volume = NULL WHERE ticker = '{second}'")
    run_statement(warehouse, f"UPDATE price_data SET volume = -5 WHERE ticker = '{third}'")
    outcomes = _price_outcomes(warehouse, market.tickers)
    assert outcomes["no_missing_values"].metadata["days_with_offending_rows"] == {str(DAY): 2}
    assert outcomes["no_negative_prices"].metadata["days_with_offending_rows"] == {str(DAY): 1}
    assert {n for n, o in outcomes.items() if not o.passed} == {"no_missing_values", "no_negative_prices"}


def _close_vs_chain(wh, days) -> quality.CheckOutcome:
    compared = wh.query(
        "price_data_vs_chain",
        {"start_date": days[0], "end_date": days[-1], "tolerance": quality.UNDERLYING_PRICE_TOLERANCE},
    )
    return quality.close_matches_chain_outcome(compared, days)


def test_price_data_close_is_compared_with_the_chains_underlying_price(warehouse, market):
    """A 4:1 split applied to price_data (or back-adjusted prices) shows as a 300% gap against the
    chain's raw underlying price; a day without chain rows has nothing to compare and passes."""
    days = [DAY, NEXT_DAY]
    write_prices(warehouse, market.prices(DAY, NEXT_DAY), DAY, NEXT_DAY)
    archive_chain_frame(warehouse, market.chain(DAY), DAY)  # no chain archived for NEXT_DAY
    clean = _close_vs_chain(warehouse, days)
    assert clean.passed, clean.description
    assert clean.metadata["days_without_chain_rows"] == [str(NEXT_DAY)]
    assert "no chain rows to compare on 1 day(s)" in clean.description
    split = market.tickers[1]
    run_statement(
        warehouse, f"UPDATE price_data SET close = close / 4 WHERE ticker = '{split}' AND date = DATE '{DAY}'"
    )
    outcome = _close_vs_chain(warehouse, days)
    assert not outcome.passed
    mismatch = outcome.metadata["mismatched_by_day"]
    assert list(mismatch) == [str(DAY)]
    assert mismatch[str(DAY)]["tickers"] == 1 and mismatch[str(DAY)]["example_ticker"] == split
    assert mismatch[str(DAY)]["largest_gap"] == pytest.approx(3.0, rel=1e-3)


def test_the_synthetic_markets_close_equals_its_chains_underlying_price(market):
    """What UNDERLYING_PRICE_TOLERANCE is measured against: the gap on the synthetic market is 0."""
    prices = market.prices(DAY, DAY).set_index("ticker")["close"]
    chain = market.chain(DAY)
    gap = (chain["underlying_price"] / chain["underlying"].map(prices) - 1).abs()
    assert gap.max() == 0.0


# ---- Blocking checks (Dagster runs over the real assets)


def test_the_checks_that_prove_corruption_block_and_say_so():
    blocking = {}
    for checks in (options_chain_history_checks, price_data_checks, rl_state_checks, rl_dataset_checks):
        for spec in checks.check_specs:
            blocking[f"{spec.asset_key.to_user_string()}:{spec.name}"] = spec.blocking
            assert ("Blocking" in spec.description) == spec.blocking, spec.name
    assert {k for k, b in blocking.items() if b} == {
        "options_chain_history:unique_key",
        "options_chain_history:bid_not_above_ask",
        "price_data:unique_key",
        "rl_state:unique_key",
        "rl_dataset:unique_key",
        "rl_dataset:one_row_per_state_row",
    }
    assert BLOCKING_CHECKS == {"unique_key", "bid_not_above_ask", "one_row_per_state_row"}


@pytest.fixture
def technicals_for_day(resources):
    """price_data with a month of warm-up and technicals_history for DAY, through the assets."""
    tags = range_run_tags(calendar.shift_trading_days(DAY, -30), DAY)
    assert dg.materialize([price_data], resources=resources, tags=tags).success
    assert dg.materialize([technicals_history], resources=resources, partition_key=str(DAY)).success


def _archive_then_state(resources, chain: pd.DataFrame) -> dg.ExecuteInProcessResult:
    with open_duckdb(resources["warehouse"].duckdb_path, "rl_test") as wh:
        replace_live_chain(wh, chain)
    return dg.materialize(
        [options_chain_history, options_chain_history_checks, rl_state],
        resources=resources,
        partition_key=str(DAY),
        raise_on_error=False,
    )


def test_a_crossed_quote_blocks_rl_state_and_a_clean_chain_does_not(resources, technicals_for_day, market):
    crossed = market.chain(DAY)
    crossed.loc[0, "bid"] = crossed.loc[0, "ask"] + 1.0
    result = _archive_then_state(resources, crossed)
    assert not result.success
    assert result.asset_materializations_for_node("options_chain_history")  # the archive itself landed
    outcome = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not outcome["bid_not_above_ask"].passed
    assert outcome["bid_not_above_ask"].severity == dg.AssetCheckSeverity.ERROR
    assert not result.asset_materializations_for_node("rl_state")
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "rl_state" not in started  # never started: its upstream check step failed
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "options_chain_history_checks"
    assert "blocking asset check failed" in failure.step_failure_data.error.to_string()

    clean = _archive_then_state(resources, market.chain(DAY))
    assert clean.success
    assert all(e.passed for e in clean.get_asset_check_evaluations())
    assert clean.asset_materializations_for_node("rl_state")


def test_a_warning_does_not_block(resources, technicals_for_day, market):
    """A day with a third of the rows of the day before warns (row_count_vs_previous_partition); rl_state still runs."""
    with open_duckdb(resources["warehouse"].duckdb_path, "rl_test") as wh:
        previous = calendar.shift_trading_days(DAY, -1)
        archive_chain_frame(wh, market.chain(previous), previous)
    chain = market.chain(DAY)
    result = _archive_then_state(resources, chain.iloc[::3])
    outcome = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not outcome["row_count_vs_previous_partition"].passed
    assert outcome["row_count_vs_previous_partition"].severity == dg.AssetCheckSeverity.WARN
    assert result.asset_materializations_for_node("rl_state")


def test_the_close_check_runs_after_both_assets_it_reads(resources, market):
    result = dg.materialize(
        [price_data, options_chain_history, price_data_matches_chain],
        resources=resources,
        partition_key=str(DAY),
        run_config={"ops": {"options_chain_history": {"config": {"source": "provider"}}}},
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "close_matches_chain_underlying_price" and evaluation.passed
    order = [e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"]
    check_step = order.index(next(k for k in order if "close_matches_chain" in k))
    assert order.index("options_chain_history") < check_step and order.index("price_data") < check_step
    (spec,) = price_data_matches_chain.check_specs
    assert {d.asset_key for d in spec.additional_deps} == {options_chain_history.key}


# ---- No nested warehouse sessions (sidecar mode)


class NestingWarehouse(Warehouse):
    """A real Warehouse that records how deep its sessions nest (class-wide: Dagster copies
    resources, and the market provider holds its own copy)."""

    depth: ClassVar[list[int]] = [0]
    deepest: ClassVar[list[int]] = [0]

    @contextmanager
    def session(self):
        NestingWarehouse.depth[0] += 1
        NestingWarehouse.deepest[0] = max(NestingWarehouse.deepest[0], NestingWarehouse.depth[0])
        try:
            with super().session() as wh:
                yield wh
        finally:
            NestingWarehouse.depth[0] -= 1


def test_sidecar_checks_never_open_a_session_inside_a_session(duckdb_path, market):
    """In sidecar mode the universe comes from the warehouse (WarehouseMarketProvider.tickers opens
    a session); on BigQuery with a key a second session inside an open one raises."""
    warehouse = NestingWarehouse(duckdb_path=duckdb_path, dataset="rl_test")
    with warehouse.session() as wh:
        write_prices(wh, market.prices(DAY, DAY), DAY, DAY)
        archive_chain_frame(wh, market.chain(DAY), DAY)
    NestingWarehouse.deepest[0] = 0
    resources = {"warehouse": warehouse, "market": WarehouseMarketProvider(warehouse=warehouse)}
    checks = [options_chain_history_checks, price_data_checks]
    result = dg.materialize(
        [options_chain_history, price_data, *checks],
        resources=resources,
        selection=dg.AssetSelection.checks(*checks),  # on their own: they check the newest day, DAY
    )
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == sum(len(c.check_specs) for c in checks)
    assert all(e.passed for e in evaluations), [(e.check_name, e.description) for e in evaluations if not e.passed]
    assert NestingWarehouse.deepest[0] == 1
    assert NestingWarehouse.depth[0] == 0


def test_the_archive_asset_reports_non_finite_values_it_stored_as_null(resources, market):
    chain = market.chain(DAY)
    chain.loc[0, "ask"] = np.inf
    chain.loc[1, "delta"] = -np.inf
    with open_duckdb(resources["warehouse"].duckdb_path, "rl_test") as wh:
        wh.ensure_tables()
        replace_live_chain(wh, chain)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([options_chain_history], resources=resources, partition_key=str(DAY), instance=instance)
    (materialisation,) = result.asset_materializations_for_node("options_chain_history")
    assert materialisation.metadata["non_finite_values_nulled"].value == {"ask": 1, "delta": 1}
    warnings = [e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING]
    assert any("NaN or infinite values stored as NULL" in w and "'ask': 1" in w for w in warnings), warnings
