# Atlas: `make run` serves the app with demo data on http://localhost:3000; `make test` runs every test.
# Both set up everything they need first (virtualenv, bun, Chromium for the browser tests, migrations).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
TOOLS := $(CURDIR)/.tools
PORT ?= 3000
CHROMIUM ?= /usr/bin/chromium
NGINX ?= /usr/sbin/nginx
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test

export PATH := $(TOOLS)/node_modules/.bin:$(BIN):$(PATH)
export REFLEX_USE_SYSTEM_BUN := 1
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false
export REFLEX_SHOW_BUILT_WITH_REFLEX := false
export NPM_CONFIG_REGISTRY := https://registry.npmjs.org/
export PYTHONUNBUFFERED := 1

.PHONY: help setup run test test-unit test-pg test-e2e bench bench-pretix migrate seed build browser nginx clean \
	i18n-extract i18n-update i18n-compile

help:
	@echo "make run    set up, migrate, load demo data and serve on http://localhost:$(PORT)"
	@echo "make test   set up and run every test (unit on SQLite, on PostgreSQL when DATABASE_URL is set, e2e)"
	@echo "make bench  run the benchmarks in tests/perf"
	@echo "make bench-pretix  install pretix in its own virtualenv and run the booking rush against it (README)"

# --- setup -------------------------------------------------------------------------------------------

$(VENV)/.installed: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

# bun >= 1.4.4 for Reflex's frontend build: use one on PATH if it is new enough, else install it from npm.
$(TOOLS)/.bun-ok:
	@set -e; v=$$(bun --version 2>/dev/null || echo 0); \
	if [ "$$(printf '%s\n' 1.4.4 "$$v" | sort -V | head -1)" = "1.4.4" ]; then \
	  echo "using bun $$v"; \
	else \
	  echo "installing bun 1.4.4 from the npm registry"; \
	  npm install --silent --no-audit --no-fund --prefix $(TOOLS) bun@1.4.4; \
	  $(TOOLS)/node_modules/.bin/bun --version; \
	fi
	@mkdir -p $(TOOLS) && touch $@

# --- translations (Babel / gettext): English in the code, Welsh in atlas_app/locale/cy ----------------------
LOCALE := atlas_app/locale
POT := $(LOCALE)/messages.pot
MO_FILES := $(patsubst %.po,%.mo,$(wildcard $(LOCALE)/*/LC_MESSAGES/messages.po))

# Collect every _("...") and N_("...") of the code into the template.
i18n-extract: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _ -k N_ --no-location --sort-output --omit-header -o $(POT) .

# Merge the template into each language's catalogue (new entries arrive empty, for a translator).
i18n-update: i18n-extract
	$(BIN)/pybabel update -i $(POT) -d $(LOCALE) -D messages --no-fuzzy-matching --ignore-obsolete

# Build the compiled catalogues the app reads (not committed; `make setup` runs this).
i18n-compile: $(VENV)/.installed
	$(BIN)/pybabel compile -d $(LOCALE) -D messages --statistics

$(LOCALE)/%/LC_MESSAGES/messages.mo: $(LOCALE)/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile -i $< -o $@ -l $*

setup: $(VENV)/.installed $(TOOLS)/.bun-ok $(MO_FILES)

# Debian's Chromium for the Playwright tests (Playwright never downloads a browser here).
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "installing Chromium from Debian"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; \
	fi

# Debian's nginx, the TLS-terminating reverse proxy the HTTPS browser test puts in front of the server.
nginx:
	@if [ ! -x $(NGINX) ]; then \
	  echo "installing nginx from Debian"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends nginx-light >/dev/null \
	    || DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends nginx >/dev/null; \
	fi

migrate: setup
	$(BIN)/python -m atlas_app migrate

seed: migrate
	$(BIN)/python -m atlas_app seed-demo --if-empty

# --- run ---------------------------------------------------------------------------------------------

# `make run` serves the demo data, so card payments go through the labelled demo provider.
# A production start needs SECRET_KEY: on this machine, the key generated once and kept in ATLAS_DATA_DIR.
run: seed
	SECRET_KEY="$$($(BIN)/python -c 'from atlas_app.settings import get_settings; print(get_settings().secret_key)')" \
	ATLAS_DEMO_PAYMENTS=1 $(BIN)/reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT) --backend-host 0.0.0.0

# --- tests -------------------------------------------------------------------------------------------

# With DATABASE_URL set, the SQLite and PostgreSQL unit runs go side by side (each has its own database and data
# directory; much of their time is spent waiting on the databases), then the browser suite.
test: setup browser nginx
	@if [ -n "$${DATABASE_URL:-}" ]; then \
	  mkdir -p test-results; \
	  ( $(MAKE) --no-print-directory test-pg > test-results/unit-postgresql.log 2>&1; echo $$? > test-results/unit-postgresql.rc ) & \
	  set +e; $(MAKE) --no-print-directory test-unit; sqlite=$$?; wait; set -e; \
	  echo "--- unit tests on PostgreSQL ---"; cat test-results/unit-postgresql.log; \
	  pg=$$(cat test-results/unit-postgresql.rc); \
	  if [ "$$sqlite" != 0 ] || [ "$$pg" != 0 ]; then echo "unit tests failed (SQLite: $$sqlite, PostgreSQL: $$pg)"; exit 1; fi; \
	else \
	  $(MAKE) --no-print-directory test-unit; \
	  echo "DATABASE_URL is not set: PostgreSQL run skipped (CI sets it)"; \
	fi
	$(MAKE) --no-print-directory test-e2e

test-unit: setup
	env -u DATABASE_URL -u REDIS_URL $(BIN)/python -m pytest tests --ignore=tests/perf -q -p no:playwright

test-pg: setup
	env -u REDIS_URL DATABASE_URL=$${DATABASE_URL:-$(PG_TEST_URL)} $(BIN)/python -m pytest tests --ignore=tests/perf -q -p no:playwright

# The browser suite starts its own production server (fresh data directory; PostgreSQL database atlas_e2e when
# DATABASE_URL is set; Redis and several workers when REDIS_URL is set). Failure reports, screenshots and the
# server log are kept in e2e-artifacts/.
test-e2e: setup browser nginx
	rm -rf e2e-artifacts
	$(BIN)/python -m pytest e2e -q -p no:cacheprovider --screenshot only-on-failure --output e2e-artifacts/playwright

bench: setup
	$(BIN)/python -m pytest tests/perf -q -s -p no:playwright

# pretix's side of the booking-rush comparison (tests/perf/pretix/run.sh): pretix from PyPI in its own virtualenv
# (PRETIX_HOME, default /tmp/atlas-pretix), its own database and Redis database, the load from tests/perf/load.py.
# Not part of `make test` or `make bench`: it installs another product.
bench-pretix: setup
	ATLAS_PYTHON=$(BIN)/python bash tests/perf/pretix/run.sh

clean:
	rm -rf .web .states test-results e2e-artifacts
