# Two commands on a fresh machine: `make train` and `make test`.
# Both create .venv if it is missing and install the project into it first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Machines without CUDA get the CPU build of torch 2.13.0 (a plain `torch` requirement pulls a
# multi-GB CUDA build). Off this workplace, point TORCH_INDEX at PyTorch's CPU wheel index.
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?=
ARGS ?=

.PHONY: install train test test-slow lint typecheck ci bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	if ! $(PY) -c "import torch" 2>/dev/null; then \
	  if command -v nvidia-smi >/dev/null 2>&1; then \
	    $(PY) -m pip install --quiet "torch==$(TORCH_VERSION)"; \
	  else \
	    $(PY) -m pip install --quiet "torch==$(TORCH_VERSION)" \
	      $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)); \
	  fi; \
	fi
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The default job: PPO on Breakout distilling the shipped Breakout teacher until the student
# reaches it or it is shown to hurt (teacher.lam_schedule=stop; 10M agent steps; stop it any
# time and continue with `python -m rl_auxgrad.train --resume
# runs/Breakout__ppo__multitask-stop__seed1`). Overrides go in ARGS,
# e.g. make train ARGS="total_steps=200000 seed=2".
train: $(STAMP)
	$(PY) -m rl_auxgrad.train $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -n 2 $(ARGS)

# The slow tests: the SIGKILL loop, the Ray sweep (skipped without ray).
test-slow: $(STAMP)
	$(PY) -m pytest -m slow $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check rl_auxgrad tests scripts

# mypy, strict, over the gating core (the files and settings: [tool.mypy] in pyproject.toml).
typecheck: $(STAMP)
	$(PY) -m mypy

# What .ci/run runs: lint, the type check, the test suite, the slow tests.
ci: lint typecheck test test-slow

bench: $(STAMP)
	$(PY) scripts/bench_gating.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache
