# The two set-up commands: `make demo` and `make test`. Both are idempotent and
# fast once set up: the virtual environment is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_DB ?= demo.duckdb
DEMO_CUSTOMERS ?= 20000
DEMO_SEED ?= 42
DEMO_PORT ?= 8000

.PHONY: demo test lint bench clean chromium messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	@# the Spark engine's tests need a Java runtime: the machine's own, else a headless JRE
	command -v java >/dev/null 2>&1 || { SUDO=$$(command -v sudo); $$SUDO apt-get update -q && $$SUDO apt-get install -y -q default-jre-headless; }
	$(BIN)/pip install -q -e '.[test]'
	touch $@

$(DEMO_DB): | $(VENV)/.installed
	$(BIN)/parcours --db $(DEMO_DB).tmp demo --customers $(DEMO_CUSTOMERS) --seed $(DEMO_SEED)
	$(BIN)/parcours --db $(DEMO_DB).tmp personas --save > /dev/null  # personas as segments for the dashboard filter
	mv $(DEMO_DB).tmp $(DEMO_DB)

demo: $(VENV)/.installed $(DEMO_DB)
	$(BIN)/parcours --db $(DEMO_DB) summary
	@echo "Dashboard: http://127.0.0.1:$(DEMO_PORT)/ - sign in with this read key (Ctrl-C stops the server):"
	@$(BIN)/parcours --db $(DEMO_DB) keys create --role read --name demo-dashboard | tail -n 1
	$(BIN)/parcours --db $(DEMO_DB) serve --port $(DEMO_PORT)

# the pages' message catalogue (dashboard and report) after adding or changing strings; then fill the new msgstr (docs/contributing.md)
messages: $(VENV)/.installed
	mkdir -p build
	PYTHONPATH=src $(BIN)/pybabel extract -F babel.cfg --no-location -o build/messages.pot .
	$(BIN)/pybabel update -i build/messages.pot -d src/parcours/views/locale -w 110 --no-fuzzy-matching --ignore-obsolete
	PYTHONPATH=src $(BIN)/python -m parcours.views.catalogue_sync

# the dashboard's browser tests drive Debian's Chromium (never a downloaded browser)
chromium:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: $(VENV)/.installed-test chromium
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(DEMO_DB) $(DEMO_DB).tmp
