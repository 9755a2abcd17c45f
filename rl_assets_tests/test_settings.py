"""Bad settings fail when the code location loads, naming the variable and the value; a DuckDB file
that cannot be written fails at once, naming the path and the reason, while a lock held by another
process is still waited for."""

import os
import shutil
import subprocess
import sys
import textwrap

import duckdb
import pytest

from rl_assets.defs.resources import Warehouse, build_resources
from rl_assets.market.synthetic import EPOCH
from rl_assets.settings import MIN_DUCKDB_MEMORY_LIMIT, Settings
from rl_assets.warehouse.backend import WarehouseError


def test_no_variables_give_the_offline_defaults():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert build_resources(settings)["warehouse"].backend == "duckdb"


@pytest.mark.parametrize(
    "variable,value,reason",
    [
        ("RL_ASSETS_UNIVERSE", "0", "the synthetic universe is 1 to 456976 tickers"),
        ("RL_ASSETS_UNIVERSE", "-3", "the synthetic universe is 1 to 456976 tickers"),
        ("RL_ASSETS_UNIVERSE", "456977", "the synthetic universe is 1 to 456976 tickers"),
        ("RL_ASSETS_SIGNAL", "nan", "a finite number >= 0"),
        ("RL_ASSETS_SIGNAL", "inf", "a finite number >= 0"),
        ("RL_ASSETS_SIGNAL", "-0.5", "a finite number >= 0"),
        ("RL_ASSETS_START_DATE", "2017-12-29", f"the synthetic market starts on {EPOCH}"),
        ("RL_ASSETS_START_DATE", "2025-01-04", "Saturday 2025-01-04 is not an NYSE trading day"),
        ("RL_ASSETS_START_DATE", "2025-12-25", "is not an NYSE trading day"),
        ("RL_ASSETS_START_DATE", "1999-01-04", "outside the NYSE calendar's range"),
        ("RL_ASSETS_DUCKDB_MEMORY_LIMIT", "1KB", f"is below {MIN_DUCKDB_MEMORY_LIMIT}"),
        ("RL_ASSETS_DUCKDB_MEMORY_LIMIT", "100MiB", f"is below {MIN_DUCKDB_MEMORY_LIMIT}"),
        ("RL_ASSETS_BQ_DATASET", "rl-assets", "invalid dataset name"),
        ("RL_ASSETS_BQ_DATASET", "x; DROP TABLE y", "invalid dataset name"),
        ("RL_ASSETS_BQ_PROJECT", "My_Project", "invalid project name"),
        ("RL_ASSETS_SEED", "1.5", "invalid literal for int()"),
    ],
)
def test_a_bad_setting_fails_at_load_naming_the_variable_and_value(variable, value, reason):
    with pytest.raises(ValueError) as error:
        Settings.from_env({variable: value})
    message = str(error.value)
    assert message.startswith(f"{variable}=") and value in message.split(" is not valid")[0]
    assert reason in message


SIDECAR = {"RL_ASSETS_MARKET": "warehouse"}


@pytest.mark.parametrize(
    "variables,variable,reason",
    [
        ({**SIDECAR, "RL_ASSETS_CHAIN_FORMAT": "yahoo"}, "RL_ASSETS_CHAIN_FORMAT", "no such preset; the presets are"),
        ({**SIDECAR, "RL_ASSETS_PRICE_FORMAT": "yfinance.yml"}, "RL_ASSETS_PRICE_FORMAT", "cannot read"),
        ({**SIDECAR, "RL_ASSETS_LIVE_TABLE": "a.b.c.d"}, "RL_ASSETS_LIVE_TABLE", "project.dataset.table"),
        ({**SIDECAR, "RL_ASSETS_PRICE_TABLE": "vendor.bars-1"}, "RL_ASSETS_PRICE_TABLE", "invalid table name"),
        ({"RL_ASSETS_CHAIN_FORMAT": "yfinance"}, "RL_ASSETS_CHAIN_FORMAT", "the synthetic market has its own layout"),
        ({"RL_ASSETS_LIVE_TABLE": "vendor.chain"}, "RL_ASSETS_LIVE_TABLE", "sidecar mode only"),
    ],
)
def test_a_bad_table_or_format_setting_names_the_variable(variables, variable, reason):
    with pytest.raises(ValueError) as error:
        Settings.from_env(variables)
    assert str(error.value).startswith(f"{variable}=") and reason in str(error.value)


def test_a_format_file_is_validated_when_the_code_location_loads(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("name: mine\nextends: yfinance\ncolumns:\n  strike: {column: strike, scale: 0}\n")
    with pytest.raises(ValueError, match=r"RL_ASSETS_CHAIN_FORMAT=.*columns\.strike: .*scale must be a non-zero"):
        Settings.from_env({**SIDECAR, "RL_ASSETS_CHAIN_FORMAT": str(bad)})
    good = tmp_path / "good.yaml"
    good.write_text("name: mine\nextends: yfinance\ncolumns:\n  quote_time: {column: snapshot_ts}\n")
    settings = Settings.from_env({**SIDECAR, "RL_ASSETS_CHAIN_FORMAT": str(good), "RL_ASSETS_LIVE_TABLE": "md.chain"})
    warehouse = build_resources(settings)["warehouse"]
    assert (warehouse.chain_format, warehouse.live_table, warehouse.external_tables) == (
        str(good),
        "md.chain",
        ["price_data"],
    )


def test_sidecar_mode_may_start_before_the_synthetic_market():
    settings = Settings.from_env({"RL_ASSETS_MARKET": "warehouse", "RL_ASSETS_START_DATE": "2017-12-29"})
    assert str(settings.start_date) == "2017-12-29"
    assert Settings.from_env({"RL_ASSETS_START_DATE": str(EPOCH)}).start_date == EPOCH
    assert Settings.from_env({"RL_ASSETS_DUCKDB_MEMORY_LIMIT": MIN_DUCKDB_MEMORY_LIMIT}).duckdb_memory_limit


def test_the_code_location_does_not_load_with_a_bad_setting():
    env = {**os.environ, "RL_ASSETS_UNIVERSE": "0"}
    result = subprocess.run(
        [sys.executable, "-c", "import rl_assets.definitions"], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode != 0
    assert "ValueError: RL_ASSETS_UNIVERSE=0 is not valid" in result.stderr


def test_the_warehouse_refuses_a_memory_limit_too_small_to_run(tmp_path):
    with pytest.raises(ValueError, match=f"'1KB' is below {MIN_DUCKDB_MEMORY_LIMIT}"):
        with Warehouse(duckdb_path=str(tmp_path / "w.duckdb"), duckdb_memory_limit="1KB").session():
            pass


# ---- The DuckDB file: a permanent IO error at once (dagster-duckdb retried each for ~105 s)
def test_a_directory_as_the_duckdb_file_fails_at_once(tmp_path):
    with pytest.raises(WarehouseError, match=f"cannot write the DuckDB file {tmp_path} .*: it is a directory"):
        with Warehouse(duckdb_path=str(tmp_path)).session():
            pass


def test_a_folder_that_cannot_be_created_is_named(tmp_path):
    (tmp_path / "taken").write_text("a file where the folder should be")
    path = tmp_path / "taken" / "w.duckdb"
    with pytest.raises(WarehouseError, match=f"cannot write the DuckDB file {path} .*: its folder cannot be created"):
        with Warehouse(duckdb_path=str(path)).session():
            pass


OPEN_SESSIONS = textwrap.dedent(
    """
    import sys
    from rl_assets.defs.resources import Warehouse
    from rl_assets.warehouse.backend import WarehouseError
    for path in sys.argv[1:]:
        try:
            with Warehouse(duckdb_path=path).session():
                print("opened", path)
        except WarehouseError as error:
            print(error)
    """
)


def as_unprivileged(command: list[str]) -> list[str]:
    """`command` as a user that file permissions apply to: root writes a read-only folder anyway, so
    as root it runs in a user namespace as uid 1000 (skipped where unshare is not allowed)."""
    if os.geteuid() != 0:
        return command
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "--user", "--map-user=1000", "true"]).returncode != 0:
        pytest.skip("running as root without user namespaces: a read-only folder is writable")
    return [unshare, "--user", "--map-user=1000", *command]


def test_a_read_only_duckdb_folder_or_file_fails_at_once(tmp_path):
    read_only_folder, writable_folder = tmp_path / "read_only", tmp_path / "writable"
    in_read_only, read_only_file = read_only_folder / "w.duckdb", writable_folder / "w.duckdb"
    for folder, path in ((read_only_folder, in_read_only), (writable_folder, read_only_file)):
        folder.mkdir()
        duckdb.connect(str(path)).close()
    read_only_folder.chmod(0o555)
    read_only_file.chmod(0o444)
    try:
        # One process for both (its import is the slow part); bounded: the old code retried ~105 s each.
        command = as_unprivileged([sys.executable, "-c", OPEN_SESSIONS, str(in_read_only), str(read_only_file)])
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        read_only_folder.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"cannot write the DuckDB file {in_read_only} (RL_ASSETS_DUCKDB_PATH): its folder {read_only_folder} "
        "is not writable",
        f"cannot write the DuckDB file {read_only_file} (RL_ASSETS_DUCKDB_PATH): the file is not writable",
    ]


def test_a_lock_held_by_another_process_is_still_waited_for(tmp_path):
    path = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('held', flush=True); "
         "time.sleep(2); c.close()"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with Warehouse(duckdb_path=str(path)).session() as wh:  # waits for the holder to let go
            assert wh.columns("options_chain")
    finally:
        holder.wait(timeout=60)
