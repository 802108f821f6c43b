# Kerascope: `make run` starts the app on the demo model, `make test` runs every test.
# Both create the virtual environment in .venv first (Python 3.10-3.12 with venv).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: setup setup-dev browser graphviz run test test-fast lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev

# Browser tests drive Debian's Chromium (Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "install Chromium (Debian: sudo apt-get install chromium) for the browser tests"; fi; }

# The Graph tab lays models out with Graphviz's dot program.
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  else echo "install Graphviz (Debian: sudo apt-get install graphviz) for the Graph tab"; fi; }

run: setup graphviz
	$(BIN)/python -m streamlit run app.py --server.port $(PORT)

# One pytest worker per core (pytest-xdist): the suite is mostly waiting on TensorFlow, Keras
# and the browser, and each worker starts its own app server for the browser tests.
test: setup-dev browser graphviz
	$(BIN)/python -m pytest -q -n auto

# The inner loop: the library's and the figures' unit tests (no app, browser or security suites),
# in well under two minutes.
test-fast: setup-dev graphviz
	$(BIN)/python -m pytest -q -m "not slow" tests/test_imports.py tests/extraction tests/components

lint: setup-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: setup-dev
	$(BIN)/python -m benchmarks.bench_vgg16
	$(BIN)/python -m benchmarks.bench_app_vgg16
	$(BIN)/python -m benchmarks.bench_llama
	$(BIN)/python -m benchmarks.bench_isolation
	$(BIN)/python -m benchmarks.bench_runs
	$(BIN)/python -m benchmarks.bench_run_page

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
