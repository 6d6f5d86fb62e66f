# Asclepius: the two commands are `make run` and `make test` (see README.md).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup worker lint format bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

## make run: install, migrate, import the demo data, create demo accounts, serve on 127.0.0.1:8000
run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py demo_setup
	$(VENV)/bin/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --lifespan off

## make test: install, run the whole suite (SQLite, or PostgreSQL when DATABASE_URL is set)
test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

## make worker: a Celery worker with the beat scheduler embedded (needs a broker: REDIS_URL)
BEAT_SCHEDULE ?= $(or $(TMPDIR),/tmp)/asclepius-celerybeat-$(shell id -u)
WORKER_ARGS ?= --loglevel=INFO
worker: setup
	@$(PY) -c 'import os, django; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local"); \
	django.setup(); from django.conf import settings as s; \
	raise SystemExit(0 if not s.CELERY_BROKER_URL.startswith("memory") else 1)' \
	|| { echo "make worker: no broker configured. Set REDIS_URL (e.g. REDIS_URL=redis://127.0.0.1:6379/0);" \
	     "without it tasks run eagerly inside the web process and no worker is needed." >&2; exit 1; }
	$(VENV)/bin/celery -A config worker --beat --schedule=$(BEAT_SCHEDULE) $(WORKER_ARGS)

## make bench: the benchmark scripts against DATABASE_URL (PostgreSQL); figures go to docs/performance.md
BENCH_PATIENTS ?= 100000
bench: setup
	@test -n "$(DATABASE_URL)" || { echo "make bench: set DATABASE_URL to a PostgreSQL database" >&2; exit 1; }
	$(PY) bench/import_rate.py
	$(PY) bench/patient_search.py --n $(BENCH_PATIENTS)
	$(PY) bench/booking.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) staticfiles db.sqlite3
