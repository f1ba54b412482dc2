# musicgeo: `make report` (environment if missing, then every notebook -> one
# HTML report) and `make test` (unit tests + nbval over the committed notebooks).
#
# Variables (override on the command line, e.g. `make report PROFILE=full`):
#   PROFILE  small (default, minutes on 2 CPU cores) | full (every tune; GPU)
#            | tiny (a few minutes: a quick look, or a tiny dataset copy)
#   SEED     the one seed behind every random choice
#   DATASET  folk (the embedded default) | gtzan | gtzan_random | fma | lmd_msd | uci_gom
#            (README: "Run on GTZAN / FMA / Lakh MIDI")
#   DATA_ROOT  the dataset's folder (default data/raw/<DATASET>)
#   DASK     where feature extraction runs: empty (local processes) | local (a dask
#            LocalCluster) | tcp://host:8786 (a running cluster; README, "Dask")
#   PYTHON   an interpreter to use instead of the project venv (Colab: python)

PROFILE ?= small
SEED ?= 0
DATASET ?= folk
DATA_ROOT ?=
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
UV_SPEC ?= uv==0.13.9
PYTHON ?= $(VENV)/bin/python
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
# The folk default keeps reports/; another dataset writes under reports/<DATASET>/.
REPORT_DIR := $(if $(filter folk,$(DATASET)),reports,reports/$(DATASET))
EXECUTED := $(REPORT_DIR)/executed
export PYTHONHASHSEED := 0
# Same numbers on any x86-64 CPU: torch, OpenBLAS, numpy and numba use the kernels an AVX2 machine
# uses, also on an AVX-512 one, and MKL (torch's GEMM) its code path that rounds the same on Intel
# and AMD (README, "Same seed, same numbers"; tools/check_cpu_portability.py). Override to opt out.
ifeq ($(shell uname -m),x86_64)
export ATEN_CPU_CAPABILITY ?= avx2
export MKL_CBWR ?= COMPATIBLE
export OPENBLAS_CORETYPE ?= Haswell
export NUMBA_CPU_NAME ?= haswell
ifneq ($(shell grep -s -m1 -o avx512f /proc/cpuinfo),)
export NPY_DISABLE_CPU_FEATURES ?= X86_V4 AVX512_ICL AVX512_SPR
endif
endif
DASK ?=
ifneq ($(DASK),)
export MUSICGEO_DASK := $(DASK)
endif

.PHONY: lock all env report notebooks golden test check unit nbval after-nbval bench clean clean-data help
all: report

help:
	@sed -n '1,13p' Makefile

# --- environment ------------------------------------------------------------
# The venv is made only when PYTHON is the project venv and it is missing or
# older than the requirements. conda is used when present, else python -m venv.
# torch comes first, by pip (a machine's own wheel of it, where pip is told of one); the
# pinned uv then installs the lock (the same wheels as pip, in seconds; pip if uv fails).
# Exact versions come from the lock file of the interpreter's Python version
# (requirements.lock for 3.11, requirements-py312.lock for 3.12), made by
# `make lock` from requirements.in.
LOCK = $(if $(filter 3.12,$(shell $(PYTHON_FOR_VENV) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)),requirements-py312.lock,requirements.lock)
PYTHON_FOR_VENV ?= python3
$(VENV)/.installed: requirements.lock requirements-py312.lock requirements-nodeps.txt pyproject.toml
	@if command -v conda >/dev/null 2>&1 && [ ! -x $(VENV)/bin/python ]; then \
	  conda create -y -p $(VENV) python=3.11 pip; \
	elif [ ! -x $(VENV)/bin/python ]; then \
	  $(PYTHON_FOR_VENV) -m venv $(VENV); \
	fi
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q "$(TORCH_SPEC)" "$(UV_SPEC)"
	$(VENV)/bin/python -m uv pip install -q --python $(VENV)/bin/python --compile-bytecode -r $(LOCK) \
	  || $(VENV)/bin/python -m pip install -q -r $(LOCK)
	$(VENV)/bin/python -m pip install -q --no-deps -r requirements-nodeps.txt
	$(VENV)/bin/python -m pip install -q --no-deps -e .
	$(VENV)/bin/python tools/warm_numba_cache.py
	$(VENV)/bin/python -m ipykernel install --prefix $(VENV) --name python3 >/dev/null
	touch $@

# Re-make the lock files after editing requirements.in (uv, pinned; commit the result).
lock: env
	$(PYTHON) -m pip install -q "$(UV_SPEC)"
	$(PYTHON) -m uv pip compile requirements.in --python-version 3.11 -o requirements.lock
	$(PYTHON) -m uv pip compile requirements.in --python-version 3.12 --constraint requirements.lock \
	  -o requirements-py312.lock

ifeq ($(PYTHON),$(VENV)/bin/python)
env: $(VENV)/.installed
else
env:
	@echo "using $(PYTHON) as it is (no venv made)"
endif

# --- the report ---------------------------------------------------------------
report: env
	$(PYTHON) -m musicgeo_utils.pipeline run --profile $(PROFILE) --seed $(SEED) \
	  --dataset $(DATASET) --data-root "$(DATA_ROOT)" --out $(EXECUTED) $(NOTEBOOKS)
	$(PYTHON) -m musicgeo_utils.report $(EXECUTED) $(REPORT_DIR)/report.html
	@echo "report: $(REPORT_DIR)/report.html"

# Re-execute the notebooks in place: their outputs are the golden values nbval
# checks. Run after changing a notebook or the pipeline, then commit.
golden: env
	$(PYTHON) -m musicgeo_utils.pipeline run --profile small --seed 0 --in-place $(NOTEBOOKS)

# --- tests ---------------------------------------------------------------------
# `make test` runs the stages below in order and prints a time ledger at the end
# (also reports/test-ledger.tsv): budget in seconds (they add up to the 30 minutes
# README's ledger promises), then the command. Stages
# named "(after nbval)" read what the notebooks wrote under data/ and run only
# when nbval passed. `make check` is the unit tests alone, for day-to-day work.
TEST_STAGES = \
  "environment (make env):90:$(MAKE) --no-print-directory env" \
  "unit tests (make check):150:$(MAKE) --no-print-directory unit" \
  "nbval (notebooks, cold caches):1440:$(MAKE) --no-print-directory nbval" \
  "notebook outputs (after nbval):120:$(MAKE) --no-print-directory after-nbval"

# The ledger script needs only the standard library, so it runs before the venv exists.
test:
	python3 tools/test_ledger.py $(TEST_STAGES)

check: unit

# The unit and after-nbval tests run on TEST_WORKERS pytest-xdist workers (2: CI's cores);
# loadgroup keeps tests marked with one xdist_group on one worker and puts the two
# dataset chains of tests/after_nbval on different ones. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
XDIST = -n $(TEST_WORKERS) --dist loadgroup

unit: env
	$(PYTHON) -m pytest -q $(XDIST) tests --ignore=tests/after_nbval

after-nbval: env
	MUSICGEO_TEST_STAGE=after-nbval $(PYTHON) -m pytest -q $(XDIST) -p no:cacheprovider tests/after_nbval

# --durations: the slowest cells (over 20 s) close the stage's output, so a log says where its time went.
nbval: env
	$(PYTHON) -m pytest -q --nbval-lax --nbval-current-env --durations=15 --durations-min=20 \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider $(NOTEBOOKS)

bench: env
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PYTHON) $$b || exit 1; done

# --- housekeeping ------------------------------------------------------------
clean:
	rm -rf $(EXECUTED) reports/report.html reports/maps reports/screenshots

clean-data:
	rm -rf data
