# weir: `make demo` runs the flagship example on an embedded local cluster;
# `make test` runs the whole suite (the tests start the services they need).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test bench proto lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/python examples/coupon_abuse.py

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/checkpoints.py

proto: $(VENV)/.installed-test
	$(BIN)/python scripts/gen_proto.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check client core connectors jobmanager taskmanager tests benchmarks examples scripts
	$(BIN)/python scripts/installed_checks.py

clean:
	rm -rf $(VENV) build *.egg-info
