"""The archiver's assets run through Dagster on a real DuckDB file."""

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from rl_assets.archive import replace_live_chain
from rl_assets.defs.partitions import range_run_tags
from rl_assets.defs.resources import SyntheticMarketProvider
from rl_assets.warehouse.duckdb_backend import open_duckdb
from rl_assets_tests.code_location import (
    DEFS,
    options_chain,
    options_chain_history,
    options_chain_history_checks,
    price_data,
    price_data_checks,
)
from rl_assets_tests.conftest import DAY, NEXT_DAY

REPO = Path(__file__).resolve().parents[1]
RANGE_START = dt.date(2026, 11, 16)
HISTORY = [options_chain_history, options_chain_history_checks]
PRICES = [price_data, price_data_checks]


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


def table(duckdb_path: str, query: str) -> pd.DataFrame:
    with open_duckdb(duckdb_path, "rl_test") as wh:
        return wh.connection.execute(query).df()


def history_counts(duckdb_path: str) -> dict:
    frame = table(duckdb_path, "SELECT snapshot_date, COUNT(*) AS n FROM rl_test.options_chain_history GROUP BY 1")
    return {pd.Timestamp(d).date(): n for d, n in zip(frame["snapshot_date"], frame["n"], strict=False)}


def test_definitions_load():
    from rl_assets.definitions import defs

    defs.validate_loadable(defs)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"options_chain", "options_chain_history", "price_data"} <= keys


def run_with_instance(dagster_home: Path, args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run a command from the repo in its own process, with its own Dagster instance."""
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "DAGSTER_HOME": str(dagster_home), **env}
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


DAGSTER_CLI = str(Path(sys.executable).with_name("dagster"))


def test_the_code_location_loads_like_make_ui_does(tmp_path):
    """`dagster definitions validate` loads workspace.yaml the way `dagster dev` does."""
    done = run_with_instance(tmp_path, [DAGSTER_CLI, "definitions", "validate", "-w", "workspace.yaml"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rl_assets" in done.stdout + done.stderr


def test_daily_run_archives_the_live_chain_in_warehouse(resources, duckdb_path, market):
    result = dg.materialize([options_chain, *PRICES, *HISTORY], resources=resources, partition_key=str(DAY))
    assert result.success
    assert history_counts(duckdb_path) == {DAY: len(market.chain(DAY))}
    meta = result.asset_materializations_for_node("options_chain_history")[0].metadata
    assert meta["source"].value == "live" and meta["dagster/row_count"].value == len(market.chain(DAY))
    assert all(e.passed for e in checks(result).values()), {
        k: e.description for k, e in checks(result).items() if not e.passed
    }
    assert len(checks(result)) == 17  # 5 price rules, 12 history rules


def test_rerunning_a_partition_never_duplicates(resources, duckdb_path):
    for _ in range(2):
        assert dg.materialize([options_chain, *PRICES, *HISTORY], resources=resources, partition_key=str(DAY)).success
    counts = table(
        duckdb_path, "SELECT COUNT(*) AS n, COUNT(DISTINCT contract_symbol) AS k FROM rl_test.options_chain_history"
    )
    assert counts["n"][0] == counts["k"][0]
    prices = table(duckdb_path, "SELECT COUNT(*) AS n FROM rl_test.price_data")
    assert prices["n"][0] == resources["market"].universe


def test_a_backfill_is_one_run_taking_each_day_from_the_provider(resources, duckdb_path, market):
    result = dg.materialize([*PRICES, *HISTORY], resources=resources, tags=range_run_tags(RANGE_START, DAY))
    assert result.success
    days = [dt.date(2026, 11, d) for d in (16, 17, 18, 19, 20)]
    assert history_counts(duckdb_path) == {d: len(market.chain(d)) for d in days}
    materialized = {m.partition for m in result.asset_materializations_for_node("options_chain_history")}
    assert materialized == {str(d) for d in days}
    assert result.asset_materializations_for_node("options_chain_history")[0].metadata["source"].value == "provider"
    assert all(e.passed for e in checks(result).values())


def test_a_one_day_run_refuses_a_live_table_from_another_date(resources, duckdb_path, market):
    with open_duckdb(duckdb_path, "rl_test") as wh:
        wh.ensure_tables()
        replace_live_chain(wh, market.chain(DAY))
    result = dg.materialize(HISTORY, resources=resources, partition_key=str(NEXT_DAY), raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data
    message = failure.error.to_string()
    assert "Failure" in message  # a dagster Failure with a description, not a stack of internals
    assert "holds quotes from trading date 2026-11-20" in message and "nothing was written" in message
    assert history_counts(duckdb_path) == {}


def test_config_can_take_a_past_day_from_the_provider(resources, duckdb_path, market):
    result = dg.materialize(
        [options_chain_history],
        resources=resources,
        partition_key=str(NEXT_DAY),
        run_config={"ops": {"options_chain_history": {"config": {"source": "provider"}}}},
    )
    assert result.success and history_counts(duckdb_path) == {NEXT_DAY: len(market.chain(NEXT_DAY))}


def test_options_chain_loads_the_configured_session(resources, duckdb_path, market):
    result = dg.materialize(
        [options_chain],
        resources=resources,
        run_config={"ops": {"options_chain": {"config": {"trading_date": "2026-11-19"}}}},
    )
    assert result.success
    live = table(duckdb_path, "SELECT COUNT(*) AS n, MAX(quote_time) AS q FROM rl_test.options_chain")
    assert live["n"][0] == len(market.chain(dt.date(2026, 11, 19)))
    with pytest.raises(Exception, match="not an NYSE trading day"):
        dg.materialize(
            [options_chain],
            resources=resources,
            run_config={"ops": {"options_chain": {"config": {"trading_date": "2026-11-22"}}}},
        )


def corrupt(chain: pd.DataFrame, market) -> pd.DataFrame:
    chain = chain.copy()
    chain.loc[0, "bid"] = chain.loc[0, "ask"] + 1.0  # crossed
    chain.loc[1, "last"] = -0.5  # negative price
    chain.loc[2, "implied_volatility"] = 9.0  # out of range
    calls = chain.index[chain["option_type"] == "call"]
    chain.loc[calls[5], "delta"] = -0.3  # a call with a negative delta
    return chain[chain["underlying"] != market.tickers[-1]]  # a whole underlying missing


def test_asset_checks_fail_on_corrupted_rows(resources, duckdb_path, market):
    with open_duckdb(duckdb_path, "rl_test") as wh:
        wh.ensure_tables()
        replace_live_chain(wh, corrupt(market.chain(DAY), market))
    result = dg.materialize(HISTORY, resources=resources, partition_key=str(DAY), raise_on_error=False)
    # The checks do not undo the archive; a failed blocking check (bid_not_above_ask) fails their step.
    assert result.asset_materializations_for_node("options_chain_history")
    # The archive refuses a duplicated contract, so a duplicate key is planted in the history itself.
    with open_duckdb(duckdb_path, "rl_test") as wh:
        wh.connection.execute(
            "INSERT INTO rl_test.options_chain_history SELECT * FROM rl_test.options_chain_history "
            "WHERE contract_symbol = (SELECT MIN(contract_symbol) FROM rl_test.options_chain_history)"
        )
    result = dg.materialize(  # the checks on their own check the newest day, DAY
        HISTORY,
        resources=resources,
        selection=dg.AssetSelection.checks_for_assets(options_chain_history),
        raise_on_error=False,
    )
    outcome = {k.split(":")[1]: e for k, e in checks(result).items()}
    for name in [
        "unique_key",
        "bid_not_above_ask",
        "no_negative_prices",
        "iv_in_range",
        "delta_sign_and_range",
        "every_underlying_present",
    ]:
        assert not outcome[name].passed, name
        assert outcome[name].severity == dg.AssetCheckSeverity.ERROR
    missing = outcome["every_underlying_present"].metadata["missing_by_day"].value
    assert missing == {str(DAY): [market.tickers[-1]]}
    assert outcome["unique_key"].metadata["offending_rows"].value == 1


def test_a_large_drop_in_rows_warns(resources, duckdb_path, market):
    assert dg.materialize(
        HISTORY,
        resources=resources,
        partition_key=str(DAY),
        run_config={"ops": {"options_chain_history": {"config": {"source": "provider"}}}},
    ).success
    with open_duckdb(duckdb_path, "rl_test") as wh:
        chain = market.chain(NEXT_DAY)
        replace_live_chain(wh, chain.iloc[: len(chain) // 2])
    result = dg.materialize(HISTORY, resources=resources, partition_key=str(NEXT_DAY))
    outcome = {k.split(":")[1]: e for k, e in checks(result).items()}
    drop = outcome["row_count_vs_previous_partition"]
    assert not drop.passed and drop.severity == dg.AssetCheckSeverity.WARN
    assert drop.metadata["drops"].value[str(NEXT_DAY)]["previous_rows"] == len(market.chain(DAY))
    assert outcome["unique_key"].passed and outcome["bid_not_above_ask"].passed


class CorruptPrices(SyntheticMarketProvider):
    """The synthetic feed with one bad bar and one ticker missing, as a real feed might send."""

    def prices(self, start, end):
        prices = super().prices(start, end)
        prices.loc[0, "low"] = prices.loc[0, "high"] * 1.1
        prices.loc[1, "close"] = -1.0
        return prices[prices["ticker"] != self.tickers()[-1]]


def test_price_checks_fail_on_corrupted_bars(resources):
    bad = {**resources, "market": CorruptPrices(seed=11, universe=4)}
    result = dg.materialize(PRICES, resources=bad, partition_key=str(DAY))
    outcome = {k.split(":")[1]: e for k, e in checks(result).items()}
    assert not outcome["consistent_bars"].passed
    assert not outcome["no_negative_prices"].passed
    assert not outcome["every_ticker_present"].passed
    assert outcome["unique_key"].passed


class OneTickerPrices(SyntheticMarketProvider):
    """A provider having a bad day: its price answer holds the first ticker only."""

    def prices(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        prices = super().prices(start, end)
        return prices[prices["ticker"] == self.tickers()[0]]


def test_a_provider_answering_fewer_tickers_never_deletes_held_prices(resources, duckdb_path):
    tags = range_run_tags(RANGE_START, DAY)
    assert dg.materialize([price_data], resources=resources, tags=tags).success
    before = table(duckdb_path, "SELECT * FROM rl_test.price_data ORDER BY ticker, date")
    bad = {**resources, "market": OneTickerPrices(seed=11, universe=4)}
    result = dg.materialize([price_data], resources=bad, tags=tags, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.step_failure_data.user_failure_data.description
    lost = ", ".join(bad["market"].tickers()[1:])
    assert f"lack {3 * 5} bar(s) price_data holds (tickers {lost};" in message
    assert "nothing was written" in message and "allow_fewer_rows" in message
    pd.testing.assert_frame_equal(table(duckdb_path, "SELECT * FROM rl_test.price_data ORDER BY ticker, date"), before)
    run_config = {"ops": {"price_data": {"config": {"allow_fewer_rows": True}}}}
    assert dg.materialize([price_data], resources=bad, tags=tags, run_config=run_config).success
    after = table(duckdb_path, "SELECT DISTINCT ticker FROM rl_test.price_data")
    assert after["ticker"].tolist() == bad["market"].tickers()[:1]


def test_the_provider_says_plainly_when_it_cannot_serve_a_date(resources):
    early = {**resources, "market": SyntheticMarketProvider(seed=11, universe=4)}
    with pytest.raises(Exception, match="starts on 2018-01-02"):
        early["market"].chain(dt.date(2017, 12, 29))


def test_the_demo_runs_end_to_end_and_summarises(tmp_path):
    """`make demo`'s program on a short stretch, in its own process with its own instance and file."""
    demo_env = {
        "RL_ASSETS_DUCKDB_PATH": str(tmp_path / "demo.duckdb"),
        "RL_ASSETS_UNIVERSE": "3",
        "RL_ASSETS_MODEL_STORE": str(tmp_path / "models"),
    }
    done = run_with_instance(tmp_path, [sys.executable, "-m", "rl_assets.defs.demo", "--days", "5"], **demo_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "backfill" in done.stdout and "4 partitions" in done.stdout
    # The jobs' own checks on the selected assets: prices 5 + 1 close_matches_chain_underlying_price
    # (no chain archived yet: passes); backfill 12 history + 1 technicals + 4 rl_state; daily 5 + 1 +
    # 12 + 1 + 4; labels 5.
    assert "asset checks: 51/51 passed" in done.stdout, done.stdout
    assert "models    skipped: walk-forward evaluation needs" in done.stdout  # 2 labelled days are too few
    with open_duckdb(str(tmp_path / "demo.duckdb"), "rl_assets") as wh:
        days = wh.connection.execute(
            "SELECT COUNT(DISTINCT snapshot_date) FROM rl_assets.options_chain_history"
        ).fetchone()[0]
        keys = wh.connection.execute(
            "SELECT COUNT(*) = COUNT(DISTINCT (snapshot_date, contract_symbol)) FROM rl_assets.options_chain_history"
        ).fetchone()[0]
    assert days == 5 and keys
    with open_duckdb(str(tmp_path / "demo.duckdb"), "rl_assets") as wh:
        counts = [
            wh.connection.execute(f"SELECT COUNT(DISTINCT {column}) FROM rl_assets.{table}").fetchone()[0]
            for table, column in (
                ("technicals_history", "date"),
                ("rl_state", "snapshot_date"),
                ("rl_dataset", "snapshot_date"),
            )
        ]
    assert counts == [5, 5, 2]  # labels only for the days whose next three sessions are archived
    assert_the_demo_printed_each_stage_as_it_ran(done)
    # Dagster recorded the runs in the instance, where the UI reads them.
    runs = run_with_instance(tmp_path, [DAGSTER_CLI, "run", "list"], **demo_env)
    assert runs.stdout.count("Run: ") == 4, runs.stdout + runs.stderr  # prices, backfill, daily, dataset
    # They are the code location's own jobs, not ad-hoc asset jobs.
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        recorded = instance.get_runs()
    assert {run.job_name for run in recorded} <= {job.name for job in DEFS.jobs}
    assert sorted(run.job_name for run in recorded) == ["archive_job", "daily_job", "daily_job", "labels_job"]
    assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in recorded)


def demo_step(step: str, outcome: str) -> str:
    """A progress line of the demo: a step that ended, what it wrote or checked, its seconds."""
    return rf"^\s+{step}\s+{outcome}\s+\d+\.\d s$"


def assert_the_demo_printed_each_stage_as_it_ran(done: subprocess.CompletedProcess) -> None:
    """Each job run prints a header, each step a line as it starts and as it ends (rows or checks,
    seconds), and the run's time, before the next stage starts: not only a summary at the end."""
    out = done.stdout
    stages = [line for line in out.splitlines() if re.match(r"^\[\d/4\] ", line)]
    assert [line.split()[1] for line in stages] == ["archive_job", "daily_job", "daily_job", "labels_job"], out
    for step, outcome in (
        ("price_data", r"[\d,]+ rows"),
        ("price_data_checks", r"5/5 checks passed"),
        ("options_chain_history", r"[\d,]+ rows"),
        ("options_chain", r"[\d,]+ rows"),
        ("technicals_history", r"[\d,]+ rows; 1/1 checks passed"),
        ("rl_state_checks", r"4/4 checks passed"),
        ("rl_dataset", r"[\d,]+ rows"),
        ("rl_dataset_checks", r"5/5 checks passed"),
    ):
        assert re.search(demo_step(step, outcome), out, re.MULTILINE), (step, out)
    assert re.search(r"^\s+rl_dataset\s+started$", out, re.MULTILINE), out
    assert len(re.findall(r"^\s+(archive|daily|labels)_job done in \d+\.\d s \(run \w{8}\)$", out, re.MULTILINE)) == 4
    # Printed stage by stage: the first run's steps come before the second run starts, every
    # stage before the summary.
    first_step = re.search(demo_step("price_data", r"[\d,]+ rows"), out, re.MULTILINE).start()
    assert first_step < out.index(stages[1]) < out.index("asset checks:")
    # Dagster's own console lines stay quiet, and so do the beta notices.
    assert "DEBUG" not in out + done.stderr and "BetaWarning" not in out + done.stderr, out + done.stderr


def test_checks_run_on_their_own_check_the_newest_archived_day(resources, duckdb_path, market):
    assert dg.materialize([*PRICES, *HISTORY], resources=resources, tags=range_run_tags(RANGE_START, DAY)).success
    with open_duckdb(duckdb_path, "rl_test") as wh:  # corrupt the newest day only
        wh.connection.execute(
            "UPDATE rl_test.options_chain_history SET bid = ask + 1 WHERE snapshot_date = ? AND strike = "
            "(SELECT MIN(strike) FROM rl_test.options_chain_history WHERE snapshot_date = ?)",
            [DAY, DAY],
        )
    result = dg.materialize(
        [*PRICES, *HISTORY],
        resources=resources,
        selection=dg.AssetSelection.checks_for_assets(options_chain_history),
        raise_on_error=False,  # bid_not_above_ask blocks: its failure fails the check step
    )
    assert not result.get_asset_materialization_events()  # only the checks ran
    outcome = {k.split(":")[1]: e for k, e in checks(result).items()}
    assert not outcome["bid_not_above_ask"].passed
    assert list(outcome["bid_not_above_ask"].metadata["days_with_offending_rows"].value) == [str(DAY)]
    assert outcome["unique_key"].passed


def test_checks_on_an_empty_table_say_so(resources):
    result = dg.materialize(
        HISTORY,
        resources=resources,
        selection=dg.AssetSelection.checks_for_assets(options_chain_history),
        raise_on_error=False,
    )
    assert not result.success
    assert (
        "nothing to check: options_chain_history is empty"
        in result.get_step_failure_events()[0].step_failure_data.error.to_string()
    )
