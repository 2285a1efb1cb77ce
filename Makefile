# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
DIST_STAMP := $(VENV)/.dist-stamp

.PHONY: run test lint bench clean dist dist-check icons lock

# Every dependency at the version in packaging/constraints.txt (`make lock` renews it), so a fresh
# clone installs what the suite and the benchmarks' figures were last checked with.
$(STAMP): pyproject.toml packaging/constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]' -c packaging/constraints.txt
	@touch $(STAMP)

## make run: set everything up and open the app
run: $(STAMP)
	@packaging/system-deps.sh run
	$(PY) main.py $(ARGS)

## make test: the whole suite (lint, types, import contracts, pytest)
test: $(STAMP)
	@packaging/system-deps.sh test || echo "warning: no packaging validators or exiftool: tests/packaging and the metadata tests skip their checks" >&2
	$(VENV)/bin/ruff check mediaapp tests benchmarks tools
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

## make bench: the benchmark scripts (they print their figures)
bench: $(STAMP)
	$(PY) benchmarks/import_bench.py
	$(PY) benchmarks/search_bench.py

## make dist: the one-folder app in dist/mediaapp/ (PyInstaller, a few minutes; not part of `make test`)
dist: $(DIST_STAMP)
	@packaging/system-deps.sh dist
	$(VENV)/bin/pyinstaller --noconfirm --log-level WARN $(PYI_FLAGS) --distpath dist --workpath build/pyinstaller \
		packaging/mediaapp.spec

## make dist-check: a clean `make dist`, then packaging/smoke_dist.py on it; prints build time, size, timings
dist-check: $(DIST_STAMP)
	@packaging/system-deps.sh test
	@started=$$(date +%s.%N) && $(MAKE) --no-print-directory dist PYI_FLAGS=--clean && \
		$(PY) packaging/smoke_dist.py dist/mediaapp --build-started $$started

$(DIST_STAMP): $(STAMP) packaging/requirements-dist.txt
	$(PY) -m pip install --quiet -r packaging/requirements-dist.txt -c packaging/constraints.txt
	@touch $(DIST_STAMP)

## make icons: render resources/icons/mediaapp.png (256 px) from the SVG after editing it
icons:
	@packaging/system-deps.sh icons
	rsvg-convert --width 256 --height 256 resources/icons/mediaapp.svg -o resources/icons/mediaapp.png

## make lock: resolve pyproject.toml's dependencies afresh (newest allowed versions) into packaging/constraints.txt
lock:
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --upgrade pip
	build/lock-venv/bin/python -m pip install --quiet -e '.[test]'
	{ echo "# Every package \`make run\` and \`make test\` install, at the versions last checked. Written by \`make lock\`;"; \
	  echo "# renew it deliberately (then run \`make test\` and the benchmarks) rather than by accident."; \
	  build/lock-venv/bin/python -m pip freeze --exclude-editable; } > packaging/constraints.txt
	rm -rf build/lock-venv

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
