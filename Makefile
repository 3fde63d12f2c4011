# Stratus: `make run` serves the CRM on the embedded default; `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv: the one on PATH, else a private copy bootstrapped with the machine's Python.
UV ?= $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PYTHON ?= python3
RUN := $(UV) run --frozen
HOST ?= 127.0.0.1
PORT ?= 8000

# The suite runs on real services; these defaults are the local servers.
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/stratus)
TEST_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/9)
PYTEST_ARGS ?=

.PHONY: help install run test lint format up down build logs shell migrate createsuperuser

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

install: $(UV) ## install dependencies from the lock file
	$(UV) sync --frozen --quiet

run: install ## migrate, load the demo, serve at http://127.0.0.1:8000 (embedded default)
	$(RUN) python manage.py migrate --noinput
	$(RUN) python manage.py load_demo
	@echo "Stratus is starting at http://$(HOST):$(PORT)/  (admin: http://$(HOST):$(PORT)/admin/)"
	HOST=$(HOST) PORT=$(PORT) $(RUN) honcho -f Procfile.dev start

test: install ## the whole suite on real PostgreSQL and Redis, plus the embedded-default smoke run
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(RUN) pytest $(PYTEST_ARGS)

lint: install ## ruff (lint and format) and mypy
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy .

format: install ## apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

migrate: install ## apply migrations (under the cluster-wide lock)
	$(RUN) python manage.py migrate --noinput

createsuperuser: install ## create an admin login
	$(RUN) python manage.py createsuperuser

shell: install ## a Django shell
	$(RUN) python manage.py shell

up down build logs:
	@echo "make $@: the Compose stacks are not written yet (see the deployment issue); nothing was run." >&2
	@exit 1
