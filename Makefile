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

# uv reads the platform's certificate store (a proxy's CA installed there works without
# SSL_CERT_FILE in the environment).
export UV_SYSTEM_CERTS ?= 1
export PYTHONPATH   := $(CURDIR)
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: help setup demo test ui bench lock clean

help:
	@echo "make demo   set up, materialise ~60 trading days on the embedded default, print a summary"
	@echo "make test   set up and run the test suite"
	@echo "make ui     start the Dagster UI (dagster dev) on this code location"
	@echo "make bench  run the benchmarks (numbers go to README's table)"
	@echo "make lock   re-resolve requirements.lock from pyproject.toml"

setup: $(VENV)/.installed

# A venv counts as built only once the marker is written, so an interrupted install is redone.
$(VENV)/.installed: $(LOCK)
	@set -euo pipefail; \
	python=$$(scripts/find-python.sh 3.12); \
	echo "setup: building $(VENV) with $$python"; \
	rm -rf "$(VENV)"; mkdir -p "$(VENV_ROOT)"; \
	"$$python" -m venv "$(VENV)"; \
	"$(VENV)/bin/python" -m pip install --quiet "uv==$(UV_VERSION)"; \
	"$(VENV)/bin/uv" pip sync --quiet --python "$(VENV)/bin/python" $(LOCK); \
	touch "$@"

# The instance: dagster.yaml, and the "warehouse" pool's limit (rl_assets.resources.WAREHOUSE_POOL)
# stored up front. Dagster would otherwise create it from default_limit only once it sees a queued
# run in the pool, and the first runs queued together would all start.
$(DAGSTER_HOME)/dagster.yaml: dagster.yaml | setup
	@mkdir -p "$(DAGSTER_HOME)" && cp dagster.yaml "$@"
	@$(VENV)/bin/dagster instance concurrency set warehouse 1 >/dev/null

demo: setup $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m rl_assets.demo

# The UI test drives Debian's Chromium (never a downloaded browser); install it when missing.
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@set -euo pipefail; echo "setup: installing Debian's chromium for the UI test"; \
	sudo=""; if [ "$$(id -u)" != 0 ]; then sudo="sudo"; fi; \
	$$sudo apt-get update -qq; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null

test: setup $(CHROMIUM)
	RL_ASSETS_CHROMIUM=$(CHROMIUM) $(PY) -m pytest

ui: setup $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml

bench: setup
	$(PY) -m rl_assets_bench

lock:
	@set -euo pipefail; python=$$(scripts/find-python.sh 3.12); \
	tools=$$(mktemp -d); "$$python" -m venv "$$tools"; \
	"$$tools/bin/python" -m pip install --quiet "uv==$(UV_VERSION)"; \
	"$$tools/bin/uv" pip compile pyproject.toml --extra test --python-version 3.12 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes --quiet -o $(LOCK); \
	rm -rf "$$tools"

clean:
	rm -rf .dagster_home data/*.duckdb .pytest_cache
