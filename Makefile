# commande — the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# The embedded stack, the demo and the tests run in development mode (COMMANDE_ENV); services
# default to production, which refuses development keys and plaintext connections.
export COMMANDE_ENV := development

.PHONY: help prerequisites setup stack stack-down status demo test unit integration lint schemas clean

help:
	@echo "make demo         set up, start the embedded stack and the services, walk the main job end to end"
	@echo "make test         set up, start the embedded stack, run the whole test suite"
	@echo "make unit         only the pure unit tests (no stack, no JDK needed)"
	@echo "make lint         ruff + mypy --strict (no JDK needed)"
	@echo "make stack        start the embedded stack (Kafka, PostgreSQL, SMTP sink)"
	@echo "make stack-down   stop it"

prerequisites:
	@deploy/prerequisites.sh

$(STAMP): requirements/dev.lock pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --require-hashes -r requirements/dev.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# The stack, the demo and the whole suite need the prerequisites (JDK, Maven, PostgreSQL, chromium);
# the unit tier, lint and the schema export need only the Python venv.
setup: prerequisites $(STAMP)

stack: setup
	$(BIN)/commande stack up

stack-down: setup
	$(BIN)/commande stack down

status: setup
	$(BIN)/commande stack status

demo: stack
	$(BIN)/python -m deploy.demo

test: stack
	$(BIN)/pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

schemas: $(STAMP)
	$(BIN)/commande schemas export

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
