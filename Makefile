# paleblue: `make demo` and `make test` work on a machine that has never seen the project.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
RUNTIME_STAMP := $(VENV)/.installed-runtime
TEST_STAMP    := $(VENV)/.installed-test
BENCH_STAMP   := $(VENV)/.installed-bench
SCENARIO ?= tianwen1-2020-07-27

.PHONY: demo demo-stations test lint bench fuzz clean docs-figures wheel-check web

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "paleblue needs Python 3.11 or newer as $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[test]'
	touch $@ $(RUNTIME_STAMP)

$(BENCH_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[test,crosscheck,bench]'
	touch $@ $(TEST_STAMP) $(RUNTIME_STAMP)

demo: $(RUNTIME_STAMP)
	rm -rf out
	$(BIN)/paleblue run $(SCENARIO) -o out

BUS_STAMP := $(VENV)/.installed-bus

$(BUS_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) -e '.[bus]'
	touch $@ $(RUNTIME_STAMP)

# Three stations with 10 % independent frame loss and BER 1e-5, a bundled nats-server (the `bus`
# extra) and the merger; prints the per-station and merged table.
demo-stations: $(BUS_STAMP)
	rm -rf out-stations
	$(BIN)/paleblue run $(SCENARIO) --stations 3 --seed 17 -o out-stations

# The operator console (`--web`): NASA Open MCT from npm, the version and its checksum pinned by
# web/package-lock.json; installed once here, never at run time. `make demo` does not need it.
WEB_STAMP := web/node_modules/.package-lock.json
NPM := $(shell command -v npm 2>/dev/null)

web: $(WEB_STAMP)

$(WEB_STAMP): web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "make web: needs npm (Debian: apt-get install npm)"; exit 1; }
	cd web && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

# Each test is bounded (pyproject: faulthandler and pytest-timeout); the outer bound turns anything
# they cannot interrupt into a prompt failure instead of a CI run that never ends.
# The suite starts hundreds of paleblue processes: they load compiled bytecode (written once into
# __pycache__, which git ignores) even where the environment sets PYTHONDONTWRITEBYTECODE, as an
# installed paleblue would (each start would otherwise compile its modules again: 0.1-0.2 s of CPU).
test: $(TEST_STAMP) $(if $(NPM),$(WEB_STAMP))
	$(BIN)/ruff check .
	export PYTHONDONTWRITEBYTECODE=; timeout --kill-after=30 1200 $(BIN)/python -m pytest -q -n 2 --dist load || \
		{ status=$$?; [ $$status -ne 124 ] || echo "make test: the suite ran past 20 minutes and was stopped"; exit $$status; }

# Build the wheel, install it into a fresh venv outside the checkout, then run scenarios, a pass and a
# command from there (tools/wheel_check.py; tests/tools/test_wheel_check.py runs it in `make test`).
wheel-check: $(RUNTIME_STAMP)
	$(BIN)/python tools/wheel_check.py

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Benchmarks run the code as an installed paleblue runs it, from compiled bytecode (pip compiles a
# wheel's modules when it installs them): a PYTHONDONTWRITEBYTECODE in the environment would have
# every process compile the project's modules from source again (0.13 s of `paleblue decode`'s
# start-up) while the peer libraries of the baselines load theirs compiled.
bench: $(BENCH_STAMP)
	@set -e; export PYTHONDONTWRITEBYTECODE=; for script in benchmarks/bench_*.py; do \
		echo "== $$script"; $(BIN)/python $$script; done

# README's figure tables, computed by tools/readme_figures.py (a test fails when they are stale).
docs-figures: $(RUNTIME_STAMP)
	$(BIN)/python tools/readme_figures.py --write

FUZZ_SECONDS ?= 60

# The property suites make fuzz runs: every layer's (packets, frames, CADUs, recordings, the station),
# including the ground station's decoder properties outside tests/protocols and tests/properties.
FUZZ_TESTS ?= tests/protocols tests/properties \
	tests/groundstation/test_link_receiver.py tests/groundstation/test_uslp_link.py \
	tests/groundstation/test_recording_reader.py tests/groundstation/test_bulk_segments.py \
	tests/groundstation/test_station.py tests/groundstation/test_telemetry.py

# Longer campaigns: the property suites at 20,000 examples each (a few heavy ones at a smaller number
# stated beside them, tests/fuzz_budget.py), then coverage-guided fuzzing of every decoder target
# (atheris when it installs, the built-in engine otherwise). A property at 20,000 examples takes
# minutes, so the per-test limits of `make test` (pyproject.toml: 240 s stack dump, 300 s failure) are
# raised to an hour here; a hang still fails.
fuzz: $(TEST_STAMP)
	-$(PIP) -e '.[fuzz]' || echo "atheris unavailable: the built-in engine will run"
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -n 2 -m "not slow" \
		--timeout 3600 -o faulthandler_timeout=3600 $(FUZZ_TESTS)
	$(BIN)/paleblue fuzz decoders --seconds-per-target $(FUZZ_SECONDS) --out out/fuzz

clean:
	rm -rf out .pytest_cache .ruff_cache .hypothesis
