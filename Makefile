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
	$(BIN)/pip install --quiet --only-binary sqlcipher3 -e '.[index,spark,dev]'
	touch $(STAMP)

venv: $(STAMP)

## make demo: the desktop client with an embedded index of synthetic children
demo: $(STAMP)
	$(BIN)/cpdesk demo

## make index: the index alone, 20,000 synthetic children, HTTPS on 127.0.0.1:8800 with a
## throwaway CA (cpdesk talks HTTPS only); prints how to point cpdesk at it
INDEX_PORT ?= 8800
INDEX_TLS  := $(VENV)/index-tls
index: $(STAMP)
	$(BIN)/cpindex seed --children 20000 --seed 1
	$(BIN)/python scripts/index_certs.py $(INDEX_TLS) --url https://127.0.0.1:$(INDEX_PORT)
	$(BIN)/cpindex serve --host 127.0.0.1 --port $(INDEX_PORT) --demo-codes \
	    --tls-cert $(INDEX_TLS)/server.pem --tls-key $(INDEX_TLS)/server-key.pem

lint: $(STAMP)
	$(BIN)/ruff check cpdesk cpindex tests benchmarks scripts
	$(BIN)/ruff format --check cpdesk cpindex tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -q

## make test: the whole suite, ruff and mypy included
test: lint typecheck unit

## make bench: every benchmark (search, client, lock, cache, linkage) at full size (1,000,000 children; seeded once, cached)
bench: $(STAMP)
	$(BIN)/python benchmarks/search.py --json benchmarks/results-search.json
	$(BIN)/python benchmarks/load.py --children 1000000 --json benchmarks/results-load.json
	$(BIN)/python benchmarks/client.py --json benchmarks/results-client.json
	QT_QPA_PLATFORM=offscreen $(BIN)/python benchmarks/lock.py --json benchmarks/results-lock.json
	$(BIN)/python benchmarks/cache.py --json benchmarks/results-cache.json
	$(BIN)/python benchmarks/linkage.py --scale --json benchmarks/results-linkage.json

## make package: signed .deb (+ apt repo), MSI, SBOM, SHA256SUMS in dist/packages; the
## .deb is built twice and compared byte for byte (packaging/build.sh, docs/deployment.md)
package:
	packaging/build.sh

clean:
	rm -rf $(VENV) .venv-package .venv-sbom dist .mypy_cache .pytest_cache .ruff_cache
