# docfactory: `make demo` to see it work, `make test` to check it, `make bench` to measure it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_CUSTOMERS ?= 200
PERIOD ?= 2026-11

.PHONY: demo test lint bench system-deps venv clean

system-deps:
	@scripts/system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[all,dev]'
	@touch $(STAMP)

venv: system-deps $(STAMP)

demo: venv
	@$(BIN)/docfactory sample-data --customers $(DEMO_CUSTOMERS) --out var/sample --period $(PERIOD)
	@$(BIN)/docfactory validate jobs/monthly_statements.toml --period $(PERIOD)
	@$(BIN)/docfactory run jobs/monthly_statements.toml --period $(PERIOD)
	@echo
	@echo "PDFs:   var/archive/monthly_statements/$(PERIOD)/<customer>/<document id>.pdf"
	@echo "Index:  var/index.db (SQLite; table documents)"
	@echo "Report: var/runs/<run id>/report.json; list runs with: $(BIN)/docfactory runs"

lint: venv
	@$(BIN)/ruff check factory tests bench
	@$(BIN)/lint-imports

test: lint
	@$(BIN)/pytest

bench: venv
	@$(BIN)/python bench/bench.py
	@for b in bench/bench_*.py; do [ -e "$$b" ] || continue; $(BIN)/python "$$b" || exit 1; done

clean:
	rm -rf var .pytest_cache .ruff_cache
