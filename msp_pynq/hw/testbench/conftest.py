"""The tb_*.py files are cocotb testbenches, imported by the simulator only (they need the ``hdl``
extra); pytest's doctest collection of msp_pynq must not import them."""
collect_ignore_glob = ["tb_*.py"]
