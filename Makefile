# Two entry points (see README): `make book` builds the HTML book, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: book book-check browser test test-portable bench stale nbval-refresh clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $(STAMP)

## Main job: execute stale notebooks at the `cpu` profile (papermill), then build _build/html.
book: $(STAMP)
	$(PY) -m sclib book

## CI's book build: never retrains; reports stale pages; Sphinx warnings are errors.
book-check: $(STAMP)
	$(PY) -m sclib book --check --strict

## The built book in headless Chromium, offline: links, images, figures, math; screenshot of
## the summary page in _build/screenshots/ (needs Debian's `chromium`; skips without it).
browser: book-check
	$(PY) -m pytest tests/test_browser.py -q

## Unit tests + nbval over the smoke profile of every notebook.
test: $(STAMP)
	$(PY) -m pytest

## nbval once more under a capped CPU kernel dispatch (.ci/dispatch-cap prints it): AVX2 kernels on
## an AVX-512 CPU, SSE4 BLAS/oneDNN on an AVX2 one. The checked outputs must not depend on the CPU.
test-portable: $(STAMP)
	env $$(.ci/dispatch-cap) $(PY) -m pytest -q notebooks

## Benchmarks (issue 10 "Speed" 1-4 and the CPU options); prints the ratios. Minutes, CPU-heavy.
bench: $(STAMP)
	$(PY) -m sclib.bench --profile cpu

stale: $(STAMP)
	$(PY) -m sclib stale

## Re-record the smoke outputs that nbval compares against (after an intended change).
nbval-refresh: $(STAMP)
	$(PY) -m sclib nbval-refresh

clean:
	rm -rf _build
