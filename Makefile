# Everything installs into .venv from the package registries; nothing else is needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NOTEBOOKS := notebooks/quickstart.ipynb
PORT ?= 8888

.PHONY: install lab test bench notebooks clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,lab]"
	touch $(STAMP)

## JupyterLab on the quickstart notebook, with the embedded demo server (no config needed).
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --port $(PORT) notebooks/quickstart.ipynb

## The whole test suite: unit, integration, real-kernel and notebook (nbval) tests.
test: $(STAMP)
	$(PY) -m pytest --nbval --nbval-sanitize-with notebooks/quickstart.sanitize.cfg tests $(NOTEBOOKS)

## Benchmarks: ratios measured side by side in one run.
bench: $(STAMP)
	$(PY) bench/cell_overhead.py

clean:
	rm -rf $(VENV) build dist .pytest_cache

## Re-execute the notebooks in place (after a change to what reports show).
notebooks: $(STAMP)
	cd notebooks && $(abspath $(VENV))/bin/jupyter nbconvert --to notebook --execute --inplace $(notdir $(NOTEBOOKS))
