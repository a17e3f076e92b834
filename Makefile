# The two commands a newcomer needs: `make run` and `make test`. Everything installs into .venv, from the lock
# in requirements/, every version pinned with its hashes: runtime.txt is what the services need (all `make
# run` installs), dev.txt is that and the test and lint tools (`make test` adds them), build.txt the build
# backend. The AsyncAPI page's script comes from the npm registry, pinned the same way
# (requirements/asyncapi-react.sh says why).
#
# To change a dependency: edit pyproject.toml, then `make lock` and commit requirements/. `make lock` only
# resolves what changed; `make lock UPGRADE=1` takes the newest versions pyproject.toml allows. It runs uv,
# which it installs into .venv from PyPI, at the version below.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed
ASYNCAPI_REACT := shared/asyncapi-react/VERSION

.PHONY: install install-dev lock run migrate test test-unit test-integration test-e2e test-browser test-faults \
	bench lint format clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): requirements/build.txt requirements/runtime.txt pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements/build.txt -r requirements/runtime.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e clients/python
	touch $@

$(DEV): $(RUNTIME) requirements/dev.txt
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.txt
	touch $@

$(ASYNCAPI_REACT): requirements/asyncapi-react.sh
	sh requirements/asyncapi-react.sh shared/asyncapi-react

## What `make run` needs, and no more.
install: $(RUNTIME) $(ASYNCAPI_REACT)

## That and the test, lint and type-checking tools.
install-dev: $(DEV) $(ASYNCAPI_REACT)

UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)
BUILD_REQUIRES = import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))

## Resolve pyproject.toml's dependencies again into requirements/ (see the top of this file).
lock: | $(BIN)/python
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(UV_COMPILE) pyproject.toml -o requirements/runtime.txt
	$(UV_COMPILE) pyproject.toml --extra dev -c requirements/runtime.txt -o requirements/dev.txt
	$(BIN)/python -c '$(BUILD_REQUIRES)' | $(UV_COMPILE) - -o requirements/build.txt

migrate: install
	$(BIN)/kipp migrate --create-database

# KIPP 2023 closed on 2023-05-06; the demo and the README's walk-through submit to it, so `make run` reopens
# it with the round file in examples/rounds/. `make run KIPP_ROUNDS_DIR=` runs the shipped rounds alone.
KIPP_ROUNDS_DIR ?= examples/rounds

## Start both services (intake :8001, review :8002) against the local PostgreSQL and RabbitMQ. Ctrl-C stops.
run: migrate
	KIPP_ROUNDS_DIR=$(KIPP_ROUNDS_DIR) $(BIN)/kipp run

## The whole suite: lint and types, then unit, integration and end-to-end tests on real services.
test: install-dev lint
	$(BIN)/pytest -q

test-unit: install-dev
	$(BIN)/pytest -q tests/unit

test-integration: install-dev
	$(BIN)/pytest -q tests/integration

test-e2e: install-dev
	$(BIN)/pytest -q tests/e2e

## The console in a real browser (Debian's Chromium: `apt-get install chromium`, or KIPP_CHROMIUM=path).
test-browser: install-dev
	$(BIN)/pytest -q tests/browser

## The same, saving the README's screenshots of the console into docs/screenshots/.
screenshots: install-dev
	KIPP_SCREENSHOTS=1 $(BIN)/pytest -q tests/browser

## The fault drills alone (they also run in `make test`); each prints what it injected and counted.
test-faults: install-dev
	$(BIN)/pytest -q -s -p no:logging tests/faults

## The benchmark (not a test): the product against raw PostgreSQL and RabbitMQ, and against hand-written
## references doing the same work, on this machine. `python -m benchmarks <section>` runs one section.
bench: install-dev
	bash -o pipefail -c "$(BIN)/python -m benchmarks 2>&1 | grep -v -e '^INFO:' -e 'Uvicorn running'"

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info shared/asyncapi-react
