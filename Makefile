# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

## make run: set everything up and open the app
run: $(STAMP)
	@packaging/system-deps.sh run
	$(PY) main.py $(ARGS)

## make test: the whole suite (lint, types, import contracts, pytest)
test: $(STAMP)
	@packaging/system-deps.sh test
	$(VENV)/bin/ruff check mediaapp tests benchmarks tools
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

## make bench: the benchmark scripts (they print their figures)
bench: $(STAMP)
	$(PY) benchmarks/import_bench.py
	$(PY) benchmarks/search_bench.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
