"""The tb_*.py files are cocotb testbenches, loaded by the simulator (test_rtl_units.py puts this
folder on their PYTHONPATH); pytest must not import them itself for doctests."""
collect_ignore_glob = ["tb_*.py"]
