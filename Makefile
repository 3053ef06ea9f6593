# Loyalty Wallet — every target documents itself: `make help`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
WEB_CONCURRENCY ?= 2
GUNICORN_THREADS ?= 1
STAMP := $(VENV)/.installed

export FLASK_APP := app

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

AXE := node_modules/axe-core/axe.min.js
$(AXE): package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent; \
	else echo "npm not found: the axe-core browser checks will fail (apt-get install npm)"; fi

install: $(STAMP) $(AXE) ## Create .venv and install the project with its dev tools (and axe-core for the browser tests)

run: $(STAMP) ## Migrate, seed the demo shop if empty, serve on 127.0.0.1:PORT (8000) + the worker
	@$(VENV)/bin/flask db upgrade
	@$(VENV)/bin/flask seed-demo --history
	@echo "Serving on http://127.0.0.1:$(PORT)  (API docs: http://127.0.0.1:$(PORT)/api/docs)"
	@$(VENV)/bin/flask worker & worker=$$!; \
		trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; \
		$(VENV)/bin/gunicorn --bind 127.0.0.1:$(PORT) --workers $(WEB_CONCURRENCY) \
		--threads $(GUNICORN_THREADS) --access-logfile - "app:create_app()"

test: $(STAMP) ## Run every test suite (PostgreSQL/Redis/Chromium suites skip when absent, fail in CI)
	@$(PY) -m pytest

lint: $(STAMP) ## Run ruff, mypy and the import contracts (import-linter)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy
	@$(VENV)/bin/lint-imports --no-cache

format: $(STAMP) ## Format the code with ruff
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

bench: $(STAMP) ## Load-test the till as in production (wrk; BENCH_DATABASE_URL=postgresql://... for PostgreSQL)
	@$(PY) bench/run.py

bench-codes: $(STAMP) ## Time issuing 100,000 coupon codes (pytest-benchmark)
	@$(PY) -m pytest tests/bench -o addopts="" -q

bench-lifecycle: $(STAMP) ## Time import + lifecycle refresh at 100k members / 1M purchases (BENCH_DATABASE_URL)
	@test -n "$$BENCH_DATABASE_URL" || (echo "set BENCH_DATABASE_URL (a PostgreSQL database it may wipe)"; exit 2)
	@$(PY) -m pytest tests/bench/test_bench_lifecycle.py -o addopts="" -q -p no:cacheprovider

migration: $(STAMP) ## Generate a migration from model changes: make migration m="what changed"
	@$(VENV)/bin/flask db migrate -m "$(m)"

clean: ## Remove the venv, caches and the local instance folder (secrets and SQLite data!)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache instance

.PHONY: help install run test lint format bench bench-codes bench-lifecycle migration clean
