# Digest: `make run` starts the service, `make test` runs the tests. Both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Where `make run` serves: make run PORT=8080 (in dev the emails' links follow the port).
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint format bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: install
	$(BIN)/digest serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Each prints JSON; docs/benchmarks.md records the figures. The delivery and transport benchmarks
# need PostgreSQL, Redis and Postfix's smtp-sink (see README).
bench: install
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_curate.py
	$(BIN)/python bench/bench_render.py --readers 5000 --naive-readers 200
	$(BIN)/python bench/bench_signup.py --rate 200 --duration 30
	$(BIN)/python bench/bench_transport.py --messages 5000
	$(BIN)/python bench/bench_delivery.py --readers 100000 --towns 20 --fanout 1000000 --plot docs/img/delivery.svg

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
