# Two entry points for a fresh machine (see README.md):
#   make demo   create .venv, install, run the main job (synthetic world, no downloads)
#   make test   create .venv if needed, install the test and lint extras, run the whole test suite
#               (with the code checks: ruff lint, mypy, the import-layer contract)
# Both are idempotent: the install step re-runs only when pyproject.toml changes.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
# torch first, pinned: on these CPU machines this version is a wheel on disk, whereas a bare
# torch requirement on a fresh environment pulls a CUDA build of several GB.
TORCH  ?= torch==2.13.0
STAMP   = $(VENV)/.installed

.PHONY: demo test install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e ".[agents,text,test,lint]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/poser demo

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
