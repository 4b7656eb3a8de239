# Quorum: `make run` sets up and starts everything; `make test` is what CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/quorum
DEV_ENV := SECRET_KEY_FILE=.secret_key DEBUG=True
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install prepare run dev test lint check-deploy bench clean

$(STAMP): requirements.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

.secret_key:
	$(PYTHON) -c "import secrets; print(secrets.token_urlsafe(64))" > .secret_key
	chmod 600 .secret_key

prepare: $(STAMP) .secret_key
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEV_ENV) $(BIN)/python manage.py createcachetable
	$(DEV_ENV) $(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(DEV_ENV) $(BIN)/python manage.py load_demo

# gunicorn (gunicorn.conf.py), the task workers and the scheduler; `make dev`: Django's reloading server instead.
run: prepare
	$(DEV_ENV) $(BIN)/python manage.py serve

dev: prepare
	$(DEV_ENV) $(BIN)/python manage.py serve --dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

check-deploy: $(STAMP)
	SECRET_KEY=$$($(PYTHON) -c "import secrets; print(secrets.token_urlsafe(64))") DEBUG=False \
		$(BIN)/python manage.py check --deploy --fail-level WARNING
	SECRET_KEY=x $(BIN)/python manage.py check 2>&1 | grep -q "at least 50 characters"

# Debian's Chromium for the browser tests; Playwright drives it and never downloads a browser.
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

test: lint check-deploy $(CHROMIUM)
	$(BIN)/pytest
	DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -m db

bench: $(STAMP)
	$(BIN)/python bench/assignment.py
	$(BIN)/python bench/workspace.py --db sqlite
	$(BIN)/python bench/workspace.py --db postgres

clean:
	rm -rf $(VENV) db.sqlite3* .test-db* .test-media
