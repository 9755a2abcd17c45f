# rl-assets: `make demo` and `make test` are the two commands; everything else is optional.
SHELL := /bin/bash
.DEFAULT_GOAL := help

LOCK       := requirements.lock
LOCK_HASH  := $(shell sha256sum $(LOCK) | cut -c1-16)
# The venv lives outside the clone, keyed by the lock's hash: a fresh clone with the same lock
# reuses it, and a changed lock builds a new one beside it.
VENV_ROOT  ?= $(HOME)/.cache/rl-assets
VENV       ?= $(VENV_ROOT)/venv-$(LOCK_HASH)
PY         := $(VENV)/bin/python
UV_VERSION := 0.13.8
# The BigQuery emulator the tests start: its own Python 3.13 venv, keyed by its own lock.
EMULATOR_LOCK := scripts/bigquery-emulator.lock
EMULATOR_VENV ?= $(VENV_ROOT)/bigquery-emulator-$(shell sha256sum $(EMULATOR_LOCK) | cut -c1-16)
EMULATOR      := $(EMULATOR_VENV)/bin/local-bigquery

# uv reads the platform's certificate store (a proxy's CA installed there works without
# SSL_CERT_FILE in the environment).
export UV_SYSTEM_CERTS ?= 1
export PYTHONPATH   := $(CURDIR)
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: help setup demo demo-real test ui bench lock emulator wheel clean

help:
	@echo "make demo   set up, materialise ~60 trading days on the embedded default, print a summary"
	@echo "make demo-real  set up, run the graph on a real chain (VXX, December 2016, shipped with the tests)"
	@echo "make test   set up and run the test suite"
	@echo "make ui     start the Dagster UI (dagster dev) on this code location"
	@echo "make bench  run every benchmark (~50 min, ~19 GB of scratch disk); writes README's table and bench_results/"
	@echo "make lock   re-resolve requirements.lock from pyproject.toml (and the emulator's lock)"
	@echo "make wheel  build dist/rl_assets-*.whl (sql/ inside; no tests or benchmarks), offline"
	@echo "make emulator  run the local BigQuery emulator on 127.0.0.1:9050 (BIGQUERY_EMULATOR_HOST=http://127.0.0.1:9050)"

setup: $(VENV)/.installed

# $(call build_venv,PYTHON_VERSION,VENV,LOCK): a fresh venv with exactly the lock's packages.
define build_venv
python=$$(scripts/find-python.sh $(1)); \
echo "setup: building $(2) with $$python"; \
rm -rf "$(2)"; mkdir -p "$(VENV_ROOT)"; \
"$$python" -m venv "$(2)"; \
"$(2)/bin/python" -m pip install --quiet "uv==$(UV_VERSION)"; \
"$(2)/bin/uv" pip sync --quiet --compile-bytecode --python "$(2)/bin/python" $(3)
endef

# A venv counts as built only once the marker is written, so an interrupted install is redone.
# No prerequisite: the venv's name carries the lock's hash, and a fresh clone or worktree (whose
# lock file is newer than the marker) must reuse it, not rebuild it under a running test.
$(VENV)/.installed:
	@set -euo pipefail; $(call build_venv,3.12,$(VENV),$(LOCK)); touch "$@"

# The instance: dagster.yaml, and the "warehouse" pool's limit (rl_assets.defs.resources.WAREHOUSE_POOL)
# stored up front. Dagster would otherwise create it from default_limit only once it sees a queued
# run in the pool, and the first runs queued together would all start.
$(DAGSTER_HOME)/dagster.yaml: dagster.yaml | setup
	@mkdir -p "$(DAGSTER_HOME)" && cp dagster.yaml "$@"
	@$(VENV)/bin/dagster instance concurrency set warehouse 1 >/dev/null

demo: setup $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m rl_assets.defs.demo

# Files mode on the real VXX month (its own DuckDB file, data/real.duckdb); ARGS="--files ... --format ..."
# runs it on your own history files.
demo-real: setup $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m rl_assets.defs.demo_real $(ARGS)

# The UI test drives Debian's Chromium (never a downloaded browser); install it when missing.
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@set -euo pipefail; echo "setup: installing Debian's chromium for the UI test"; \
	sudo=""; if [ "$$(id -u)" != 0 ]; then sudo="sudo"; fi; \
	$$sudo apt-get update -qq; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null

# The emulator's DuckDB loads its extensions from the duckdb-extension-* packages: installed once
# into a home folder inside the emulator's venv (the emulator runs with HOME set there).
$(EMULATOR_VENV)/.installed: $(EMULATOR_LOCK)
	@set -euo pipefail; $(call build_venv,3.13,$(EMULATOR_VENV),$(EMULATOR_LOCK)); \
	mkdir -p "$(EMULATOR_VENV)/home"; \
	HOME="$(EMULATOR_VENV)/home" "$(EMULATOR_VENV)/bin/python" -c "import duckdb, importlib, pathlib; \
	[duckdb.execute(f\"INSTALL '{p}'\") for name in ('icu', 'ducklake', 'spatial') \
	 for p in pathlib.Path(importlib.import_module('duckdb_extension_' + name).__file__).parent.glob('extensions/*/*.duckdb_extension')]"; \
	touch "$@"

test: setup $(CHROMIUM) $(EMULATOR_VENV)/.installed
	RL_ASSETS_CHROMIUM=$(CHROMIUM) RL_ASSETS_BQ_EMULATOR=$(EMULATOR) $(PY) -m pytest

emulator: $(EMULATOR_VENV)/.installed
	HOME="$(EMULATOR_VENV)/home" $(EMULATOR) serve --host 127.0.0.1 --port 9050 --project rl-assets-local --data-dir .bigquery-emulator

ui: setup $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml

# Every benchmark, then the report: README's table, bench_results/results.json and report.md.
bench: setup
	$(PY) -m rl_assets_bench --readme

lock:
	@set -euo pipefail; python=$$(scripts/find-python.sh 3.12); \
	tools=$$(mktemp -d); "$$python" -m venv "$$tools"; \
	"$$tools/bin/python" -m pip install --quiet "uv==$(UV_VERSION)"; \
	"$$tools/bin/uv" pip compile pyproject.toml --extra test --python-version 3.12 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet -o $(LOCK); \
	"$$tools/bin/uv" pip compile scripts/bigquery-emulator.in --python-version 3.13 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet -o $(EMULATOR_LOCK); \
	rm -rf "$$tools"

# setuptools' build backend from the venv, called directly: offline, no build isolation. build/ is
# removed first, or files it kept from an earlier build (a module since moved) would be packaged.
wheel: setup
	rm -rf build rl_assets.egg-info
	$(PY) -c "from setuptools import build_meta; print('dist/' + build_meta.build_wheel('dist'))"
	rm -rf build rl_assets.egg-info

clean:
	rm -rf build dist rl_assets.egg-info .dagster_home data/*.duckdb data/*.duckdb.lock data/real-models .pytest_cache .bigquery-emulator
