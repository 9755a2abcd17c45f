"""One process at a time on a DuckDB file: a run holds it from its first step to its last, another
process waits (bounded) and is told who holds it, and a killed holder frees it at once."""

import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from rl_assets.defs.resources import Warehouse
from rl_assets.settings import REPO_ROOT
from rl_assets.warehouse.lock import WarehouseLockTimeout, WarehouseLockUnavailable, holding, lock_path

ENV = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}

# Another rl-assets process writing to the same file through its own session (outside a run).
OTHER_WRITER = """
import sys
from rl_assets.defs.resources import Warehouse
with Warehouse(duckdb_path=sys.argv[1], dataset="rl_test").session() as wh:
    wh.connection.execute("CREATE TABLE rl_test.written_by_another_process AS SELECT 1 AS x")
"""

# A process that holds the lock until its stdin closes (or it is killed).
HOLDER = """
import sys
from rl_assets.warehouse.lock import holding
with holding(sys.argv[1], sys.argv[2], timeout_seconds=0):
    print("held", flush=True)
    sys.stdin.read()
"""


@contextmanager
def holder_process(duckdb_path: str, purpose: str):
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, duckdb_path, purpose],
        env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout.readline() == "held\n"
        yield process
    finally:
        process.kill()
        process.wait()


def _written_by_the_other_process(warehouse: Warehouse) -> bool:
    with warehouse.session() as wh:
        return bool(wh.columns("written_by_another_process"))


def test_a_run_holds_the_duckdb_file_between_its_steps_and_another_process_waits_for_it(tmp_path):
    """The defect: each asset opened and closed its own connection, so another process wrote
    between two steps of a run (it rebuilt the archive under a run building rl_state)."""
    warehouse = Warehouse(duckdb_path=str(tmp_path / "warehouse.duckdb"), dataset="rl_test")
    other: list[subprocess.Popen] = []
    other_log: list[str] = []

    @dg.asset
    def first_step(warehouse: Warehouse) -> None:
        with warehouse.session() as wh:
            wh.connection.execute("CREATE TABLE rl_test.first_step AS SELECT 1 AS x")
        # Between two steps: another process opens the warehouse. Go on once it has written and
        # exited, or once it says it waits for this run.
        process = subprocess.Popen(
            [sys.executable, "-c", OTHER_WRITER, warehouse.duckdb_path], env=ENV, stderr=subprocess.PIPE, text=True
        )
        other.append(process)
        for line in process.stderr:
            other_log.append(line)
            if "waiting" in line:
                break

    @dg.asset(deps=[first_step])
    def second_step(warehouse: Warehouse) -> bool:
        with warehouse.session():
            return _written_by_the_other_process(warehouse)  # a nested session reuses the run's hold

    result = dg.materialize([first_step, second_step], resources={"warehouse": warehouse})
    assert result.success
    assert result.output_for_node("second_step") is False, "another process wrote inside the run"
    (process,) = other
    waited = "".join(other_log) + process.stderr.read()
    assert process.wait(timeout=120) == 0, waited
    # It waited for this run, named in its log, and wrote once the run had ended.
    assert f"pid {os.getpid()} (run {result.run_id})" in waited
    assert _written_by_the_other_process(warehouse)


def test_a_run_waits_a_bounded_time_for_another_holder_and_fails_naming_it(tmp_path):
    duckdb_path = str(tmp_path / "warehouse.duckdb")

    @dg.asset
    def writes(warehouse: Warehouse) -> None:
        with warehouse.session():
            pass

    with holder_process(duckdb_path, "run 1234-the-other-run") as holder:
        with pytest.raises(Exception) as raised:
            dg.materialize(
                [writes], resources={"warehouse": Warehouse(duckdb_path=duckdb_path, lock_timeout_seconds=1)}
            )
    error = raised.value
    while not isinstance(error, WarehouseLockTimeout) and error.__cause__ is not None:
        error = error.__cause__
    assert isinstance(error, WarehouseLockTimeout), raised.value
    assert f"held by pid {holder.pid} (run 1234-the-other-run)" in str(error)
    assert duckdb_path in str(error)


def test_a_killed_holder_frees_the_warehouse_at_once(tmp_path):
    warehouse = Warehouse(duckdb_path=str(tmp_path / "warehouse.duckdb"), dataset="rl_test", lock_timeout_seconds=0)
    with holder_process(warehouse.duckdb_path, "a session of a notebook") as holder:
        with pytest.raises(WarehouseLockTimeout, match=f"held by pid {holder.pid} \\(a session of a notebook\\)"):
            _written_by_the_other_process(warehouse)
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        # No waiting (the timeout is 0): the OS dropped the dead process's lock.
        assert not _written_by_the_other_process(warehouse)


def test_a_lock_file_that_cannot_be_created_fails_at_once_with_the_path_and_reason(tmp_path):
    # sysfs refuses new files even to root (a chmod'ed folder would not stop root).
    duckdb_path = Path("/sys/rl_assets_warehouse.duckdb")
    with pytest.raises(WarehouseLockUnavailable) as raised:
        with holding(duckdb_path, "a test", timeout_seconds=300):
            pass
    assert str(lock_path(duckdb_path)) in str(raised.value) and "Permission denied" in str(raised.value)


def test_bigquery_takes_no_lock(tmp_path):
    """Runs on BigQuery may overlap (partitions are replaced atomically): no lock file, no wait."""
    warehouse = Warehouse(backend="bigquery", duckdb_path=str(tmp_path / "warehouse.duckdb"))

    @dg.asset
    def nothing(warehouse: Warehouse) -> None:
        pass

    assert dg.materialize([nothing], resources={"warehouse": warehouse}).success
    assert not lock_path(warehouse.duckdb_path).exists()
