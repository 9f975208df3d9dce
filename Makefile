# The README's commands. Each creates .venv and installs the project when needed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kapman-installed

.PHONY: demo up test bench db-stop clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)  ## set up and run the main job on the embedded default
	$(BIN)/kapman demo

up: $(STAMP)  ## serve the Dagster UI + daemon against the same database
	$(BIN)/kapman up

test: $(STAMP)  ## install and run the whole suite with coverage
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -p no:cacheprovider --cov=kapman_assets --cov=kapman_resources \
		--cov-report=term-missing:skip-covered --cov-fail-under=80 $(PYTEST_ARGS)

bench: $(STAMP)  ## performance figures (see benchmarks/ and README › Performance)
	$(BIN)/python benchmarks/bench_ohlcv_load.py
	$(BIN)/python benchmarks/bench_analytics.py
	$(BIN)/python benchmarks/bench_analytical_layer.py
	$(BIN)/python benchmarks/bench_universe.py

db-stop: $(STAMP)
	$(BIN)/kapman db stop

clean:  ## delete the embedded database (wherever it lives), the venv and .kapman
	-$(BIN)/kapman db destroy --yes
	rm -rf .kapman $(VENV)
