"""cocotb testbenches of the Verilog engine that the package itself runs (:mod:`msp_pynq.hw.simulate`).

The modules here import cocotb and cocotbext-axi (the ``hdl`` extra) and run only inside a
simulator, loaded by name (``msp_pynq.hw.testbench.tb_engine``); this package imports none of
them, and nothing else in msp_pynq imports them at module level. ``tb_common`` is shared with
the unit testbenches of ``tests/hdl``.
"""
