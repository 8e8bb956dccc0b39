# Two commands set everything up on a fresh machine with Python >= 3.11:
#   make demo   the main job on the embedded default (1M synthetic events -> ingest -> flush -> analytics)
#   make test   the test suite (needs Redis on 127.0.0.1:6379; see README)
# For development: make check (lint, types, import contracts and the tests that are not slow).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test check lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The default data directory, so `.venv/bin/tally dev` afterwards shows the demo's data.
demo: $(STAMP)
	$(BIN)/tally demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Everything but chaos, browser and load tests (-m "not slow"): the loop while you work.
check: lint
	$(BIN)/pytest -m "not slow"

test: $(STAMP) lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/analytics.py
	$(BIN)/python bench/jobs.py
	$(BIN)/python bench/redis_sizing.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/backup.py

clean:
	rm -rf $(VENV) .tally .tally-demo build .pytest_cache .mypy_cache .ruff_cache
