# Set-up and entry points. Everything the project needs is installed from here, so a fresh
# Debian machine only needs Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8830
STATE  ?= ./var
# yanglint (the YANG oracle), scep (a SCEP client), and two NETCONF clients of the interop
# tests: yangcli and OpenSSH (scrapli's default transport runs `ssh`).
DEBS   := libyang2-tools scep yangcli openssh-client
# Ansible gets a venv of its own: ansible 13+ needs Python 3.12, and its pins must not move the
# project's. 12 is the newest major that installs on 3.11.
ANSIBLE_VENV := .venv-ansible
ANSIBLE_PKGS := "ansible==12.*" ncclient==0.7.1

.PHONY: run test lint bench debs venv ansible clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

ansible: $(ANSIBLE_VENV)/.installed

$(ANSIBLE_VENV)/.installed: Makefile
	test -x $(ANSIBLE_VENV)/bin/python || $(PYTHON) -m venv $(ANSIBLE_VENV)
	$(ANSIBLE_VENV)/bin/python -m pip install -q --upgrade pip
	$(ANSIBLE_VENV)/bin/python -m pip install -q $(ANSIBLE_PKGS)
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

test: venv debs ansible
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check agent tests tools

bench: venv
	$(PY) tools/bench.py --help

clean:
	rm -rf $(VENV) $(ANSIBLE_VENV) build *.egg-info
