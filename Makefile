# One-command set-up on a fresh machine (Python 3.11 or 3.12 on PATH):
#   make demo                 create .venv, install, start the demo on the shipped model
#   make test                 create .venv, install, lint, run every test (what CI runs)
#   make test-fast            the same without the slow and browser tests
#   make train DATA=path      train the seed CNN on FER2013
# EXTRA=gpu adds the CUDA libraries (tensorflow[and-cuda]); the default runs on the CPU.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
EXTRA ?= cpu
BIN := $(VENV)/bin
DATA ?= ../shared/data/fer2013
PYTEST_ARGS ?=
# Test processes (pytest-xdist): most tests wait on subprocesses, TensorFlow's start-up or a browser, so two
# share two cores well.
TEST_WORKERS ?= 2
DURATIONS ?= test-durations.tsv

.PHONY: setup demo test test-fast lint train clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# tensorflow-cpu (this project's dependency before) and tensorflow install the same files: keep one.
	$(BIN)/python -m pip uninstall --quiet --yes tensorflow-cpu 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRA),test,beam,kfp]"
	touch $@

demo: setup
	$(BIN)/fer-demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports  # packages import downward only, and no import cycle between files

# Every test, slow and browser ones included: what CI runs. Every test's duration goes to $(DURATIONS).
test: setup lint
	$(BIN)/python -m pytest -m '' -n $(TEST_WORKERS) --durations=15 --durations-file=$(DURATIONS) $(PYTEST_ARGS)

# The default selection (pyproject addopts): no slow and no browser tests.
test-fast: setup lint
	$(BIN)/python -m pytest --durations=15 --durations-file=$(DURATIONS) $(PYTEST_ARGS)

train: setup
	$(BIN)/fer-train --preset seed --data $(DATA)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
