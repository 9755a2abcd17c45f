"""The code location is built from its settings: every mode side by side in one process, each
loadable by `dagster definitions validate`, and the Dagster layer kept in rl_assets/defs/."""

import ast
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from rl_assets.defs.code_location import build_definitions
from rl_assets.settings import REPO_ROOT, VARIABLES, Settings
from rl_assets_tests.bigquery_emulator import PROJECT

EVERY_ASSET = {
    "options_chain", "price_data", "options_chain_history", "technicals_history", "rl_state", "rl_dataset",
    "baseline_model", "ppo_agent", "recommendations", "paper_trades", "paper_trading_performance",
}  # fmt: skip
PIPELINE_TABLES = {"options_chain", "price_data"}  # the existing pipeline's, in sidecar mode
EVERY_JOB = {
    "daily_job", "labels_job", "archive_job", "dataset_job", "training_job", "paper_trading_job", "live_archive_job",
}  # fmt: skip

SYNTHETIC_DUCKDB = Settings()
SIDECAR_DUCKDB = Settings(market="warehouse")
SIDECAR_BIGQUERY = Settings(market="warehouse", warehouse="bigquery", bq_project=PROJECT, dataset="rl_modes")
# The pipeline's tables in another schema, in their vendors' layouts.
SIDECAR_VENDOR = Settings(
    market="warehouse", live_table="vendor.chain", chain_format="historicaloptiondata",
    price_table="vendor.bars", price_format="symbol_adj_close",
)  # fmt: skip
# A vendor's history files (the real VXX month), prices from the chain.
FILES = Settings(
    market="files", chain_files=str(REPO_ROOT / "rl_assets_tests" / "data" / "vxx_options_2016-12.csv.gz"),
    chain_format="historicaloptiondata", start_date=dt.date(2016, 12, 1),
)  # fmt: skip
MODES = {
    "synthetic-duckdb": SYNTHETIC_DUCKDB,
    "files-duckdb": FILES,
    "sidecar-duckdb": SIDECAR_DUCKDB,
    "sidecar-bigquery": SIDECAR_BIGQUERY,
    "sidecar-vendor-layouts": SIDECAR_VENDOR,
}


def _freshness_checked(defs: dg.Definitions) -> set[str]:
    graph = defs.resolve_asset_graph()
    return {key.asset_key.to_user_string() for key in graph.asset_check_keys if key.name == "latest_session_landed"}


def test_every_mode_is_built_side_by_side_in_one_process():
    built = {name: build_definitions(settings) for name, settings in MODES.items()}
    for name, defs in built.items():
        dg.Definitions.validate_loadable(defs)
        graph = defs.resolve_asset_graph()
        sidecar, files = MODES[name].market == "warehouse", MODES[name].market == "files"
        keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
        executable = {key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).is_executable}
        assert keys == EVERY_ASSET, name
        external = PIPELINE_TABLES if sidecar else {"options_chain"} if files else set()  # files: the history files
        assert executable == EVERY_ASSET - external, name
        # The UI's kind tag names the mode's warehouse on every warehouse asset.
        kinds = {key.to_user_string(): graph.get(key).kinds for key in graph.get_all_asset_keys()}
        assert MODES[name].warehouse in kinds["options_chain_history"] and MODES[name].warehouse in kinds["price_data"]
        other_warehouse = {"duckdb", "bigquery"} - {MODES[name].warehouse}
        assert not other_warehouse & set().union(*kinds.values()), name
        assert {job.name for job in defs.jobs} == EVERY_JOB, name
        schedules = {schedule.name for schedule in defs.schedules}
        sensors = {sensor.name for sensor in defs.sensors}
        if sidecar:  # the pipeline's clock: the live table is observed, not loaded on a schedule
            assert schedules == {"freshness_deadline_schedule"}, name
            assert sensors == {"labels_after_daily_run", "retraining_sensor", "live_chain_sensor"}, name
            assert _freshness_checked(defs) == {"options_chain_history", "technicals_history"}, name
        elif files:  # history comes in by backfills, on no clock
            assert schedules == set(), name
            assert sensors == {"labels_after_daily_run", "retraining_sensor"}, name
        else:
            assert schedules == {"trading_day_schedule", "freshness_deadline_schedule"}, name
            assert sensors == {"labels_after_daily_run", "retraining_sensor"}, name
            assert _freshness_checked(defs) == {"price_data", "options_chain_history", "technicals_history"}, name
        warehouse = defs.resources["warehouse"]
        assert warehouse.backend == MODES[name].warehouse, name
        # The pipeline's tables in rl-assets' own dataset must exist; those elsewhere are read where they are.
        where = {"options_chain": MODES[name].live_table, "price_data": MODES[name].price_table}
        in_own_dataset = {table for table, named in where.items() if "." not in named}
        assert set(warehouse.external_tables) == (in_own_dataset if sidecar else set()), name
        assert set(warehouse.skipped_tables) == (PIPELINE_TABLES if sidecar else set()), name
        # The warehouse reads the pipeline's tables through their formats in sidecar mode only (files
        # mode's formats read the files; its price_data is rl-assets' own, in the contract's layout).
        formats = (MODES[name].chain_format, MODES[name].price_format) if sidecar else ("contract", "contract")
        assert (warehouse.chain_format, warehouse.price_format) == formats, name


def test_the_partitions_start_where_the_settings_say():
    later = build_definitions(Settings(start_date=Settings().start_date.replace(year=2026)))
    first = {
        defs.get_assets_def("price_data").partitions_def.get_first_partition_key()
        for defs in (later, build_definitions(Settings()))
    }
    assert first == {"2026-01-02", "2025-01-02"}


def test_the_sidecar_mode_on_bigquery_opens_the_emulators_dataset(emulated_bigquery):
    """The BigQuery mode's resources reach the warehouse they name: its tables are created, the
    pipeline's are required, not created (a session fails naming them)."""
    settings = Settings(market="warehouse", warehouse="bigquery", bq_project=PROJECT, dataset=emulated_bigquery)
    warehouse = build_definitions(settings).resources["warehouse"]
    with pytest.raises(Exception, match="options_chain"):
        with warehouse.session():
            pass
    owner = build_definitions(Settings(warehouse="bigquery", bq_project=PROJECT, dataset=emulated_bigquery))
    with owner.resources["warehouse"].session() as wh:  # creates every table, the pipeline's too
        assert wh.query("rl_dataset_date_range").iloc[0]["row_count"] == 0
    with warehouse.session() as wh:  # now the pipeline's tables exist
        assert wh.query("price_data_universe").empty


def _variables(settings: Settings) -> dict[str, str]:
    """The RL_ASSETS_* variables that give `settings` (the entry point's way in)."""
    return {
        VARIABLES[field]: str(getattr(settings, field)) for field in VARIABLES if getattr(settings, field) is not None
    }


def test_dagster_definitions_validate_passes_for_every_modes_variables(tmp_path):
    """The entry point (rl_assets/definitions.py) with each sidecar mode's variables, as `dagster
    dev` would load it; the modes load concurrently, each with its own instance. (The default
    mode: test_assets.py's test_the_code_location_loads_like_make_ui_does, through workspace.yaml.)"""
    cli = str(Path(sys.executable).with_name("dagster"))
    runs = {}
    for name, settings in MODES.items():
        if settings == SYNTHETIC_DUCKDB:
            continue
        home = tmp_path / name
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RL_ASSETS_")},
            **_variables(settings),
            "PYTHONPATH": str(REPO_ROOT),
            "DAGSTER_HOME": str(home),
        }
        runs[name] = subprocess.Popen(
            [cli, "definitions", "validate", "-m", "rl_assets.definitions"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    for name, run in runs.items():
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 0, f"{name}: {output}"
        assert "Validation successful" in output, f"{name}: {output}"


# ---- The Dagster layer lives in rl_assets/defs/; the rest is plain Python
PACKAGE = REPO_ROOT / "rl_assets"
ENTRY_POINT = PACKAGE / "definitions.py"  # imports rl_assets.defs.code_location, nothing of dagster itself


def _module(path: Path) -> str:
    return ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")


def _plain_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if PACKAGE / "defs" not in p.parents and p != ENTRY_POINT)


def _direct_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _is_dagster_layer(module: str) -> bool:
    return module.split(".")[0].startswith("dagster") or module.startswith("rl_assets.defs")


def test_modules_outside_defs_do_not_import_dagster_directly():
    offenders = {
        _module(path): sorted(n for n in _direct_imports(path) if _is_dagster_layer(n)) for path in _plain_modules()
    }
    assert {module: names for module, names in offenders.items() if names} == {}
    assert _direct_imports(ENTRY_POINT) >= {"rl_assets.defs.code_location"}


def test_modules_outside_defs_do_not_import_dagster_at_all():
    """The import graph as Python sees it: every plain module imported in a fresh interpreter,
    and dagster is not among the modules loaded (no module reaches it through another)."""
    modules = [_module(path) for path in _plain_modules()]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('dagster') or m.startswith('rl_assets.defs')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(modules) > 20
    assert done.stdout.strip() == "[]"


def test_the_instance_imports_the_run_launcher_without_the_code_location():
    """dagster.yaml names rl_assets.defs.run_launcher: the daemon and the webserver import it, and
    must not load the assets, torch and the rest with it."""
    script = "import sys, rl_assets.defs.run_launcher as m; print(sorted({'torch', 'rl_assets.defs.code_location'} & set(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert "rl_assets.defs.run_launcher" in (REPO_ROOT / "dagster.yaml").read_text()
