# Two entry points. `make run` installs what running needs (.[server]) into .venv and starts
# the gateway; `make test` adds the dev tools, then runs lint, format check, strict type checks,
# the test suite and the package check. Both work on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed-dev

.PHONY: run example test lint typecheck unit package bench bench-deps clean venv web browser services

# The web chat's third-party libraries (marked, DOMPurify, highlight.js): installed from npm
# at the versions web/package-lock.json pins, and their built files copied into the package's
# static folder, so the wheel and sdist ship them and nothing is fetched at run time.
VENDOR := src/polymux/server/static/vendor
WEB_STAMP := $(VENDOR)/.installed
NPM_MODULES := web/node_modules

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)
	cp $(NPM_MODULES)/marked/lib/marked.esm.js $(VENDOR)/marked.esm.js
	cp $(NPM_MODULES)/marked/LICENSE $(VENDOR)/marked.LICENSE.txt
	cp $(NPM_MODULES)/dompurify/dist/purify.es.mjs $(VENDOR)/purify.es.mjs
	cp $(NPM_MODULES)/dompurify/LICENSE $(VENDOR)/purify.LICENSE.txt
	cp $(NPM_MODULES)/@highlightjs/cdn-assets/es/highlight.min.js $(VENDOR)/highlight.min.js
	cp $(NPM_MODULES)/@highlightjs/cdn-assets/LICENSE $(VENDOR)/highlight.LICENSE.txt
	sed -i '/^\/\/# sourceMappingURL=/d' $(VENDOR)/*.js $(VENDOR)/*.mjs
	touch $(WEB_STAMP)

web: $(WEB_STAMP)

# The browser tests drive Debian's chromium (no browser download: Playwright is pointed at it).
CHROMIUM := /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -q --no-install-recommends chromium; \
		else \
			echo "make browser: $(CHROMIUM) is missing; install Debian's chromium package" \
				"(as root: apt-get install chromium) or the browser tests are skipped"; \
		fi; \
	fi

# The shared-state tests (Redis, PostgreSQL) run against the real servers, Debian's packages;
# tests/services.py starts each on a free port with its data in a temporary folder.
services:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -q --no-install-recommends $$missing; \
		else \
			echo "make services: missing$$missing; install Debian's packages" \
				"(as root: apt-get install$$missing) or the shared-state tests are skipped"; \
		fi; \
	fi

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
run: $(RUN_STAMP) $(WEB_STAMP)
	$(BIN)/polymux serve $(ARGS)

example: $(RUN_STAMP)
	$(BIN)/python examples/quickstart.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples tools
	$(BIN)/ruff format --check src tests benchmarks examples tools

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(WEB_STAMP) browser services
	$(BIN)/pytest

# The wheel and sdist build, pass PyPI's metadata checks, and install and run in a fresh venv.
package: $(STAMP) $(WEB_STAMP)
	rm -rf dist
	$(BIN)/python -m build -q --outdir dist . > /dev/null
	$(BIN)/twine check --strict dist/*
	$(BIN)/python tools/check_package.py dist

test: lint typecheck unit package

# What benchmarks/gateway.py compares against besides its own floor: Debian's nginx; and
# what benchmarks/scale_out.py drives and answers the gateway with: wrk (a load generator in
# C) and nginx (a static upstream), so neither takes the cores the workers need (as root;
# not needed by the tests). LiteLLM's proxy goes in a throw-away venv (benchmarks/README.md).
bench-deps:
	@missing=""; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -q --no-install-recommends $$missing; \
		else \
			echo "make bench-deps: missing$$missing; install Debian's packages (as root:" \
				"apt-get install$$missing), or benchmarks/gateway.py skips nginx and" \
				"benchmarks/scale_out.py falls back to Python for the load and the upstream"; \
		fi; \
	fi

# Run by hand, never by the tests: each prints ratios against a baseline of the same run.
bench: $(STAMP) bench-deps
	$(BIN)/python benchmarks/import_time.py
	$(BIN)/python benchmarks/cli_startup.py
	$(BIN)/python benchmarks/throughput.py --clients raw,polymux,openai
	$(BIN)/python benchmarks/throughput.py --sync
	$(BIN)/python benchmarks/open_streams.py
	$(BIN)/python benchmarks/gateway.py
	$(BIN)/python benchmarks/front_doors.py
	$(BIN)/python benchmarks/scale_out.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache $(NPM_MODULES) $(VENDOR)
