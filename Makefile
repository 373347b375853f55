# Two commands on a fresh machine: `make run` and `make test`. Everything else is installed from PyPI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run lint test bench clean

$(STAMP): pyproject.toml package.json package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	# Web packages from the npm registry (package-lock.json pins them), served by Tocsin itself, and the
	# OpenID provider the tests start. No install script runs: none of them needs one.
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/tocsin run

# Style, types and the import contracts (pyproject.toml); `make test` runs them first.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m tests.benchmarks

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .hypothesis .mypy_cache .ruff_cache .import_linter_cache
