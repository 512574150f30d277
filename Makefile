# Digest: `make run` starts the service, `make test` runs the tests. Both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint format bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: install
	@echo "make run: not yet (the one-command service lands with issue 7)"; exit 1

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	@echo "make bench: not yet (benchmarks land with the issues that measure)"; exit 1

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
