# omniseq: the two commands a user needs are `make demo` and `make test`; both do all set-up themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
TOOLS      := .cache/tools
UV         := $(TOOLS)/bin/uv
VENV       := .venv
PY         := $(VENV)/bin/python
STAMP      := $(VENV)/.omniseq-synced
PYTEST_ARGS ?=

.PHONY: help setup sysdeps jars venv test lint unit demo up down bench clean compose-check soak

help:
	@echo "make demo   - install everything missing, run the whole stack end to end (Ctrl-C stops it)"
	@echo "make test   - install everything missing, run lint, type checks and all tests"
	@echo "make lint   - ruff + mypy + layer contracts (lint-imports) only"
	@echo "make bench  - run the benchmarks (results in bench/results/)"
	@echo "make compose-check - build and run the docker-compose stack end to end (needs root; ~15-30 min)"

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q "uv==$(UV_VERSION)"

$(STAMP): $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python python3.11
	@touch $@

venv: $(STAMP)

sysdeps:
	@bash scripts/install-system-deps.sh

jars: $(STAMP)
	@$(PY) -m omniseq.infra.jars

setup: sysdeps venv jars

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy omniseq feature_repo pipeline models serving lifecycle cli bench scripts
	$(VENV)/bin/lint-imports

unit: setup
	$(PY) -m pytest -m "not integration and not slow" $(PYTEST_ARGS)

test: setup lint
	$(PY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/omniseq demo

up: setup
	$(VENV)/bin/omniseq up

down: venv
	$(VENV)/bin/omniseq down

bench: setup
	$(VENV)/bin/omniseq bench all

.PHONY: screenshot
screenshot: setup  # the storefront browser test, saving docs/storefront.png (shown in the README)
	STOREFRONT_SCREENSHOT=1 $(PY) -m pytest tests/serving/test_storefront_browser.py -q

# the docker-compose stack, really run: engine from Debian when missing, the local base image built once, then
# build -> up -> healthy -> replay -> retrain -> /recommend -> down (bench/results/compose.json)
compose-check: setup
	@DOCKER="$$(bash scripts/ensure-docker.sh)" && \
	  BASE_IMAGE="$${BASE_IMAGE:-$$(DOCKER=$$DOCKER bash scripts/build-base-image.sh)}" && \
	  DOCKER=$$DOCKER BASE_IMAGE=$$BASE_IMAGE $(PY) scripts/compose_check.py

soak: setup
	nice -n 10 $(VENV)/bin/omniseq bench soak

clean:
	rm -rf run .pytest_cache .mypy_cache .ruff_cache
