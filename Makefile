# Two entry points for a fresh machine (see README.md):
#   make demo   create .venv, install, run the main job (synthetic world, no downloads)
#   make test   create .venv if needed, install the test and lint extras, run the whole test suite
#               (with the code checks: ruff lint, mypy, the import-layer contract); then the RLlib
#               tests in their own environment (make test-rllib, below)
# Both are idempotent: the install step re-runs only when pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
# torch first, pinned: on these CPU machines this version is a wheel on disk, whereas a bare
# torch requirement on a fresh environment pulls a CUDA build of several GB.
TORCH  ?= torch==2.13.0
STAMP   = $(VENV)/.installed

# RLlib: ray[rllib] 2.60 pins gymnasium==1.2.2 while .venv has gymnasium 1.4, so RLlib gets its
# own environment, which also runs the env's own tests on gymnasium 1.2 (docs/scaling.md).
RLLIB_VENV ?= .venv-rllib
RLLIB_PY    = $(RLLIB_VENV)/bin/python
RLLIB_STAMP = $(RLLIB_VENV)/.installed
RLLIB_GYM  ?= gymnasium==1.2.2

.PHONY: demo test test-rllib install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e ".[agents,text,test,lint,ray]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/poser demo --overwrite

test: $(STAMP)
	$(PY) -m pytest -n 2 -q
	$(MAKE) test-rllib

$(RLLIB_STAMP): pyproject.toml
	$(PYTHON) -m venv $(RLLIB_VENV)
	$(RLLIB_PY) -m pip install --quiet --upgrade pip
	$(RLLIB_PY) -m pip install --quiet "$(TORCH)"
	$(RLLIB_PY) -m pip install --quiet "$(RLLIB_GYM)" -e ".[rllib]" "pytest>=7" "hypothesis>=6.80"
	touch $(RLLIB_STAMP)

test-rllib: $(RLLIB_STAMP)
	$(RLLIB_PY) -m pytest -q -p no:cacheprovider tests/agents/distributed/test_rllib.py \
		tests/test_env.py tests/test_registry.py tests/test_wrappers.py -k "not sb3"

clean:
	rm -rf $(VENV) $(RLLIB_VENV) runs .pytest_cache .hypothesis
