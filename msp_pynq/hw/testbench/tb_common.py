"""Shared by the AXI testbenches: the clock, idle inputs and the active-low reset."""
import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles


def start_clock(dut, idle_inputs=()) -> None:
    """Start a 100 MHz ``aclk`` and drive ``idle_inputs`` to 0 (before a bus model attaches)."""
    cocotb.start_soon(Clock(dut.aclk, 10, unit="ns").start())
    for name in idle_inputs:
        getattr(dut, name).value = 0


async def reset(dut, cycles: int = 3) -> None:
    """Hold ``aresetn`` low for ``cycles`` clocks, then release it and let two clocks pass."""
    dut.aresetn.value = 0
    await ClockCycles(dut.aclk, cycles)
    dut.aresetn.value = 1
    await ClockCycles(dut.aclk, 2)
