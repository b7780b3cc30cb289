# Every target bootstraps its own virtualenv from pyproject.toml on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test lint typecheck unit bench package index clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --only-binary sqlcipher3 -e '.[index,dev]'
	touch $(STAMP)

venv: $(STAMP)

## make demo: the desktop client with an embedded index of synthetic children
demo: $(STAMP)
	$(BIN)/cpdesk demo

## make index: the index alone, 20,000 synthetic children, plain HTTP on 127.0.0.1:8800
index: $(STAMP)
	$(BIN)/cpindex seed --children 20000 --seed 1
	$(BIN)/cpindex serve --host 127.0.0.1 --port 8800

lint: $(STAMP)
	$(BIN)/ruff check cpdesk cpindex tests benchmarks scripts
	$(BIN)/ruff format --check cpdesk cpindex tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -q

## make test: the whole suite, ruff and mypy included
test: lint typecheck unit

## make bench: every benchmark at full size (1,000,000 children; seeded once, cached)
bench: $(STAMP)
	$(BIN)/python benchmarks/search.py --json benchmarks/results-search.json
	$(BIN)/python benchmarks/load.py --children 1000000 --json benchmarks/results-load.json
	$(BIN)/python benchmarks/client.py --json benchmarks/results-client.json
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/lock.py --json benchmarks/results-lock.json

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
