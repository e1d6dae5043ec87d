# kmc-ald: everything runs inside a local virtual environment made from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PYTEST_ARGS ?=

.PHONY: install demo test bench fuzz bench-table lint clean

install: $(STAMP)

# the package and matplotlib: all that a run, an export and a report need
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[plot]'
	touch $(STAMP)

# and the test tools, Dask (the sweep cluster tests) and OVITO where it installs (its import test)
$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,plot,cluster]'
	$(BIN)/python -m pip install --quiet -e '.[ovito]' \
	  || echo "note: OVITO's Python module cannot be installed here; its test skips"
	touch $(TEST_STAMP)

demo: $(STAMP)  ## run a bundled ALD scenario end to end on the CPU
	$(BIN)/kmc-ald run al2o3_tma_h2o -o demo.h5 --overwrite

test: $(TEST_STAMP)  ## the whole test suite (GPU tests skip without a device)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(TEST_STAMP)  ## benchmarks -> bench/results/ (JSON, PNG) and the README table (a few minutes)
	$(BIN)/python -m bench.run --out bench/results
	$(BIN)/python -m bench.table
	$(BIN)/python -m bench.cases.parallel_bias --out bench/results
	$(BIN)/python -m bench.cases.parallel_throughput --backend cpu --out bench/results
	$(BIN)/python -m bench.cases.stiff_throughput --backend cpu --out bench/results
	$(BIN)/python -m bench.cases.pt_n_graphene --out bench/results
	$(BIN)/python -m bench.cases.ensemble_throughput --backend cpu --out bench/results
	$(BIN)/python -m bench.cases.sweep_throughput --out bench/results

fuzz: $(TEST_STAMP)  ## the scenario fuzzers with 20x the suite's examples (about 10 minutes)
	KMC_ALD_FUZZ_EXAMPLES=3000 $(BIN)/python -m pytest -q -p no:cacheprovider tests/unit/test_fuzz.py

bench-table: $(TEST_STAMP)
	$(BIN)/python -m bench.table

lint: $(TEST_STAMP)
	$(BIN)/ruff check kmc_ald tests bench

clean:
	rm -rf build dist .pytest_cache .ruff_cache demo.h5 *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
