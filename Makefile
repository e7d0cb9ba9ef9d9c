# Two commands for people: `make run` (install, fetch the default model, open the app) and
# `make test`. Both create .venv and install everything first; nothing is installed by hand.
VENV ?= .venv
PY := $(VENV)/bin/python
LADDER := $(VENV)/bin/ladder
# torch is installed on its own first so that one explicit release is chosen (a CPU or CUDA build);
# override with e.g. `make run TORCH_SPEC=torch` on a GPU box.
TORCH_SPEC ?= torch==2.13.0
MODEL ?= qwen2.5-coder-0.5b
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast bench

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(LADDER) models pull $(MODEL)
	$(LADDER) --model $(MODEL)

test: install
	$(VENV)/bin/pytest -q

test-fast: install
	$(VENV)/bin/pytest -q -m "not slow"

bench: install
	$(PY) bench/verifier.py
	$(PY) bench/inference.py
	$(PY) bench/variants.py
	$(PY) bench/grpo_step.py
	$(PY) bench/tui_events.py
