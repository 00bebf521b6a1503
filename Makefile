# Two entry points, each doing its own set-up (virtual environment + install):
#   make demo   record a demo trading session, show it, serve the dashboard
#   make test   run the whole test suite with coverage
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# test processes (pytest-xdist): one per core, at least 2
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -lt 2 ] && n=2; echo $$n)

.PHONY: demo test bench lint clean

$(STAMP): pyproject.toml setup.py evlog/segments/_speedups.c evlog/_snapshot.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench,nats,eventsourcing,parquet]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/evlog demo --out recordings

test: $(STAMP)
	bash scripts/test-services.sh
	if [ -f scripts/install-test-deps.sh ]; then bash scripts/install-test-deps.sh; fi
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --cov=evlog --cov-branch --cov-report=term:skip-covered $(PYTEST_ARGS)
	# the storage engine and the recorder's snapshot again without their compiled code (a machine with no C compiler)
	EVLOG_PURE_PYTHON=1 $(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --cov=evlog --cov-branch --cov-append \
		--cov-report= -m "not slow" tests/segments tests/replay/test_recorder.py tests/replay/test_recorder_snapshot.py \
		tests/replay/test_recorder_counters.py tests/replay/test_snapshot_twins.py
	$(PY) -m coverage report --include='evlog/segments/*' --fail-under=95

bench: $(STAMP)
	$(PY) bench/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check evlog tests bench

clean:
	rm -rf $(VENV) .pytest_cache .coverage .hypothesis
