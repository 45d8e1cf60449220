# `make run` and `make test` work on a fresh machine: they create .venv and install the project first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/csms --config config.toml run

# Gates (style.md practice 11): ruff (with C901 <= 15), mypy --strict, import-linter's dependency rules, and 100% branch coverage of the Sans-I/O framing core.
test: install
	$(VENV)/bin/ruff check csms ocpi simulators tests bench
	$(VENV)/bin/mypy csms ocpi simulators
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q --cov=csms.ocpp.framing --cov=csms.ocpp.errors --cov-branch --cov-report=term \
		--cov-fail-under=100

# Speed figures with their targets, as fractions of a bare echo server measured in the same run (never a
# pass/fail test): bench/ocpp_roundtrip.py; BENCH_ARGS for e.g. `--duration 10 --rounds 1`. Then the
# 10k-station boot storm (bench/boot_storm.py, about 30 s).
bench: install
	$(PY) -m bench.ocpp_roundtrip all $(BENCH_ARGS)
	$(PY) -m bench.boot_storm

lint: install
	$(VENV)/bin/ruff check csms ocpi simulators tests bench
	$(VENV)/bin/mypy csms ocpi simulators
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
