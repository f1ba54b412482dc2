# musicgeo: `make report` (environment if missing, then every notebook -> one
# HTML report) and `make test` (unit tests + nbval over the committed notebooks).
#
# Variables (override on the command line, e.g. `make report PROFILE=full`):
#   PROFILE  small (default, minutes on 2 CPU cores) | full (every tune; GPU)
#   SEED     the one seed behind every random choice
#   DATASET  folk (the embedded default)
#   PYTHON   an interpreter to use instead of the project venv (Colab: python)

PROFILE ?= small
SEED ?= 0
DATASET ?= folk
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PYTHON ?= $(VENV)/bin/python
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
EXECUTED := reports/executed
export PYTHONHASHSEED := 0

.PHONY: all env report notebooks golden test unit nbval bench clean clean-data help
all: report

help:
	@sed -n '1,12p' Makefile

# --- environment ------------------------------------------------------------
# The venv is made only when PYTHON is the project venv and it is missing or
# older than the requirements. conda is used when present, else python -m venv.
$(VENV)/.installed: requirements.txt requirements-nodeps.txt pyproject.toml
	@if command -v conda >/dev/null 2>&1 && [ ! -x $(VENV)/bin/python ]; then \
	  conda create -y -p $(VENV) python=3.11 pip; \
	elif [ ! -x $(VENV)/bin/python ]; then \
	  python3 -m venv $(VENV); \
	fi
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q "$(TORCH_SPEC)"
	$(VENV)/bin/python -m pip install -q -r requirements.txt
	$(VENV)/bin/python -m pip install -q --no-deps -r requirements-nodeps.txt
	$(VENV)/bin/python -m pip install -q --no-deps -e .
	$(VENV)/bin/python -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	touch $@

ifeq ($(PYTHON),$(VENV)/bin/python)
env: $(VENV)/.installed
else
env:
	@echo "using $(PYTHON) as it is (no venv made)"
endif

# --- the report ---------------------------------------------------------------
report: env
	$(PYTHON) -m musicgeo_utils.pipeline run --profile $(PROFILE) --seed $(SEED) \
	  --dataset $(DATASET) --out $(EXECUTED) $(NOTEBOOKS)
	$(PYTHON) -m musicgeo_utils.report $(EXECUTED) reports/report.html
	@echo "report: reports/report.html"

# Re-execute the notebooks in place: their outputs are the golden values nbval
# checks. Run after changing a notebook or the pipeline, then commit.
golden: env
	$(PYTHON) -m musicgeo_utils.pipeline run --profile small --seed 0 --in-place $(NOTEBOOKS)

# --- tests ---------------------------------------------------------------------
test: unit nbval

unit: env
	$(PYTHON) -m pytest -q tests

nbval: env
	$(PYTHON) -m pytest -q --nbval-lax --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider $(NOTEBOOKS)

bench: env
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PYTHON) $$b || exit 1; done

# --- housekeeping ------------------------------------------------------------
clean:
	rm -rf $(EXECUTED) reports/report.html reports/maps reports/screenshots

clean-data:
	rm -rf data
