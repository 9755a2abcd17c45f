"""The wheel: sql/ ships inside it as package data, tests and benchmarks stay out, and an installed
wheel materialises assets from a folder outside the checkout, with no PYTHONPATH.

Offline: the wheel is built with setuptools' own build backend from the project venv (no build
isolation, nothing downloaded), and installed with --no-index into a fresh venv that borrows the
project venv's packages for its dependencies (a .pth line), so only rl_assets comes from the wheel.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import duckdb
import pytest

from rl_assets.settings import REPO_ROOT

# Not copied into the build tree: version control, scratch and build outputs at the top (a stale
# build/lib would leak old files into the wheel), caches anywhere.
TOP_LEVEL_SKIPPED = {"data", "build", "dist", "bench_results"}
PARTITION = "2025-01-03"  # a trading day after the default start date
# The code location's entry point, as `dagster dev` without a workspace finds it.
CODE_LOCATION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]


def _skip(folder: str, names: list[str]) -> set[str]:
    skipped = {n for n in names if n == "__pycache__" or n.endswith(".egg-info")}
    if Path(folder).resolve() == REPO_ROOT:
        skipped |= {n for n in names if n.startswith(".") or n in TOP_LEVEL_SKIPPED}
    return skipped


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source") / "rl-assets"
    shutil.copytree(REPO_ROOT, source, ignore=_skip)
    out = tmp_path_factory.mktemp("dist")
    build = "import sys\nfrom setuptools import build_meta\nprint(build_meta.build_wheel(sys.argv[1]))"
    result = subprocess.run([sys.executable, "-c", build, str(out)], cwd=source, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_holds_every_statement_and_preset_and_no_tests_or_benchmarks(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("rl_assets/sql/")}
    assert shipped == {p.name for p in (REPO_ROOT / "sql").glob("*.sql")}
    assert len(shipped) >= 10
    presets = {
        n.removeprefix("rl_assets/formats/presets/") for n in names if n.startswith("rl_assets/formats/presets/")
    }
    folder = REPO_ROOT / "rl_assets" / "formats" / "presets"
    assert presets == {str(p.relative_to(folder)) for p in folder.rglob("*.yaml")}
    assert {"contract.yaml", "yfinance.yaml", "prices/contract.yaml"} <= presets
    packages = {n.split("/")[0] for n in names} - {n.split("/")[0] for n in names if ".dist-info/" in n}
    assert packages == {"rl_assets"}
    assert not [n for n in names if "rl_assets_tests" in n or "rl_assets_bench" in n]


def test_benchmarks_import_nothing_from_the_tests():
    """The benchmarks stand on the package alone (a clone without the tests can still run them)."""
    imports = []
    for path in sorted((REPO_ROOT / "rl_assets_bench").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imports.append((path.name, node.module))
            elif isinstance(node, ast.Import):
                imports.extend((path.name, alias.name) for alias in node.names)
    assert any(module.startswith("rl_assets") for _, module in imports)
    assert [(name, module) for name, module in imports if module.split(".")[0] == "rl_assets_tests"] == []


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that points at the checkout or picks a mode."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "DAGSTER_HOME", "VIRTUAL_ENV") and not k.startswith("RL_ASSETS_")
    }
    return env | extra


@pytest.mark.slow
def test_the_installed_wheel_materialises_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # The dependencies resolve from the project venv; it does not hold rl_assets (the tests find the
    # checkout through PYTHONPATH), so rl_assets can only come from the wheel.
    (site_packages / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        env=_clean_env(),
    )

    work = tmp_path / "work"  # outside the checkout: the working directory of an installed code location
    work.mkdir()
    env = _clean_env(DAGSTER_HOME=str(tmp_path / "dagster_home"), RL_ASSETS_UNIVERSE="2")
    (tmp_path / "dagster_home").mkdir()
    where = subprocess.run(
        [
            python,
            "-c",
            "import rl_assets, rl_assets.settings as s, rl_assets.warehouse.sql as q;"
            "print(rl_assets.__file__); print(q.SQL_DIR); print(s.DEFAULT_DUCKDB_PATH)",
        ],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    package, statements, duckdb_path = (Path(line).resolve() for line in where)
    assert package.is_relative_to(site_packages.resolve()), package
    assert statements == site_packages.resolve() / "rl_assets" / "sql"
    # Installed, the default warehouse file is in data/ under the working directory, not site-packages.
    assert duckdb_path == work.resolve() / "data" / "rl_assets.duckdb"

    materialise = [
        *(python, "-m", "dagster", "asset", "materialize", "-m", CODE_LOCATION),
        *("--select", "options_chain,price_data,options_chain_history", "--partition", PARTITION),
    ]
    run = subprocess.run(materialise, cwd=work, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert not (site_packages / "data").exists()

    with duckdb.connect(str(duckdb_path), read_only=True) as db:
        prices = db.execute("SELECT count(*), count(DISTINCT ticker) FROM rl_assets.rl_assets.price_data").fetchone()
        history = db.execute(
            "SELECT count(*), min(snapshot_date), max(snapshot_date) FROM rl_assets.rl_assets.options_chain_history"
        ).fetchone()
    assert prices == (2, 2)
    assert history[0] > 0 and str(history[1]) == str(history[2]) == PARTITION
