# govdx — the two commands a newcomer needs are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo cluster test test-fast lint install browser clean bench-ingest bench-clock bench-api bench-export

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "govdx needs Python 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Runtime dependencies; pip check proves the resolved set is consistent.
$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip check
	touch $@

# Test and lint tools on top, and the celery extra so that its import smoke test runs.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test,celery]'
	$(BIN)/pip check
	touch $@

install: $(VENV)/.installed

$(VENV)/.installed-celery: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[celery]'
	$(BIN)/pip check
	touch $@

# The production topology on this machine: govdx and Airflow on the local PostgreSQL, Airflow on
# Celery (Redis; CLUSTER_ARGS=--broker=rabbitmq for RabbitMQ), 4 API workers. Ctrl-C stops it all.
cluster: $(VENV)/.installed-celery
	$(BIN)/govdx demo cluster $(CLUSTER_ARGS)

demo: export GOVDX_PROFILE = demo
demo: $(VENV)/.installed
	$(BIN)/govdx demo seed
	$(BIN)/govdx demo sources
	$(BIN)/govdx certificate import-keys
	$(BIN)/govdx demo pipelines
	$(BIN)/govdx clock run
	$(BIN)/govdx demo serve

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy api authz catalog_schema connectors quality ingest demo dags

# The portal's browser tests drive Debian's Chromium; install it (and CJK fonts for readable
# screenshots) where missing. Never a browser download: Playwright only drives this binary.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk

browser: $(CHROMIUM)

# Everything, as CI runs it: both database legs, the slow tests and the browser journeys; the
# 15 slowest steps are listed, and pytest's last line gives the wall time.
test: $(VENV)/.installed-test $(CHROMIUM)
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=15 -m "not cluster"
	@# The production topology (make cluster) with a Celery worker killed mid-batch: a clock of its own.
	$(BIN)/python -m pytest -m cluster tests/cluster --durations=5
	$(MAKE) --no-print-directory lint

# The edit loop (about a minute on the 2-core machine): SQLite only, whatever the environment
# names, no slow tests (the demo run, the kill-mid-load test, the browser journeys), and one
# pytest-xdist worker per core.
test-fast: $(VENV)/.installed-test
	env -u GOVDX_TEST_POSTGRES_URL -u GOVDX_TEST_MARIADB_URL -u GOVDX_REQUIRE_SERVICES \
		$(BIN)/python -m pytest -q -m "not slow" -n 2

# 1,000,000 population rows end to end against the read + bulk-insert floor (see bench/ingest.py).
bench-ingest: $(VENV)/.installed
	$(BIN)/python bench/ingest.py

# 100,000 open stages: recompute every clock state, and one deadline (see bench/clock.py).
bench-clock: $(VENV)/.installed
	$(BIN)/python bench/clock.py

# 1,000,000 people: guarded keyed lookup (a library view, a dataset) vs a bare lookup, one uvicorn
# worker (see bench/access.py); then the export traced per person (bench-export).
bench-api: $(VENV)/.installed
	$(BIN)/python bench/access.py
	$(BIN)/python bench/export.py

# 200,000 people exported as Parquet, traced per person against the same export untraced (see bench/export.py).
bench-export: $(VENV)/.installed
	$(BIN)/python bench/export.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
