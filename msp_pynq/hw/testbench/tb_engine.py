"""cocotb testbench of msp_engine: replays the runtime's recorded layers (register writes through
cocotbext-axi's AXI4-Lite master, MM2S packets through its AXI4-Stream source) and compares the
S2MM packet, read by its AXI4-Stream sink, with the recorded one byte for byte.

Environment: MSP_REPLAY (a replay file, msp_pynq.hw.replay), MSP_REPLAY_LAYERS (comma-separated
layer indices, default all), MSP_REPLAY_OUT (a JSON file for each layer's result and cycles).

:func:`setup_engine`, :func:`run_layer` (or :func:`start_layer` and :func:`finish_layer`) and
:func:`recover` are shared with tests/hdl/tb_engine_cases.py (small layers of every op and every
error code) and tests/hdl/tb_engine_stress.py (stalls, recovery mid-packet, random layers), which :mod:`msp_pynq.hw.simulate` runs alongside when
asked to. Loaded by the simulator only (cocotb, cocotbext-axi: the ``hdl`` extra)."""
import json
import logging
import os

import cocotb
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from msp_pynq.engine.registers import CTRL_SOFT_RESET, CTRL_START, ST_DONE, ST_ERROR, Reg, describe_status
from msp_pynq.hw import replay
from msp_pynq.hw.testbench.tb_common import reset, start_clock


async def setup_engine(dut):
    start_clock(dut)
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi"), dut.aclk, dut.aresetn, reset_active_level=False)
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.aclk, dut.aresetn, reset_active_level=False)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.aclk, dut.aresetn, reset_active_level=False)
    for bus in (axil.read_if, axil.write_if, source, sink):
        bus.log.setLevel(logging.WARNING)                  # no line per transfer
    await reset(dut, 4)
    return axil, source, sink


async def start_layer(axil, source, registers: dict, packets: list) -> None:
    """Write the descriptor, START, queue the packets on the MM2S source."""
    for offset, value in sorted(registers.items()):
        await axil.write_dword(offset, value)
    await axil.write_dword(Reg.CONTROL, CTRL_START)
    for packet in packets:
        await source.send(AxiStreamFrame(packet))


async def run_layer(dut, axil, source, sink, registers: dict, packets: list, max_cycles: int) -> dict:
    """Write the descriptor, START, stream the packets; wait for DONE or ERROR (bounded)."""
    await start_layer(axil, source, registers, packets)
    return await finish_layer(dut, axil, sink, max_cycles)


async def finish_layer(dut, axil, sink, max_cycles: int) -> dict:
    """Wait for DONE or ERROR (bounded); the output packet (on DONE), STATUS, CYCLES, ERROR_INFO."""
    status, waited = 0, 0
    while not status & (ST_DONE | ST_ERROR):
        await ClockCycles(dut.aclk, 64)
        waited += 64
        assert waited < max_cycles, f"no DONE or ERROR after {waited} cycles"
        status = await axil.read_dword(Reg.STATUS)
    output = b""
    if status & ST_DONE:
        await ClockCycles(dut.aclk, 2)
        output = bytes(sink.recv_nowait().tdata) if not sink.empty() else b""
    cycles = await axil.read_dword(Reg.CYCLES_LO) | await axil.read_dword(Reg.CYCLES_HI) << 32
    info = await axil.read_dword(Reg.ERROR_INFO)
    return {"status": status, "output": output, "cycles": cycles, "error_info": info}


def dma_reset(source, sink) -> None:
    """The AXI DMA's soft reset, as the engine sees it: MM2S aborts its packet (TVALID falls, no
    TLAST follows, the queued packets are gone) and S2MM drops a partial output packet."""
    for bus in (source, sink):
        bus._handle_reset(True)
        bus.clear()
    for bus in (source, sink):
        bus._handle_reset(False)


async def recover(dut, axil, source, sink) -> int:
    """The driver's recovery after an error or a timeout (docs/registers.md 6, msp_pynq.runtime's
    ``recover``): the DMA's reset, then the engine's soft reset; returns STATUS 16 cycles later."""
    dma_reset(source, sink)
    await axil.write_dword(Reg.CONTROL, CTRL_SOFT_RESET)
    await ClockCycles(dut.aclk, 16)
    return await axil.read_dword(Reg.STATUS)


@cocotb.test()
async def replayed_layers_match_the_runtime(dut):
    if not os.environ.get("MSP_REPLAY"):
        return                                                  # only the contract cases were asked for
    layers = replay.load(os.environ["MSP_REPLAY"])
    pick = os.environ.get("MSP_REPLAY_LAYERS", "all")
    if pick != "all":
        layers = [layers[int(i)] for i in pick.split(",")]
    axil, source, sink = await setup_engine(dut)
    results, failures = [], []
    for layer in layers:
        budget = 64 * (sum(map(len, layer.mm2s)) + len(layer.s2mm)) + 2_000_000
        r = await run_layer(dut, axil, source, sink, layer.registers, layer.mm2s, budget)
        same = r["output"] == layer.s2mm
        results.append({"layer": layer.index, "op": layer.descriptor.op_name, "what": layer.describe(),
                        "descriptor": layer.descriptor.as_dict(), "cycles": r["cycles"], "bit_exact": same,
                        "status": describe_status(r["status"])})
        dut._log.info("%s: %s, %d cycles, %s", layer.describe(), describe_status(r["status"]), r["cycles"],
                      "bit-exact" if same else "MISMATCH")
        if not same:
            failures.append(layer.describe())
            results[-1]["output"] = r["output"].hex()              # for diagnosis
    if os.environ.get("MSP_REPLAY_OUT"):
        with open(os.environ["MSP_REPLAY_OUT"], "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)
    assert not failures, f"output differs from the runtime's: {failures}"

