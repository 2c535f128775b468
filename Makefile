# `make demo` serves the demo site; `make test` runs the whole suite. Both start from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The install builds the C scanner module (optional: without a compiler, the pure package).
BUILD := pyproject.toml setup.py src/consentgate/_scanfast.c

$(VENV)/.demo: $(BUILD) | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo]'
	touch $@

# The suite checks that the C module is built: a compiler and the Python headers first.
$(VENV)/.test: $(BUILD) | $(BIN)/python
	PYTHON=$(BIN)/python bash scripts/setup-system.sh compiler
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.demo

demo: $(VENV)/.demo
	$(BIN)/consentgate demo --host 127.0.0.1 --port 8000

test: $(VENV)/.test
	bash scripts/test.sh

lint: $(VENV)/.test
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy --strict src examples

bench: $(VENV)/.test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage dist build src/*.egg-info
	rm -f src/consentgate/*.so
