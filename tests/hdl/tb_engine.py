"""cocotb testbench of msp_engine: replays the runtime's recorded layers (register writes through
cocotbext-axi's AXI4-Lite master, MM2S packets through its AXI4-Stream source) and compares the
S2MM packet, read by its AXI4-Stream sink, with the recorded one byte for byte.

Environment: MSP_REPLAY (a replay file, msp_pynq.hw.replay), MSP_REPLAY_LAYERS (comma-separated
layer indices, default all), MSP_REPLAY_OUT (a JSON file for each layer's result and cycles)."""
import json
import logging
import os

import cocotb
from cocotb.triggers import ClockCycles
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from msp_pynq.runtime import replay
from msp_pynq.engine.registers import (CTRL_SOFT_RESET, CTRL_START, ST_DONE, ST_ERR_CODE_SHIFT,
                                        ST_ERR_PACKET_SHIFT, ST_ERROR, Reg, describe_status)

from tb_common import reset, start_clock


async def setup_engine(dut):
    start_clock(dut)
    axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi"), dut.aclk, dut.aresetn, reset_active_level=False)
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.aclk, dut.aresetn, reset_active_level=False)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.aclk, dut.aresetn, reset_active_level=False)
    for bus in (axil.read_if, axil.write_if, source, sink):
        bus.log.setLevel(logging.WARNING)                  # no line per transfer
    await reset(dut, 4)
    return axil, source, sink


async def run_layer(dut, axil, source, sink, registers: dict, packets: list, max_cycles: int) -> dict:
    """Write the descriptor, START, stream the packets; wait for DONE or ERROR (bounded)."""
    for offset, value in sorted(registers.items()):
        await axil.write_dword(offset, value)
    await axil.write_dword(Reg.CONTROL, CTRL_START)
    for packet in packets:
        await source.send(AxiStreamFrame(packet))
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


@cocotb.test()
async def contract_cases(dut):
    """Every op at small sizes and every error code (engine_cases), with a soft reset after each error."""
    from engine_cases import cases                      # (numpy-heavy: only where used)
    axil, source, sink = await setup_engine(dut)
    failures = []
    for case in cases(os.environ.get("MSP_BOARD", "pynq-z2")):
        r = await run_layer(dut, axil, source, sink, dict(case.desc.registers()), case.packets, 400_000)
        if case.error is None:
            ok = r["status"] & ST_DONE and r["output"] == case.output
            got = describe_status(r["status"])
        else:
            got = ((r["status"] >> ST_ERR_CODE_SHIFT) & 0xF, (r["status"] >> ST_ERR_PACKET_SHIFT) & 0xF, r["error_info"])
            ok = r["status"] & ST_ERROR and got == case.error
            await source.wait()                                # the rest of the packets are drained
            # the driver's recovery: the DMA's reset (S2MM drops a partial output packet), then the
            # engine's soft reset
            sink._handle_reset(True)
            sink._handle_reset(False)
            sink.clear()
            await axil.write_dword(Reg.CONTROL, CTRL_SOFT_RESET)
            await ClockCycles(dut.aclk, 16)
            status = await axil.read_dword(Reg.STATUS)
            ok = ok and status & 0x7 == 0
        dut._log.info("%s: %s (%s)", case.name, "ok" if ok else "WRONG", got)
        if not ok:
            failures.append(f"{case.name}: got {got}, want {case.error or 'the reference output'}")
            if case.error is None and os.environ.get("MSP_CASES_DUMP"):
                with open(os.environ["MSP_CASES_DUMP"], "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"case": case.name, "got": r["output"].hex(), "want": case.output.hex()}) + "\n")
    assert not failures, failures
