# inkeep_runtime: everything a fresh machine needs starts from `python3`.
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 3002
DATABASE_URL ?= sqlite+aiosqlite:///./data/inkeep.db

.PHONY: help install serve migrate test check lint format typecheck lock bench clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

NODE_STAMP := tests/node/node_modules/.installed
$(NODE_STAMP): tests/node/package-lock.json
	npm ci --no-audit --no-fund --prefix tests/node
	@touch $@

install: $(STAMP) $(NODE_STAMP) ## Create .venv and install the package with pinned dependencies (and the Node test client)

serve: $(STAMP) ## Migrate ./data/inkeep.db, load graphs/ into default/default, serve on http://127.0.0.1:3002
	$(BIN)/inkeep-runtime migrate --database-url '$(DATABASE_URL)'
	@# The example graph's MCP tool server and user-profile service run beside the runtime and stop with it.
	@$(BIN)/python examples/support_tools_mcp.py --port 3011 >/dev/null 2>&1 & mcp=$$!; \
	$(BIN)/python examples/profile_service.py --port 3012 >/dev/null 2>&1 & profiles=$$!; \
	trap 'kill $$mcp $$profiles 2>/dev/null' EXIT INT TERM; \
	$(BIN)/inkeep-runtime serve --host $(HOST) --port $(PORT) --database-url '$(DATABASE_URL)' --graphs graphs

migrate: $(STAMP) ## Apply pending database migrations
	$(BIN)/inkeep-runtime migrate --database-url '$(DATABASE_URL)'

test: $(STAMP) $(NODE_STAMP) ## Install and run the whole test suite
	$(BIN)/python -m pytest -q

check: lint typecheck test ## What CI runs, plus lint and types

lint: $(STAMP) ## Ruff lint and format check
	$(BIN)/ruff check inkeep_runtime tests examples bench
	$(BIN)/ruff format --check inkeep_runtime tests examples bench

format: $(STAMP) ## Format the code
	$(BIN)/ruff format inkeep_runtime tests examples
	$(BIN)/ruff check --fix inkeep_runtime tests examples

typecheck: $(STAMP) ## mypy --strict on the package
	$(BIN)/mypy inkeep_runtime

lock: ## Re-pin every dependency into constraints.txt (needs uv in .venv)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o constraints.txt

bench: $(STAMP) ## Benchmark the streaming path (not part of test; about 2 min; QUICK=1 for under 1 min)
	$(BIN)/python -m bench $(if $(QUICK),--quick)

.PHONY: bench-analytics
bench-analytics: $(STAMP) ## Analytics route latency over 100,000 seeded queries (PG=<postgres url> adds PostgreSQL)
	$(BIN)/python -m bench.analytics $(if $(PG),--postgres '$(PG)')

clean: ## Remove the virtualenv, caches and the local database
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
