# h2clientspec: `make conformance` runs the catalog, `make test` runs the self-tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CLIENT ?= pycurl-wheel
REPORTS ?= reports
JOBS ?= auto
PYTEST_ARGS ?=
# Case items use no assert statements: skip assertion rewriting and the
# hypothesis plugin, both pure start-up cost for a conformance run.
CASE_FLAGS := --assert=plain -p no:hypothesispytest -p no:cacheprovider

.PHONY: setup conformance test selftest bench soak clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup-system.sh
	bash scripts/setup-system.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --only-binary pycurl -e '.[dev]'
	touch $(STAMP)

# The whole catalog against one build; only verdicts that differ from the
# build's expectation file fail the run.
conformance: setup
	$(PY) -m pytest cases $(CASE_FLAGS) -n $(JOBS) --client $(CLIENT) \
	  --expectations expectations/$(CLIENT).json --reports $(REPORTS) $(PYTEST_ARGS)

selftest: setup
	$(PY) -m pytest tests -n $(JOBS) $(PYTEST_ARGS)

test: selftest conformance

clean:
	rm -rf $(VENV) $(REPORTS)

bench: setup
	$(PY) -m conformance.bench --client $(CLIENT) --out $(REPORTS)/bench.json

SOAK_RUNS ?= 20
soak: setup
	$(PY) -m conformance.soak --client $(CLIENT) --runs $(SOAK_RUNS) --out $(REPORTS)/soak.json
