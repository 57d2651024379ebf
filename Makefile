# perf-runbook: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | md5sum | cut -c1-8)
LABCTL := $(BIN)/python lab/labctl.py
# Tools of the venv first, so ansible-playbook, ansible-lint and pytest agree on one Python.
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

DEMO_FAULT ?= missing-index
DEMO_STORE ?= $(CURDIR)/incidents

.PHONY: help system-deps venv lab-up lab-down lab-destroy lab-status demo lint unit integration test bench bench-bigkeys clean

help:
	@echo "make demo    install what is missing, start the lab, inject a fault ($(DEMO_FAULT)), run the runbook, print the report"
	@echo "make test    install what is missing, run lint and every test against the lab"
	@echo "make lab-up | lab-down | lab-destroy | lab-status    the local lab alone"
	@echo "make bench   diagnosis wall time against the runbook's own shell commands (BENCHMARKS.md)"

system-deps:
	@bash lab/install-system-deps.sh

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

lab-up: system-deps venv
	$(LABCTL) up

lab-down: venv
	$(LABCTL) down

lab-destroy: venv
	$(LABCTL) destroy

lab-status: venv
	$(LABCTL) status

# Faults that grow with time (a query's age, a lock's wait) are given a few seconds to cross the
# runbook's 5 s critical threshold, as they would have by the time someone is paged.
AGING_FAULTS := long-query blocking-lock
DEMO_AGE_SECONDS ?= 6

demo: lab-up
	@$(LABCTL) clear all >/dev/null
	@$(LABCTL) reset-stats >/dev/null
	@echo "== injecting fault: $(DEMO_FAULT)"
	@$(LABCTL) inject $(DEMO_FAULT)
	@if [ -n "$(filter $(DEMO_FAULT),$(AGING_FAULTS))" ]; then \
		echo "== letting it age $(DEMO_AGE_SECONDS) s"; sleep $(DEMO_AGE_SECONDS); fi
	@echo "== running the runbook against the lab"
	@PERF_INCIDENT_STORE=$(DEMO_STORE) ansible-playbook playbooks/performance_degradation.yml \
		-e incident_alert=HighResponseTime || { $(LABCTL) clear $(DEMO_FAULT) >/dev/null; exit 1; }
	@echo "== clearing fault: $(DEMO_FAULT)"
	@$(LABCTL) clear $(DEMO_FAULT) >/dev/null
	@latest=$$(ls -td $(DEMO_STORE)/INC-* | head -n 1); echo "== report: $$latest/report.md"; echo; cat "$$latest/report.md"
	@echo; echo "The lab keeps running on 127.0.0.1 (PostgreSQL 25432, Redis 26379, demo API 28080): make lab-down stops it."

lint: venv
	ruff check .
	ruff format --check .
	yamllint --strict .
	ansible-lint --offline -q
	@for module in library/*.py; do \
		name=$$(basename $$module .py); \
		ansible-doc -M library $$name >/dev/null || { echo "ansible-doc cannot render $$name"; exit 1; }; \
	done; echo "ansible-doc renders every module"
	@for playbook in playbooks/*.yml; do \
		ansible-playbook --syntax-check -i inventories/lab/hosts.yml $$playbook >/dev/null || exit 1; \
	done; echo "every playbook passes --syntax-check"

unit: venv
	pytest -q tests/unit

integration: system-deps venv
	pytest -q tests/integration

# Lint first (cheap), then every test; the integration tests start the lab themselves and stop it after.
test: system-deps venv lint
	pytest -q tests

bench: lab-up
	$(BIN)/python bench/diagnose_bench.py

# redis_bigkeys against redis-cli --bigkeys on a million keys (about three minutes).
bench-bigkeys: lab-up
	$(BIN)/python bench/bigkeys_bench.py

clean:
	rm -rf .pytest_cache .ruff_cache .ansible
