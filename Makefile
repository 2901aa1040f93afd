# Two entry points (see README): `make book` builds the HTML book, `make test` runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# pytest workers (pytest-xdist): one per core (sclib.executors.cores), at most 4; every test and
# nbval kernel runs one intra-op thread (conftest.py), so N workers use N cores. JOBS=1 runs the
# tests in one process. (Expanded when a recipe runs, after .venv is installed.)
JOBS   ?= $(shell $(PY) -c 'from sclib.executors import cores; print(min(4, cores()))')
XDIST   = $(if $(filter 1,$(JOBS)),,-n $(JOBS))

.PHONY: book book-check browser test test-portable bench stale nbval-refresh clean gpu gpu-plan gpu-pack times

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
	$(PY) -m pytest $(XDIST)

## nbval once more under a capped CPU kernel dispatch (.ci/dispatch-cap prints it): AVX2 kernels on
## an AVX-512 CPU, SSE4 BLAS/oneDNN on an AVX2 one. The checked outputs must not depend on the CPU.
test-portable: $(STAMP)
	env $$(.ci/dispatch-cap) $(PY) -m pytest -q $(XDIST) notebooks

## Benchmarks (issue 10 "Speed" 1-4 and the CPU options); prints the ratios. Minutes, CPU-heavy.
bench: $(STAMP)
	$(PY) -m sclib.bench --profile cpu

stale: $(STAMP)
	$(PY) -m sclib stale

## Re-record the smoke outputs that nbval compares against (after an intended change).
nbval-refresh: $(STAMP)
	$(PY) -m sclib nbval-refresh

## The gpu profile on a GPU, in priority order, within BUDGET minutes (README "Running the gpu
## profile"). No pip install here: a GPU machine may be offline; without .venv it uses python3.
BUDGET   ?= 12
GPU_ARGS ?=
GPU_PY   ?= $(if $(wildcard $(PY)),$(PY),python3)
gpu:
	$(GPU_PY) -m sclib gpu --budget $(BUDGET) $(GPU_ARGS)

## Dry-run every chapter's gpu profile on the CPU and write its GPU-time estimate to sclib/gpu_plan.json.
gpu-plan: $(STAMP)
	$(PY) -m sclib gpu --dry-run --budget $(BUDGET)

## A lease of the device tool's GPU (sclib/lease.py): .lease/ (data, wheels) for the chapters that fit
## LEASE minutes, and the run call to make (then: python -m sclib lease unpack FILES_AT).
LEASE    ?= 8
gpu-pack: $(STAMP)
	$(PY) -m sclib lease pack --budget $(LEASE)

## The README's wall-time and GPU-plan tables, rewritten from the pages' records (needs the full git history).
times: $(STAMP)
	$(PY) -m sclib times --write

clean:
	rm -rf _build
