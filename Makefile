# Setia: the two commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
MANAGE := $(PY) manage.py
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format serve install messages makemessages db demo clean

# Create the virtualenv and install the pinned requirements (again only when they change).
$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	@echo "Installing requirements (log: var/pip.log)..."
	@mkdir -p var
	$(PY) -m pip install --quiet --upgrade pip > var/pip.log 2>&1
	$(PY) -m pip install --quiet -r requirements.txt >> var/pip.log 2>&1 || (tail -n 30 var/pip.log; exit 1)
	@touch $@

install: $(BIN)/.installed

# Development and tooling targets run with DEBUG (and so the development secret
# key) unless told otherwise; without DEBUG the app refuses to start with no
# DJANGO_SECRET_KEY (`serve` is production and needs one).
messages makemessages lint db demo: export DJANGO_DEBUG ?= 1

messages: install
	$(MANAGE) compilemessages --ignore=.venv -v 0

makemessages: install
	$(MANAGE) makemessages -l ms --ignore=.venv --ignore=var --ignore=tests --ignore=benchmarks --no-obsolete --add-location=file

db: install messages
	@mkdir -p var
	$(MANAGE) migrate --no-input -v 0

demo: db
	$(MANAGE) load_demo_data

# The embedded set-up: SQLite in var/, Celery eager, emails on the console.
run: export DJANGO_DEBUG ?= 1
run: demo
	$(MANAGE) collectstatic --no-input -v 0
	@echo ""
	@echo "Setia runs on http://$(HOST):$(PORT)/  (stop with Ctrl-C)"
	$(MANAGE) runserver $(HOST):$(PORT)

test: install messages
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MANAGE) makemigrations --check --dry-run -v 0

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Production-like: gunicorn + a Celery worker + beat, against DATABASE_URL and
# CELERY_BROKER_URL. Stops all three on Ctrl-C.
serve: install messages
	$(MANAGE) migrate --no-input -v 0
	@# migrate makes the cache table; this makes it for a cache switched to the database later.
	$(MANAGE) createcachetable
	$(MANAGE) collectstatic --no-input -v 0
	@test -n "$$CELERY_BROKER_URL" || (echo "serve needs CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0)"; exit 1)
	trap 'kill 0' INT TERM EXIT; \
	$(BIN)/celery -A loyalty worker --loglevel=INFO --concurrency=$${CELERY_CONCURRENCY:-2} & \
	$(BIN)/celery -A loyalty beat --loglevel=INFO --schedule=var/celerybeat-schedule & \
	$(BIN)/gunicorn loyalty.wsgi --bind $(HOST):$(PORT) --workers $${WEB_CONCURRENCY:-4} --access-logfile - & \
	wait

clean:
	rm -rf $(VENV) var staticfiles
