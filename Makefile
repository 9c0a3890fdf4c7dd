# podflow: `make run` starts the product, `make test` runs the whole suite.
# Both install what is missing first (a virtualenv from requirements.txt; redis-server,
# and for the tests Debian's chromium, through apt).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT    := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get

.PHONY: run test bench deps system-redis system-chromium clean

$(VENV)/.installed: requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

deps: $(VENV)/.installed system-redis

system-redis:
	@command -v redis-server >/dev/null || { $(APT) update -qq && $(APT) install -y -qq redis-server; }

system-chromium:
	@command -v chromium >/dev/null || { $(APT) update -qq && $(APT) install -y -qq chromium; }

run: deps
	PORT=$(PORT) $(PY) manage.py runstack --port $(PORT)

test: deps system-chromium
	$(PY) -m pytest

bench: deps
	$(PY) manage.py bench

clean:
	rm -rf var .pytest_cache
