# riskplan: `make demo` and `make test` are all a new user needs (Python >= 3.11 and make).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
OUT ?= demo_output
PYTEST_ARGS ?=

.PHONY: demo test lint bench clean help

help:
	@echo "make demo   - set up $(VENV) and run the whole demo on the synthetic demo city"
	@echo "make test   - set up $(VENV) with the test extras and run every test"
	@echo "make lint   - ruff and mypy"
	@echo "make bench  - every benchmark, each against its named peers (takes a while)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "riskplan needs Python >= 3.11; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamps record which extras are installed; they are redone when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed-test $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/riskplan demo --out $(OUT)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n 2 --durations=10 $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy gis risk_models planning maps service riskplan

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_network.py
	$(BIN)/python benchmarks/bench_coverage.py
	$(BIN)/python benchmarks/bench_cch.py
	$(BIN)/python benchmarks/bench_risk.py
	$(BIN)/python benchmarks/bench_location.py --quick
	$(BIN)/python benchmarks/bench_maps.py
	$(BIN)/python benchmarks/bench_api.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache .mypy_cache *.egg-info
