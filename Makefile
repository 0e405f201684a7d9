# verifier: `make demo` runs the local stack, `make test` runs every check, `make bench` measures.
# `make test-ha` runs the tests on real Redis Cluster and Sentinel deployments.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PORT ?= 8080

.PHONY: venv lint test test-ha unit e2e demo bench clean

# The venv is rebuilt whenever the dependency list changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(VENV)/bin/ruff check verifier tests bench
	$(VENV)/bin/ruff format --check verifier tests bench
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest -q -m "not ha" -n 2

# Separate: each topology starts a deployment of its own and runs the core flows again.
test-ha: venv
	$(VENV)/bin/pytest -q -m ha

unit: venv
	$(VENV)/bin/pytest -q tests/unit

e2e: venv
	$(VENV)/bin/pytest -q -m "not ha" tests/e2e

demo: venv
	$(PY) -m verifier demo --port $(PORT)

# `make bench REDIS=sentinel` (or cluster, or all: each topology in turn, compared).
bench: venv
	$(PY) -m bench $(if $(REDIS),--redis $(REDIS))

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
