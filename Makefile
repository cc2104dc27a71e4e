# Vigie: the two commands a newcomer runs are `make run` and `make test`.
# Each sets itself up on a fresh machine (Python 3.11+, Node.js 20).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-pooler lint format bench clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Vigie needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $@

install: $(STAMP)

## Run Vigie locally (embedded PostgreSQL, API, relay, dashboard on one URL); prints it.
run: install
	$(BIN)/vigie run

## Run the whole test suite (lint included).
test: install lint
	$(BIN)/python -m pytest -n 2

## The functions' tests once more, through PgBouncer in transaction mode (needs
## the pgbouncer package), as behind Supabase's transaction pooler.
test-pooler: install
	VIGIE_TEST_POOLER=pgbouncer $(BIN)/python -m pytest -n 2 -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	-$(BIN)/vigie db stop
	rm -rf $(VENV) .vigie .pytest_cache .hypothesis
