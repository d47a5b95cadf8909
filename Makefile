# The two commands: `make run` (embedded default) and `make test` (whole suite).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format unit integration bench bench-commands contract chaos clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip
	@$(BIN)/pip install -q -e '.[dev]'
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
	$(BIN)/python -m shared.contract.export docs/contract
	$(BIN)/python -m services.openapi docs/contract
	$(BIN)/python -m shared.contract.compat

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

clean:
	rm -rf var
