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
# Every run starts a dozen Python processes (pytest workers, client adapters): let them keep
# their compiled modules, whatever the shell says (each would compile the suite again).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup conformance builds matrix test selftest bench soak clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup-system.sh
	bash scripts/setup-system.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --only-binary pycurl -e '.[dev]'
	touch $(STAMP)

# The whole catalog against one build; only verdicts that differ from the
# build's expectations file (expectations/BUILD.json) fail the run. A build
# without one is judged by level, and the run says how to record one.
conformance: setup
	$(PY) -m pytest cases $(CASE_FLAGS) -n $(JOBS) --client $(CLIENT) \
	  --expectations expectations --reports $(REPORTS) $(PYTEST_ARGS)

# Every client build in clients.toml that has a preparation step, each in its
# own folder under builds/ (idempotent; Debian packages included).
builds: setup
	$(PY) -m conformance prepare

# Every prepared build x every case, in one pytest run: one results file.
matrix: setup
	$(PY) -m pytest cases $(CASE_FLAGS) -n $(JOBS) --matrix \
	  --expectations expectations --reports $(REPORTS) $(PYTEST_ARGS)

selftest: setup
	$(PY) -m pytest tests -n $(JOBS) $(PYTEST_ARGS)

test: builds selftest matrix

clean:
	rm -rf $(VENV) $(REPORTS) builds

bench: builds
	$(PY) -m conformance.bench --client $(CLIENT) --out $(REPORTS)/bench.json

SOAK_RUNS ?= 20
soak: builds
	$(PY) -m conformance.soak --runs $(SOAK_RUNS) --out $(REPORTS)/soak.json

# pycurl compiled against your own libcurl, registered as --client NAME by builds/NAME/client.toml:
#   make build NAME=mine CURL_CONFIG=/path/to/curl-config
.PHONY: build
build:
	@test -n "$(NAME)" -a -n "$(CURL_CONFIG)" || \
	  { echo "usage: make build NAME=mine CURL_CONFIG=/path/to/curl-config" >&2; exit 2; }
	bash scripts/build-pycurl.sh '$(NAME)' --curl-config '$(CURL_CONFIG)'
