# Vigie: the two commands a newcomer runs are `make run` and `make test`.
# Each sets itself up on a fresh machine (Python 3.11+, Node.js 20).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-deps test-pooler lint format bench clean dashboard

$(STAMP): pyproject.toml constraints.txt collector/pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Vigie needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]' -e ./collector
	@touch $@

install: $(STAMP)

# The dashboard: npm ci when the lockfile changes, a build when a source is newer
# than the last build.
NPM_STAMP := frontend/node_modules/.installed
DASHBOARD := frontend/dist/index.html
DASHBOARD_SOURCES := $(shell find frontend/src frontend/public -type f 2>/dev/null) \
	frontend/index.html frontend/vite.config.js frontend/package.json frontend/package-lock.json

$(NPM_STAMP): frontend/package.json frontend/package-lock.json
	@command -v npm >/dev/null || { echo "The dashboard needs Node.js 20 and npm"; exit 1; }
	cd frontend && npm ci --no-audit --no-fund
	@touch $@

$(DASHBOARD): $(NPM_STAMP) $(DASHBOARD_SOURCES)
	cd frontend && npm run build
	@touch $@

dashboard: $(DASHBOARD)

# The browser's socket.io client, for the test that talks to the relay with it.
JS_CLIENT := tests/js/node_modules/.package-lock.json
$(JS_CLIENT): tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --silent
	@touch $@

## Run Vigie locally (embedded PostgreSQL, API, relay, dashboard on one URL); prints it.
run: install dashboard
	$(BIN)/vigie run

## What the tests need beyond Python and Node: Debian's pgbouncer and openssl
## (the PgBouncer tests) and chromium (the browser tests). Installed with apt-get
## when running as root, else one line says what to install and those tests are
## skipped (VIGIE_TEST_NO_APT=1: never install).
test-deps:
	@scripts/test-deps

## Run the whole test suite (lint included): the dashboard's Vitest suite, then
## pytest (the browser tests of one module share a worker: loadgroup).
test: install test-deps lint dashboard $(JS_CLIENT)
	cd frontend && npm test
	$(BIN)/python -m pytest -n 2 --dist loadgroup

## The functions' tests once more, through PgBouncer in transaction mode (needs
## the pgbouncer package), as behind Supabase's transaction pooler.
test-pooler: install
	@scripts/test-deps --pooler
	VIGIE_TEST_POOLER=pgbouncer $(BIN)/python -m pytest -n 2 -m "not slow"

## Fuzz the API from its OpenAPI document with many examples per operation
## (bench/fuzz.py; EXAMPLES=2000 for more). `make test` runs a few of each.
.PHONY: fuzz
fuzz: install
	$(BIN)/python bench/fuzz.py --examples $(or $(EXAMPLES),500)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	-$(BIN)/vigie db stop
	rm -rf $(VENV) .vigie .pytest_cache .hypothesis tests/js/node_modules
