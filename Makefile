# kureval — `make help` lists the targets.
# Every target sets up what it needs: the virtual environment (.venv) is created
# and kureval installed into it on first use, and again when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.kureval-installed
DEMO   := data/raw/demo
STUDY  ?= $(DEMO)
OUT    ?= reports/demo
LANG_REPORT ?= en

.DEFAULT_GOAL := help
.PHONY: help venv data report report-sv lab test test-slow lint format bench clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kureval needs Python >= 3.11; set PYTHON=python3.11")'
	@test -x $(PY) || { echo "creating $(VENV) with $$($(PYTHON) --version)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing kureval and its dependencies into $(VENV) (first time takes a few minutes)"
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e ".[dev]"
	@$(PY) -m ipykernel install --sys-prefix --name kureval --display-name "Python (kureval)" >/dev/null
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install kureval with its dependencies

$(DEMO)/study.toml: $(wildcard src/kureval/study/demo*.py) | $(STAMP)
	@$(VENV)/bin/kureval demo $(DEMO) --overwrite

data: $(STAMP) ## (re)generate the synthetic demo study in data/raw/demo
	@$(VENV)/bin/kureval demo $(DEMO) --overwrite

report: $(STAMP) $(DEMO)/study.toml ## build the demo report: reports/demo/index.html (STUDY=, OUT=, LANG_REPORT= to change)
	@$(VENV)/bin/kureval report $(STUDY) --out $(OUT) --lang $(LANG_REPORT)

report-sv: ## build the demo report in Swedish: reports/demo-sv/index.html
	@$(MAKE) --no-print-directory report OUT=reports/demo-sv LANG_REPORT=sv

lab: $(STAMP) $(DEMO)/study.toml ## start Jupyter Lab on notebooks/ with the registered "kureval" kernel
	@$(VENV)/bin/jupyter lab --notebook-dir=notebooks

test: $(STAMP) $(DEMO)/study.toml ## run the whole test suite (includes building the demo report in en and sv)
	@$(PY) -m pytest -m "not slow"

test-slow: $(STAMP) $(DEMO)/study.toml ## run the long simulation tests (coverage of CIs)
	@$(PY) -m pytest -m slow

lint: $(STAMP) ## ruff and mypy
	@$(VENV)/bin/ruff check src tests benchmarks
	@$(VENV)/bin/ruff format --check src tests benchmarks
	@$(VENV)/bin/mypy

format: $(STAMP) ## format the code with ruff
	@$(VENV)/bin/ruff format src tests benchmarks
	@$(VENV)/bin/ruff check --fix src tests benchmarks

bench: $(STAMP) ## run the benchmarks (see benchmarks/README.md)
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean: ## remove generated files (reports, processed data, caches); keeps .venv and data/raw
	rm -rf reports data/processed/* .pytest_cache .mypy_cache .ruff_cache benchmarks/output
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
	@touch data/processed/.gitkeep
