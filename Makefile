# make bench: the benchmark (GPU: the prompt's case against copy and the peers; no GPU: a small
#             interpreted case). ARGS="--suite --json r.json --plot r.png" passes options.
# make test:  the test suite (no GPU: kernels run under TRITON_INTERPRET=1; GPU: plus large shapes).
#
# With a CUDA device, the python3 found there must already hold torch and triton (GPU machines
# often have no package registry); without one, a virtualenv gets the pinned CPU stack from PyPI.
PYTHON ?= python3
HAS_CUDA := $(shell $(PYTHON) -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null)
ifeq ($(HAS_CUDA),1)
PY := $(PYTHON)
ENV := gpu-env
else
PY := .venv/bin/python
ENV := .venv/.installed
endif
export PYTHONPATH := $(CURDIR)/src

.PHONY: test bench gpu-env kernelbench

.venv/.installed: requirements-cpu.txt
	$(PYTHON) -m venv .venv
	.venv/bin/python -m pip install -q --upgrade pip
	.venv/bin/python -m pip install -q -r requirements-cpu.txt
	touch $@

gpu-env:
	@$(PY) -c "import torch, triton, pytest, hypothesis; print('torch', torch.__version__, 'triton', triton.__version__)"

test: $(ENV)
	$(PY) -m pytest -q -n 2 $(ARGS)

bench: $(ENV)
	$(PY) -m triton_cumprod.bench $(ARGS)

kernelbench: $(ENV)
	$(PY) -m triton_cumprod.kernelbench --write --check kernelbench/90_cumprod.py
