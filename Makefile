# Two commands for people: `make run` (install, fetch the default models, open the app) and
# `make test`. Both create .venv and install everything first; nothing is installed by hand.
VENV ?= .venv
PY := $(VENV)/bin/python
LADDER := $(VENV)/bin/ladder
# torch is installed on its own first so that one explicit release is chosen (a CPU or CUDA build);
# override with e.g. `make run TORCH_SPEC=torch` on a GPU box.
TORCH_SPEC ?= torch==2.13.0
# The app answers with the registry's default (qwen2.5-coder-1.5b) and trains the 0.5B; `make run`
# fetches both. `make run MODEL=NAME` uses NAME for both.
MODEL ?=
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast bench mutate

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(LADDER) models pull $(MODEL)
	$(LADDER) $(if $(MODEL),--model $(MODEL))

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

# Mutation testing of the decision code (scope and tests: [tool.mutmut] in pyproject.toml), in a copy
# of the tracked files so the checkout stays clean; writes bench/results/mutation.json (counts per
# area, the mutants no test killed split into known-equivalent ones, with the reason from
# tests/mutation_equivalent.json, and open ones, with their diff; wall seconds). About 20 minutes on 2 cores.
MUTATE_DIR ?= /tmp/ladder-mutate
MUTATE_JOBS ?= 2
MUTMUT = $(abspath $(VENV))/bin/mutmut

mutate: install
	rm -rf $(MUTATE_DIR) && mkdir -p $(MUTATE_DIR)
	git ls-files -z | xargs -0 tar -cf - 2>/dev/null | tar -xf - -C $(MUTATE_DIR)
	start=$$(date +%s); cd $(MUTATE_DIR) && $(MUTMUT) run --max-children $(MUTATE_JOBS) > mutmut.log 2>&1; \
	  echo $$(( $$(date +%s) - start )) > seconds.txt
	cd $(MUTATE_DIR) && $(MUTMUT) export-cicd-stats
	$(PY) tests/mutation_report.py $(MUTATE_DIR) $(MUTATE_JOBS) > bench/results/mutation.json.tmp
	mv bench/results/mutation.json.tmp bench/results/mutation.json
	@$(PY) -c 'import json; d = json.load(open("bench/results/mutation.json")); print(d["seconds"], "s", json.dumps(d["by_area"]))'
