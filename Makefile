# The two commands: `make run` (embedded default) and `make test` (whole suite).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every dependency pinned with its hashes (`make lock` writes them from pyproject.toml): the
# images install LOCK, developers and CI DEV_LOCK (the same versions, plus the dev extra).
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock

.PHONY: run test lint format unit integration bench bench-commands contract contract-dist chaos clean lock audit-deps

# Hash-checked dependencies from the lock (nothing is resolved here), then the project itself,
# editable, without dependencies and with the locked setuptools as its build backend.
$(STAMP): pyproject.toml $(DEV_LOCK)
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/pip install -q --require-hashes -r $(DEV_LOCK)
	@$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

## run: all three services in one process, SQLite under var/, demo data, http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/python -m services.embedded

## test: lint, types, then every test (integration tests need Kafka and PostgreSQL: see .ci/run)
test: $(STAMP) lint
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared services tests

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -m integration

## contract: regenerate docs/contract/ (JSON Schemas, AsyncAPI, each service's OpenAPI) from the
## code; tests keep them in sync. Never touches docs/contract/v1-baseline/ (frozen).
contract: $(STAMP)
	$(BIN)/python -m shared.publishing.export docs/contract
	$(BIN)/python -m services.openapi docs/contract
	$(BIN)/python -m shared.contract.compat

## contract-dist: the contract alone as a wheel (dist/secondment_contract-1.0.0-py3-none-any.whl):
## pydantic models of the envelope, events, commands and replies, without the platform
contract-dist: $(STAMP)
	$(BIN)/python -m shared.publishing.contract_dist dist

bench: $(STAMP)
	$(BIN)/python -m tests.bench

## bench-commands: the command side (HTTP, Kafka) against a hand-written baseline on the same
## machine in the same run (docs/performance.md, "Commands"); BENCH_ARGS="--json runs.jsonl"
BENCH_ARGS ?=
bench-commands: $(STAMP)
	$(BIN)/python -m tests.bench.commands $(BENCH_ARGS)

## chaos: one fault-injection run (docs/reliability.md): the three services as processes, two
## replicas each, on a 3-broker Kafka and a PostgreSQL of their own (own ports: the test
## broker is left alone); kills, broker kills, PostgreSQL restarts, rebalances, poison events.
## Ends with `faults: ...; lost 0; duplicated 0; converged in S s`; replay with CHAOS_ARGS="--seed N".
CHAOS_ARGS ?=
chaos: $(STAMP)
	$(BIN)/python -m tests.faults $(CHAOS_ARGS)

## lock: resolve pyproject.toml's dependencies (and its build backend) again into the two hashed
## lock files, keeping every pin that still fits; needs the package index. Commit the result.
## tests/unit/test_supply_chain.py fails while a declared dependency is missing from them.
## Upgrading: LOCK_ARGS=--upgrade (all) or LOCK_ARGS="--upgrade-package NAME".
LOCK_ARGS ?=
BUILD_REQUIRES = $(BIN)/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')"
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(LOCK_ARGS)
lock: $(STAMP)
	$(BUILD_REQUIRES) | $(UV_COMPILE) pyproject.toml - --extra dev -o $(DEV_LOCK)
	$(BUILD_REQUIRES) | $(UV_COMPILE) pyproject.toml - -c $(DEV_LOCK) -o $(LOCK)

## audit-deps: known vulnerabilities of every locked dependency (pip-audit on the lock; needs the
## package index's advisory data: where it cannot be reached it says SKIPPED and exits 0;
## AUDIT_DEPS_REQUIRED=1 makes that a failure). Run by .ci/run.
audit-deps: $(STAMP)
	$(BIN)/python -m tests.audit_deps $(DEV_LOCK)

clean:
	rm -rf var var-keys
