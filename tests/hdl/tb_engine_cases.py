"""cocotb testbench of msp_engine: the contract cases (tests/hdl/engine_cases.py), every op at
small sizes and every error code, through msp_pynq/hw/testbench/tb_engine.py's bus models.

Run with tb_engine by tests/hdl/test_engine.py (``msp_pynq.hw.simulate.replay(...,
extra_test_modules=["tb_engine_cases"], test_dir=tests/hdl)``: the simulator runs in this folder,
so this module and engine_cases import by their own names); MSP_BOARD picks the profile
(default pynq-z2), MSP_CASES_DUMP (a file) collects the outputs that differ."""
import json
import os

import cocotb
from cocotb.triggers import ClockCycles

from msp_pynq.boards.profiles import get_profile
from msp_pynq.engine.cycles import modelled_cycles
from msp_pynq.engine.registers import (CTRL_SOFT_RESET, ST_DONE, ST_ERR_CODE_SHIFT, ST_ERR_PACKET_SHIFT,
                                        ST_ERROR, Reg, describe_status)
from msp_pynq.hw.testbench.tb_engine import run_layer, setup_engine


@cocotb.test()
async def contract_cases(dut):
    """Every op at small sizes and every error code (engine_cases), with a soft reset after each error."""
    from engine_cases import cases                      # (numpy-heavy: only where used)
    axil, source, sink = await setup_engine(dut)
    failures = []
    board = os.environ.get("MSP_BOARD", "pynq-z2")
    profile = get_profile(board)
    for case in cases(board):
        r = await run_layer(dut, axil, source, sink, dict(case.desc.registers()), case.packets, 400_000)
        if case.error is None:
            # bit-exact, and at the cycle model's pace: within 15% here (the model leaves out a few
            # cycles per output row and position that a small layer shows; the full-size layers of
            # test_engine's replay are held to 10%)
            model = modelled_cycles(case.desc, profile)
            ok = r["status"] & ST_DONE and r["output"] == case.output and abs(model - r["cycles"]) <= 0.15 * model
            got = f"{describe_status(r['status'])}, {r['cycles']} cycles, model {model}"
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
