# podflow: `make run` starts the product, `make test` runs the whole suite.
# Both install what is missing first (a virtualenv from requirements.txt; redis-server,
# and for the tests Debian's chromium and postgresql, through apt).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT    := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get

.PHONY: run test bench bench-postgres deps system-redis system-chromium system-postgres clean

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

deps: $(VENV)/.installed system-redis

system-redis:
	@command -v redis-server >/dev/null || { $(APT) update -qq && $(APT) install -y -qq redis-server; }

system-chromium:
	@command -v chromium >/dev/null || { $(APT) update -qq && $(APT) install -y -qq chromium; }

# The server programs (initdb, postgres) live in /usr/lib/postgresql/<version>/bin on Debian.
system-postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { $(APT) update -qq && $(APT) install -y -qq postgresql; }

run: deps
	PORT=$(PORT) $(PY) manage.py runstack --port $(PORT)

# The whole suite on SQLite, then the integration tests again on a throwaway PostgreSQL
# server of their own (tests/conftest.py: PODFLOW_TEST_POSTGRES=1) — all but the labs'
# end-to-end verification, which checks the labs' content and runs once.
test: deps system-chromium system-postgres
	$(PY) -m pytest
	PODFLOW_TEST_POSTGRES=1 $(PY) -m pytest -m integration tests/integration -k "not test_the_lab_verifies"

bench: deps
	$(PY) manage.py bench

bench-postgres: deps system-postgres
	$(PY) manage.py bench --postgres

clean:
	rm -rf var .pytest_cache
