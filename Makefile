# The two commands of README: `make demo` and `make test`. Both install what is missing first.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup test test-fast lint demo demo-down crds

setup:
	@scripts/setup.sh

## Everything: lint, types, unit and integration tests against a real local control plane.
test: setup lint
	$(BIN)/pytest

## Unit tests only (no cluster, no servers): seconds.
test-fast:
	$(BIN)/pytest -m unit

lint:
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m headwater.api.crdgen --check

## Regenerate config/crd/ from the API definitions.
crds:
	$(BIN)/python -m headwater.api.crdgen

demo: setup
	$(BIN)/headwater dev demo

demo-down:
	$(BIN)/headwater dev down
