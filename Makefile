# msp-pynq developer commands. `make demo` sets up a fresh machine and runs the main job;
# `make test` runs the whole test suite (installing Icarus Verilog and Yosys where missing).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup hdl-tools demo bench test clean cifar10-results

setup: $(VENV)/.installed

$(VENV)/.installed: setup.py constraints.txt
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[host,test,hdl]"
	touch $@

hdl-tools:
	@command -v iverilog >/dev/null && command -v yosys >/dev/null || \
	  ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq iverilog yosys)

# Main job: the emulator benchmark on a synthetic ResNet-20 (quick settings).
demo: setup
	$(PY) benchmarks/bench_emulator.py --quick

# Full benchmark, rewriting the committed report.
bench: setup
	$(PY) benchmarks/bench_emulator.py --report docs/benchmarks/emulator.md

# Train every model of docs/results/cifar10.md (hours; resumable) and rebuild the report.
cifar10-results: setup
	PY=$(PY) scripts/cifar10_experiments.sh

test: setup hdl-tools
	$(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
