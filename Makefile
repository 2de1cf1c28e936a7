# Two entry points. `make run` installs what running needs (.[server]) into .venv and starts
# the gateway; `make test` adds the dev tools, then runs lint, format check, strict type checks,
# the test suite and the package check. Both work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed-dev

.PHONY: run example test lint typecheck unit package bench clean venv

$(RUN_STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[server]'
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP) tests/node/package-lock.json
	$(BIN)/pip install -q -e '.[dev,server]'
	# The Node clients (openai, @anthropic-ai/sdk, the AI SDK) for tests/test_server_node*.py
	# (skipped without npm).
	if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/node --no-audit --no-fund --loglevel=error; fi
	touch $(STAMP)

venv: $(STAMP)

# The main job: the OpenAI-compatible gateway on 127.0.0.1:1337 (keyless upstream by default).
# The CLI is then .venv/bin/polymux (or `source .venv/bin/activate`, then `polymux`).
ARGS ?= --provider pollinations
run: $(RUN_STAMP)
	$(BIN)/polymux serve $(ARGS)

example: $(RUN_STAMP)
	$(BIN)/python examples/quickstart.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples tools
	$(BIN)/ruff format --check src tests benchmarks examples tools

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

# The wheel and sdist build, pass PyPI's metadata checks, and install and run in a fresh venv.
package: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build -q --outdir dist . > /dev/null
	$(BIN)/twine check --strict dist/*
	$(BIN)/python tools/check_package.py dist

test: lint typecheck unit package

# Run by hand, never by the tests: each prints ratios against a baseline of the same run.
bench: $(STAMP)
	$(BIN)/python benchmarks/import_time.py
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/throughput.py --clients raw,polymux,openai
	$(BIN)/python benchmarks/open_streams.py
	$(BIN)/python benchmarks/gateway.py
	$(BIN)/python benchmarks/front_doors.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
