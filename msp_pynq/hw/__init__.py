"""The Verilog engine from Python: its generics per board and its cocotb simulation (hdl extra)."""
