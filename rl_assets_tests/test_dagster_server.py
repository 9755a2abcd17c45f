"""The code location served by a real `dagster dev`: runs through the queue against one DuckDB file,
the UI in headless Chromium (Debian's, installed by `make test`), and single-run backfills."""

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import expect, sync_playwright

from rl_assets import calendar
from rl_assets.defs.partitions import range_run_tags
from rl_assets.settings import REPO_ROOT
from rl_assets.warehouse import lock
from rl_assets_tests.code_location import DEFS as defs
from rl_assets_tests.conftest import DAY
from rl_assets_tests.dagster_server import kill_process_tree, running_dagster

CHROMIUM = os.environ.get("RL_ASSETS_CHROMIUM", "/usr/bin/chromium")
ASSETS = sorted(spec.key.to_user_string() for spec in defs.resolve_all_asset_specs())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_dagster(tmp_path_factory.mktemp("dagster_dev")) as running:
        yield running


def _overlap(a: dict, b: dict) -> bool:
    return a["startTime"] < b["endTime"] and b["startTime"] < a["endTime"]


def test_two_runs_launched_at_once_on_one_duckdb_file_wait_and_both_succeed(server):
    first_price_day = calendar.shift_trading_days(DAY, -30)
    runs = [
        server.launch("daily_job", ["options_chain", "options_chain_history"], {"dagster/partition": str(DAY)}),
        server.launch(
            "archive_job",
            ["price_data"],
            {
                "dagster/asset_partition_range_start": str(first_price_day),
                "dagster/asset_partition_range_end": str(DAY),
            },
        ),
    ]
    finished = server.wait_for(runs)
    assert [finished[r]["status"] for r in runs] == ["SUCCESS", "SUCCESS"], server.log
    # Both open the DuckDB file for writing: the "warehouse" pool ran them one after the other.
    assert not _overlap(*finished.values()), finished


def _label_matches(label: str, name: str) -> bool:
    """The lineage graph shortens long names in the middle ("options_c…_history")."""
    if "…" not in label:
        return label == name
    head, tail = label.split("…", 1)
    return name.startswith(head) and name.endswith(tail) and len(name) > len(label) - 1


def test_the_ui_shows_every_asset_and_materialises_a_partition(server):
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make test` installs Debian's chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        # A new instance offers a community sign-up dialog on localhost, at a moment of its own
        # choosing (it covered the launch dialog once); mark it seen, as its Skip button does.
        assert server.graphql("mutation { setNuxSeen }")["setNuxSeen"]

        page.goto(f"{server.url}/assets")
        for asset in ASSETS:
            expect(page.locator(f'a[href="/assets/{asset}"]').first).to_be_visible(timeout=60_000)

        # Everything is upstream of paper_trading_performance: the lineage graph shows all of it.
        page.goto(f"{server.url}/assets/paper_trading_performance?view=lineage&lineageScope=upstream&lineageDepth=20")
        labels = page.locator("[class*=AssetNode_assetName]")
        expect(labels).to_have_count(len(ASSETS), timeout=60_000)
        shown = labels.all_inner_texts()
        assert all(any(_label_matches(label, asset) for label in shown) for asset in ASSETS), shown

        # Materialise one partition of price_data from its page, as a user would.
        page.goto(f"{server.url}/assets/price_data")
        page.get_by_role("button", name="Materialize…").click()
        partitions = page.get_by_placeholder("No matching partitions")
        partitions.fill(str(DAY))
        partitions.press("Enter")
        before = set(server.run_ids())
        page.get_by_role("button", name="Launch 1 run").click()
        (run_id,) = _wait(lambda: server.launched_by_hand(set(server.run_ids()) - before))
        # The run's page, as the launch toast's "View" link opens it, until it reports success.
        page.goto(f"{server.url}/runs/{run_id}")
        expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=180_000)

        # A backfill of a range from the same dialog is one run over the whole range.
        first = calendar.shift_trading_days(DAY, -5)
        page.goto(f"{server.url}/assets/price_data")
        page.get_by_role("button", name="Materialize…").click()
        partitions = page.get_by_placeholder("No matching partitions")
        partitions.fill(f"[{first}...{DAY}]")
        partitions.press("Enter")
        expect(page.get_by_text("Backfills all partitions in a single run.")).to_be_visible()
        before = set(server.run_ids())
        page.get_by_role("button", name="Launch backfill").click()
        (backfill_run,) = _wait(lambda: server.launched_by_hand(set(server.run_ids()) - before))
        page.goto(f"{server.url}/runs/{backfill_run}")
        expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=180_000)
        browser.close()
    assert server.run(run_id)["status"] == "SUCCESS"
    assert server.run_tags(run_id)["dagster/partition"] == str(DAY)
    tags = server.run_tags(backfill_run)
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        str(first),
        str(DAY),
    )
    assert server.run(backfill_run)["status"] == "SUCCESS"


def _wait(probe, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)
    return found


def test_a_long_backfill_from_the_cli_is_one_run_with_progress_in_its_log(tmp_path):
    start, end = calendar.shift_trading_days(DAY, -9), DAY
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        "PYTHONPATH": str(REPO_ROOT),
        "RL_ASSETS_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "RL_ASSETS_UNIVERSE": "2",
    }
    (tmp_path / "dagster.yaml").write_text((REPO_ROOT / "dagster.yaml").read_text())
    command = [
        str(Path(sys.executable).with_name("dagster")), "asset", "materialize", "-m", "rl_assets.definitions",
        "--select", "options_chain_history", "--partition-range", f"{start}...{end}",
    ]  # fmt: skip
    # Another process holds the DuckDB file as the CLI run starts: the run waits for it, says
    # who holds it, and goes on once it is released (here as soon as the run says it waits).
    with lock.holding(env["RL_ASSETS_DUCKDB_PATH"], "run held-by-the-test", timeout_seconds=0):
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        before_release = []
        for line in process.stderr:
            before_release.append(line)
            if "waiting up to" in line:
                break
    stderr = "".join(before_release) + process.stderr.read()
    assert process.wait(timeout=600) == 0, stderr[-3000:]
    assert f"held by pid {os.getpid()} (run held-by-the-test)" in stderr
    days = calendar.trading_days(start, end)
    for number, day in enumerate(days, start=1):
        assert f"archived {day}: " in stderr and f"({number}/{len(days)})" in stderr
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        runs = instance.get_run_records()
        assert len(runs) == 1 and runs[0].dagster_run.status == dg.DagsterRunStatus.SUCCESS
        assert instance.get_materialized_partitions(dg.AssetKey("options_chain_history")) == {str(d) for d in days}


def test_after_the_whole_process_tree_is_killed_a_restart_fails_the_lost_run_and_runs_the_next(server):
    """The defect: after a crash of `dagster dev` and all its children, the killed run stayed
    STARTED for ever holding the warehouse pool's one slot, and every new run stayed QUEUED.
    Last in this module: it kills the module's server (one `dagster dev` start fewer), then
    restarts it on the same instance."""
    start = calendar.shift_trading_days(DAY, -40)
    lost = server.launch("archive_job", ["options_chain_history"], range_run_tags(start, DAY))
    # The queued run holds the DuckDB file from its start (its worker wrote the lock file).
    _wait(lambda: f"(run {lost})" in lock.holder(server.duckdb_path), timeout=180)
    killed = kill_process_tree(server.pid)
    assert len(killed) >= 4, killed  # dagster dev, webserver, daemon, code server, run worker
    with dg.DagsterInstance.from_config(str(server.home)) as instance:
        assert instance.get_run_by_id(lost).status == dg.DagsterRunStatus.STARTED  # killed mid-run

    with running_dagster(server.home.parent) as restarted:
        following = restarted.launch("archive_job", ["price_data"], {"dagster/partition": str(DAY)})
        finished = restarted.wait_for([lost, following])
    assert finished[lost]["status"] == "FAILURE", restarted.log
    assert finished[following]["status"] == "SUCCESS", restarted.log
    with dg.DagsterInstance.from_config(str(server.home)) as instance:
        failure = instance.all_logs(lost, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert "run worker (pid" in failure[-1].message and "no longer exists" in failure[-1].message
