# medipersona — two commands: `make run` (set up and serve) and `make test` (set up and run every test).
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
# Workers for `make run` (a local try-out): one async worker carries hundreds of generations; the second keeps the
# site answering while the other is recycled. Production sizing (`medipersona serve` without --workers) uses the
# seed's formula or WEB_CONCURRENCY; `make run WORKERS=` (empty) does the same here.
WORKERS ?= 2
BIN := $(VENV)/bin

.PHONY: run dev test test-fast install install-test bytecode runtime-deps system-deps bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## Our modules' bytecode, written once here (stale files only): an editable install has none, and with
## PYTHONDONTWRITEBYTECODE set (as on many boxes and images) every worker start would compile ~180 modules again
## (~0.4 s of CPU each; a `pip install` of the package writes its bytecode itself).
bytecode: install
	$(BIN)/python -m compileall -q src/medipersona

## The Debian package the app itself needs (fonts-ipaexfont-gothic: the exports' Japanese font), if missing.
runtime-deps:
	bash scripts/install-system-deps.sh --runtime

## Set up (venv, install, font, migrate, first admin, sample data) and serve http://$(HOST):$(PORT) with gunicorn.
run: install runtime-deps bytecode
	HOST=$(HOST) PORT=$(PORT) $(BIN)/medipersona serve --host $(HOST) --port $(PORT) $(if $(WORKERS),--workers $(WORKERS))

## Development server with auto-reload.
dev: install runtime-deps
	$(BIN)/medipersona serve --dev --host $(HOST) --port $(PORT)

## Debian packages the tests need (the app's font, chromium for browser tests, poppler-utils for PDF checks).
system-deps:
	bash scripts/install-system-deps.sh

## Install everything the tests need and run the whole suite (SQLite and PostgreSQL, browser tests included).
test: install-test system-deps
	$(BIN)/pytest

## The suite without the browser tests.
test-fast: install-test runtime-deps
	$(BIN)/pytest -m "not e2e"

## Lint and types: ruff on the whole tree, mypy on src/ (settings in pyproject.toml).
lint: install-test
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/mypy

## Benchmarks (numbers are recorded in docs/benchmarks.md).
bench: install-test bytecode
	$(BIN)/python benchmarks/generation_burst.py
	$(BIN)/python benchmarks/request_cpu.py
	$(BIN)/python benchmarks/idle_cpu.py
	$(BIN)/python benchmarks/keywords_bench.py
	$(BIN)/python benchmarks/export_bench.py

clean:
	rm -rf $(VENV) var test-artifacts
