# SSF Receiver. `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_TRANSMITTER_PORT ?= 8900

.DEFAULT_GOAL := help
.PHONY: help run demo test lint fmt worker beat bench bench-pipeline bench-log bench-faults bench-scim clean

help: ## List the targets
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime ## Build the venv, migrate, make the first admin, serve on http://127.0.0.1:8000 (SQLite, Celery eager)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py create_admin --first
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

demo: $(VENV)/.runtime ## Like make run, plus a local SSF transmitter (DEMO_TRANSMITTER_PORT) that adds a stream and sends sample signals
	$(BIN)/python manage.py migrate --noinput
	SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} $(BIN)/python manage.py demo --transmitter-port $(DEMO_TRANSMITTER_PORT)

# The real OpenID provider the SSO tests start (npm's oidc-provider, pinned by its lock file).
tests/oidc/node_modules/.package-lock.json: tests/oidc/package-lock.json
	npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error

test: $(VENV)/.dev tests/oidc/node_modules/.package-lock.json ## The whole suite against real PostgreSQL and Redis (started by the harness) and headless Chromium
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(VENV)/.dev ## ruff check and format check, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(VENV)/.dev ## Format and autofix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

worker: $(VENV)/.runtime ## A Celery worker (production settings: DJANGO_SECRET_KEY, DATABASE_URL, REDIS_URL; see README)
	$(BIN)/celery -A config worker --loglevel=INFO --pool=solo

beat: $(VENV)/.runtime ## Celery beat: the pending-SET sweeper and the rejected-SET pruner
	$(BIN)/celery -A config beat --loglevel=INFO

periodic: $(VENV)/.runtime ## Beside make run: the beat jobs (polling, upkeep, sweeps) run inline, eagerly
	$(BIN)/python manage.py run_periodic_tasks

bench: $(VENV)/.dev ## Ingest benchmark: our endpoint against a bare DRF view (PostgreSQL, Redis, gunicorn)
	$(BIN)/python bench/ingest.py

bench-pipeline: $(VENV)/.dev ## Pipeline benchmark: SETs/s processed at fixed push rates, receipt-to-risk p50/p99
	$(BIN)/python bench/pipeline.py

bench-log: $(VENV)/.dev ## System Log pages and q searches over 10^6 records, index cost (BENCH_LOG_ARGS="--records 10000000 --compare")
	$(BIN)/python bench/system_log.py $(BENCH_LOG_ARGS)

bench-scim: $(VENV)/.dev ## SCIM provisioning: 10,000 users by POST /scim/v2/Users over 8 connections, users/s and p99
	$(BIN)/python bench/scim.py

bench-faults: $(VENV)/.dev ## Fault injection (kill -9, Redis down, PostgreSQL restarts) under load: recovery times, nothing lost
	$(BIN)/python bench/faults.py

clean: ## Remove the venv, the SQLite database and caches
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache tests/oidc/node_modules
