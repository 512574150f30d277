# Digest: `make run` starts the service, `make test` runs the tests. Both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Where `make run` serves: make run PORT=8080 (in dev the emails' links follow the port).
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install lock run test lint format bench clean messages

install: $(VENV)/.installed

# Exact versions and hashes from requirements.lock, then Digest itself without resolving again.
$(VENV)/.installed: pyproject.toml requirements.lock requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Renew the locks within pyproject.toml's ranges (then run `make test` and `make bench`):
# requirements.lock is the application (the Dockerfile's), requirements-dev.lock adds the tools
# and keeps every version the application's lock chose.
LOCK := $(BIN)/uv pip compile pyproject.toml --generate-hashes --universal --python-version 3.11 -q
lock: install
	$(LOCK) --upgrade -o requirements.lock
	$(LOCK) --extra dev --constraint requirements.lock -o requirements-dev.lock

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

# The translations (docs/translations.md): the template digest/locale/messages.pot from the
# sources, then each language's messages.po brought up to date (new strings empty, changed ones
# fuzzy) for a translator to fill. Python passes the language first, hence the keywords.
BABEL_KEYWORDS := -k translated:2 -k translated_plural:2,3 -k translatable
messages: install
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) -c Translators: --add-location=file \
		--sort-by-file --project=Digest --no-wrap -o digest/locale/messages.pot .
	$(BIN)/pybabel update -i digest/locale/messages.pot -d digest/locale --no-wrap \
		--ignore-obsolete

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
