"""The tb_*.py files are cocotb testbenches, loaded by the simulator (test_rtl_units.py and
test_engine.py run it in this folder, so they import by their own names); pytest must not import
them itself for doctests. Their shared clock and reset are msp_pynq/hw/testbench/tb_common.py."""
collect_ignore_glob = ["tb_*.py"]
