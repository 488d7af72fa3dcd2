# chibo — two set-up commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | sha1sum | cut -c1-12)
ARGS   ?=

.PHONY: demo test lint cluster declare clean bench

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "ERROR: $(PYTHON) is required (nameko 2.14 needs Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c requirements.lock -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)  ## embedded run: a sample district (ARGS=--ward: its ward alone), a year of meetings, the tables; then serves
	$(BIN)/chibo demo $(ARGS)

test: $(STAMP)  ## every test, on the real RabbitMQ and PostgreSQL (started here if they are down)
	bash deploy/ensure-infra.sh
	$(BIN)/ruff check .
	$(BIN)/pytest --durations=15 $(ARGS)

bench: $(STAMP)  ## city-scale benchmarks beside the stack's own ceilings (BENCHMARKS.md); ARGS=--scales ward
	bash deploy/ensure-infra.sh
	$(BIN)/python -m tests.bench.city $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || true

cluster: $(STAMP)  ## the distributed run as local processes (RabbitMQ + PostgreSQL); ARGS=--demo
	bash deploy/ensure-infra.sh
	$(BIN)/chibo cluster $(ARGS)

declare: $(STAMP)
	$(BIN)/chibo declare

clean:
	rm -rf var .pytest_cache
