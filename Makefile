# CredScope: `make demo` serves the portal on this machine; `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
DEMO_ADDR ?= 127.0.0.1:8000

.PHONY: demo test lint format venv migrate demo-setup clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "CredScope needs $(PYTHON) on PATH (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when requirements.txt changes.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

migrate: venv
	$(MANAGE) migrate --noinput

demo-setup: migrate
	$(MANAGE) create_demo_users

demo: demo-setup
	@echo "CredScope is at http://$(DEMO_ADDR)/  (Ctrl-C stops it)"
	$(MANAGE) runserver $(DEMO_ADDR)

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MANAGE) makemigrations --check --dry-run

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var/staticfiles .pytest_cache .ruff_cache
