# One entry point. `make test` on a fresh machine bootstraps .venv from pyproject.toml,
# then runs lint, format check, strict type checks and the test suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run example test lint typecheck unit bench clean venv

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,server]'
	touch $(STAMP)

venv: $(STAMP)

# The main job: the OpenAI-compatible gateway on 127.0.0.1:1337 (keyless upstream by default).
ARGS ?= --provider pollinations
run: $(STAMP)
	$(BIN)/python -m modelmux serve $(ARGS)

example: $(STAMP)
	$(BIN)/python examples/quickstart.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

# Run by hand, never by the tests: each prints ratios against a baseline of the same run.
bench: $(STAMP)
	$(BIN)/python benchmarks/import_time.py
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/throughput.py --clients raw,modelmux,openai
	$(BIN)/python benchmarks/open_streams.py
	$(BIN)/python benchmarks/gateway.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
