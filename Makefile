# Every developer command in one place. Only python3 is needed: the first target makes .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TENANTRY := $(BIN)/tenantry

.PHONY: up install browser pgbouncer wrk serve test test-portability lint format types audit ci stop clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

up: install  ## start the embedded PostgreSQL, migrate, seed demo data, serve on :8000
	$(TENANTRY) db start
	$(TENANTRY) db upgrade
	$(TENANTRY) db seed-demo
	@echo
	@echo "Tenantry API on http://127.0.0.1:8000 (docs at /docs). In another shell, try:"
	@echo "  $(TENANTRY) sql --tenant acme --app thinktank \"SELECT email FROM app_users\""
	@echo "  $(TENANTRY) audit-db"
	@echo
	$(TENANTRY) serve

stop:
	$(TENANTRY) db stop

# The admin UI tests drive Debian's chromium (Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "The admin UI tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

# PgBouncer (Debian's package) for the tests that run Tenantry behind transaction pooling.
pgbouncer:
	@test -x /usr/sbin/pgbouncer || command -v pgbouncer >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq pgbouncer >/dev/null; \
	  else echo "The PgBouncer tests need Debian's pgbouncer: sudo apt-get install pgbouncer" >&2; exit 1; fi; }

# wrk (Debian's package), the load generator of the HTTP benchmarks.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null; \
	  else echo "The HTTP benchmarks need wrk: sudo apt-get install wrk" >&2; exit 1; fi; }

# The whole suite in parallel, then the isolation suites and the API flows again with the
# runtime and platform roles behind a real PgBouncer in transaction mode.
test: install browser pgbouncer  ## the whole suite
	$(BIN)/pytest -n auto
	TENANTRY_TEST_PGBOUNCER=1 $(BIN)/pytest -n auto -q $(PGBOUNCER_SUITES)

PGBOUNCER_SUITES := tests/isolation tests/http tests/identity

test-portability: install  ## isolation suite against another server (TENANTRY_TEST_DATABASE_URL)
	$(BIN)/pytest -n 2 tests/isolation

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

types: install
	$(BIN)/mypy

audit: install
	$(TENANTRY) audit-db

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) .tenantry
