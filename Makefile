# Set-up and entry points. Everything the project needs is installed from here, so a fresh
# Debian machine only needs Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8830
STATE  ?= ./var
DEBS   := libyang2-tools scep

.PHONY: run test lint bench debs venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# Debian packages for the tests (yanglint is the independent YANG oracle). Only root can
# install them; anyone else must have them already.
debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing Debian packages:$$missing (install them as root)"; exit 1; fi; \
	fi

run: venv
	$(VENV)/bin/pki-agent --host $(HOST) --port $(PORT) --state-dir $(STATE)

test: venv debs
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check agent tests tools

bench: venv
	$(PY) tools/bench.py --help

clean:
	rm -rf $(VENV) build *.egg-info
