# The two commands a newcomer needs: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run migrate test test-unit test-integration test-e2e test-faults bench lint format clean

$(STAMP): pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet -e clients/python
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/kipp migrate --create-database

# KIPP 2023 closed on 2023-05-06; the demo and the README's walk-through submit to it, so `make run` reopens
# it with the round file in examples/rounds/. `make run KIPP_ROUNDS_DIR=` runs the shipped rounds alone.
KIPP_ROUNDS_DIR ?= examples/rounds

## Start both services (intake :8001, review :8002) against the local PostgreSQL and RabbitMQ. Ctrl-C stops.
run: migrate
	KIPP_ROUNDS_DIR=$(KIPP_ROUNDS_DIR) $(BIN)/kipp run

## The whole suite: lint and types, then unit, integration and end-to-end tests on real services.
test: install lint
	$(BIN)/pytest -q

test-unit: install
	$(BIN)/pytest -q tests/unit

test-integration: install
	$(BIN)/pytest -q tests/integration

test-e2e: install
	$(BIN)/pytest -q tests/e2e

## The fault drills alone (they also run in `make test`); each prints what it injected and counted.
test-faults: install
	$(BIN)/pytest -q -s -p no:logging tests/faults

## The benchmark (not a test): the product against raw PostgreSQL and RabbitMQ on this machine.
bench: install
	$(BIN)/python -m benchmarks 2>&1 | grep -v -e '^INFO:' -e 'Uvicorn running'

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
