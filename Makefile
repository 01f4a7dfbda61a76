# make run   - install (local .venv) and serve the APIs on http://127.0.0.1:8080 with demo data
# make test  - install and run every test (lint, unit, integration, e2e, conformance)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run worker test unit lint bench conformance clean

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

install: $(STAMP)

run: install
	@$(PY) app.py serve

worker: install
	@$(PY) app.py worker

lint: install
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy

unit: install
	@$(PY) -m pytest tests/unit

# conformance in a session of its own: a fresh embedded database server, not one that the
# thousands of tests before it have filled (its cache evictions stalled requests past the
# suite's 10 s timeout)
test: lint
	@$(PY) -m pytest tests
	@$(PY) -m pytest conformance

conformance: install
	@$(PY) -m conformance $(ARGS)

bench: install
	@$(PY) bench/api_bench.py $(ARGS)

clean:
	rm -rf $(VENV) var
