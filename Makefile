# cityops — `make help` lists the targets. Only Python 3.11 and the package registries are
# assumed; uv, PostgreSQL, Mosquitto, Node's packages and Chromium are installed by these targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3
# uv trusts the system's certificate store where there is one (as pip and npm do), so it also
# works behind a TLS-inspecting proxy whose authority the machine trusts.
ifneq ($(wildcard /etc/ssl/certs/ca-certificates.crt),)
export UV_SYSTEM_CERTS := 1
endif
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo var/tools/bin/uv)
RUN := $(UV) run --frozen
PYTEST_ARGS ?=
DEMO_MQTT_PORT ?= 21884

.PHONY: help setup frontend e2e-deps demo serve test test-sqlite test-pg lint format pg-start pg-stop mqtt-start mqtt-stop bench bench-quick clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

var/tools/bin/uv:
	@mkdir -p var
	python3 -m venv var/tools || { apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv var/tools; }
	var/tools/bin/pip install -q uv==$(UV_VERSION)

.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen
	@touch $@

setup: .venv/.synced ## install the locked Python dependencies into .venv

FRONTEND_SOURCES := $(shell find frontend/src -type f 2>/dev/null) frontend/index.html \
	frontend/vite.config.ts frontend/tsconfig.json frontend/package.json
FRONTEND_BUILT := src/cityops/web/static/app/index.html
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(FRONTEND_BUILT): frontend/package-lock.json $(FRONTEND_SOURCES)
	cd frontend && npm ci --no-audit --no-fund && npm run build
	@touch $@

frontend: $(FRONTEND_BUILT) ## build the web front end (Vite) into src/cityops/web/static/app

e2e-deps: ## install Debian's Chromium and CJK fonts for the browser tests (when missing)
	@test -x /usr/bin/chromium -a -e $(CJK_FONT) || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium fonts-noto-cjk; }

demo: setup frontend ## set up and run the demo city on http://127.0.0.1:8000 (CITYOPS_PORT to change)
	@set -a; \
	if CITYOPS_MQTT_PORT=$(DEMO_MQTT_PORT) scripts/mqtt.sh start; then \
	  eval "$$(CITYOPS_MQTT_PORT=$(DEMO_MQTT_PORT) scripts/mqtt.sh env)"; \
	else echo "no MQTT broker: the demo's sensors report over HTTP instead" >&2; fi; \
	set +a; CITYOPS_PROFILE=demo $(RUN) cityops demo

serve: setup frontend ## run the platform (production start: set CITYOPS_SECRET_KEY and CITYOPS_DATABASE_URL)
	$(RUN) cityops serve

lint: setup ## ruff, formatting, mypy --strict, import contracts
	$(RUN) ruff check src tests benchmarks
	$(RUN) ruff format --check src tests benchmarks
	$(RUN) mypy
	$(RUN) lint-imports

format: setup ## apply ruff fixes and formatting
	$(RUN) ruff check --fix src tests benchmarks
	$(RUN) ruff format src tests benchmarks

test-sqlite: setup frontend e2e-deps mqtt-start ## the test suite on SQLite (and the MQTT broker)
	$(RUN) pytest $(PYTEST_ARGS)

pg-start: ## start the throwaway PostgreSQL server (installs it when missing)
	scripts/pg.sh start

pg-stop: ## stop it
	scripts/pg.sh stop

mqtt-start: ## start the private Mosquitto broker on 127.0.0.1:21883 (installs it when missing)
	scripts/mqtt.sh start

mqtt-stop: ## stop it
	scripts/mqtt.sh stop

test-pg: setup frontend e2e-deps pg-start mqtt-start ## the test suite on a real PostgreSQL server
	$(RUN) pytest --dburl "$$(scripts/pg.sh url)" $(PYTEST_ARGS)

test: lint test-sqlite test-pg ## everything: lint, then the suite on SQLite and on PostgreSQL

bench: setup frontend e2e-deps mqtt-start ## benchmarks (full length; they start their own durable PostgreSQL); figures go to docs/benchmarks.md by hand
	$(RUN) python benchmarks/case_api.py
	$(RUN) python benchmarks/command_screen.py
	$(RUN) python benchmarks/ingest.py

bench-quick: setup frontend e2e-deps mqtt-start ## benchmarks, short run
	$(RUN) python benchmarks/case_api.py --quick
	$(RUN) python benchmarks/command_screen.py --quick
	$(RUN) python benchmarks/ingest.py --quick

clean: ## remove the virtualenv, caches and local data (var/)
	-scripts/pg.sh stop
	-scripts/mqtt.sh stop
	rm -rf .venv var .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
