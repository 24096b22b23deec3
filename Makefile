# The two set-up commands: `make demo` and `make test`. Both are idempotent and
# fast once set up: the virtual environment is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DB ?= demo.duckdb
DEMO_CUSTOMERS ?= 20000
DEMO_SEED ?= 42

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

$(DEMO_DB): | $(VENV)/.installed
	$(BIN)/parcours --db $(DEMO_DB).tmp demo --customers $(DEMO_CUSTOMERS) --seed $(DEMO_SEED)
	mv $(DEMO_DB).tmp $(DEMO_DB)

demo: $(VENV)/.installed $(DEMO_DB)
	$(BIN)/parcours --db $(DEMO_DB) summary

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB).tmp
