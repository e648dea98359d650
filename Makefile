# CredScope: `make demo` serves the portal on this machine; `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
DEMO_ADDR ?= 127.0.0.1:8000

.PHONY: demo test lint format venv migrate demo-setup demo-data demo-model demo-seed vendor clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "CredScope needs $(PYTHON) on PATH (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Production's pins (requirements.txt) plus the test and lint tools; reinstalled only when
# either file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# Chart.js comes from the npm package pinned in package-lock.json and is served by Django
# from static/vendor/ (git-ignored); no page loads anything from a CDN.
# The source map goes with the script: the production manifest storage rewrites the script's
# sourceMappingURL and refuses to build without the map (the Dockerfile copies both too).
VENDOR_FILES := static/vendor/chart.umd.min.js static/vendor/chart.umd.min.js.map

node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || { echo "CredScope needs npm (Node.js) on PATH for Chart.js"; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

static/vendor/%: node_modules/.package-lock.json
	mkdir -p $(dir $@)
	cp node_modules/chart.js/dist/$* $@

vendor: $(VENDOR_FILES)

# Every management command runs the system checks, one of which wants Chart.js in place.
migrate: venv vendor
	$(MANAGE) migrate --noinput

demo-setup: migrate
	$(MANAGE) create_demo_users

# Synthetic Home Credit data (same schema as Kaggle's, with a known oracle), validated into
# the typed cache, then a `fast` model trained and activated; re-runs reuse both.
DEMO_DATA := var/data
DEMO_SCALE ?= 0.02

$(DEMO_DATA)/cache/cache_manifest.json: | $(VENV)/.installed
	$(MANAGE) generate_homecredit --scale $(DEMO_SCALE) --seed 42 --out $(DEMO_DATA)/synth
	$(MANAGE) load_homecredit --source $(DEMO_DATA)/synth --out $(DEMO_DATA)/cache

demo-data: $(DEMO_DATA)/cache/cache_manifest.json

demo-model: demo-data migrate
	$(MANAGE) train_model --data $(DEMO_DATA)/cache --profile fast --activate --unless-active

# A few dozen scored applications for the demo officer; needs the active model, so it runs
# after the steps that build the data and train a model.
demo-seed: demo-setup demo-model
	$(MANAGE) seed_demo_applications --username officer
	$(MANAGE) seed_demo_fairness --officer officer --reviewer reviewer --recorder compliance

# Served with DEBUG off (credscope_site.settings.demo), so visitors' mistakes get the friendly
# 404/403 pages. Scoring runs in a real Celery worker beside the web process, with a folder as
# the broker (no Redis needed), so uploads and forms return at once; Ctrl-C stops both. The
# worker's log, with its banner and start-up warnings (as root, Celery's advice to use
# --uid): var/demo-worker.log. The last lines printed are the address and where the
# passwords are.
DEMO_SETTINGS := credscope_site.settings.demo
DEMO_TASKS := var/tasks

demo: demo-setup vendor demo-seed
	@export DJANGO_SETTINGS_MODULE=$(DEMO_SETTINGS) CREDSCOPE_TASK_DIR=$(DEMO_TASKS); \
	  $(BIN)/celery -A credscope_site worker --beat \
	    --schedule var/celerybeat-schedule --pool=solo --loglevel=INFO \
	    --logfile var/demo-worker.log >>var/demo-worker.log 2>&1 & worker=$$!; \
	  trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	  DJANGO_RUNSERVER_HIDE_WARNING=true $(MANAGE) serve_demo $(DEMO_ADDR)

# Two test processes (pytest-xdist), each with its own PostgreSQL test database and Redis
# database: the suite took 880 s in one and takes ~540 s in two on a 2-core machine.
# `--dist load` hands each process tests in collection order, so pytest-django's order holds
# in each (transactional tests, which leave the database flushed, after the others).
# PYTEST_WORKERS=0 runs it in this process.
PYTEST_WORKERS ?= 2

test: venv vendor
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist load $(PYTEST_ARGS)

lint: venv vendor
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MANAGE) makemigrations --check --dry-run

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var/staticfiles .pytest_cache .ruff_cache node_modules static/vendor
