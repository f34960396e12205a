# The two commands: `make dev` (set up and run with demo data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app community
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: dev install run test lint format check-migrations clean

dev: install instance/config.py
	$(FLASK) db upgrade
	$(FLASK) seed-demo
	@echo "Serving on http://$(HOST):$(PORT)/ with a worker beside it (Ctrl-C stops both)"
	$(FLASK) jobs run & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT) --reload

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# A local secret for development, written once and never committed (instance/ is ignored).
instance/config.py:
	mkdir -p instance
	$(BIN)/python -c "import secrets; print(f'SECRET_KEY = {secrets.token_hex(32)!r}')" > $@
	echo "REQUIRE_MODERATOR_2FA = False  # the demo moderators have no authenticator app" >> $@
	echo "MAIL_LOG_BODIES = True  # emails (with their links) are printed, not sent" >> $@

# Browser tests drive Debian's Chromium; Playwright's own browser download is never used.
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

test: install $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Fails when the models and the migrations disagree (run against an upgraded database).
check-migrations: install
	$(FLASK) db upgrade
	$(FLASK) db check

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
