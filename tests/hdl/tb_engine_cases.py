"""cocotb testbench of msp_engine: the contract cases (tests/hdl/engine_cases.py), every op at
small sizes and every error code, and layers of random geometry and at the buffers' limits,
through msp_pynq/hw/testbench/tb_engine.py's bus models.

Run with tb_engine by tests/hdl/test_engine.py (``msp_pynq.hw.simulate.replay(...,
extra_test_modules=["tb_engine_cases"], test_dir=tests/hdl)``: the simulator runs in this folder,
so this module and engine_cases import by their own names); MSP_BOARD picks the profile
(default pynq-z2), MSP_ENGINE_SEED the random layers' seed (engine_cases.RANDOM_SEED if unset),
MSP_CASES_DUMP (a file) collects the outputs that differ."""
import json
import os

import cocotb

from msp_pynq.boards.profiles import get_profile
from msp_pynq.engine.cycles import modelled_cycles
from msp_pynq.engine.registers import ST_DONE, ST_ERR_CODE_SHIFT, ST_ERR_PACKET_SHIFT, ST_ERROR, ST_PACKETS_SHIFT, \
    describe_status
from msp_pynq.hw.testbench.tb_engine import recover, run_layer, setup_engine


def done_status(case) -> int:
    """STATUS after a layer that completed: DONE, and every packet consumed."""
    return ST_DONE | len(case.packets) << ST_PACKETS_SHIFT


async def check_cases(dut, buses, cases, profile, tolerance: "float | None") -> "list[str]":
    """Run each case; a failure's text for every case whose STATUS, output, CYCLES (within
    ``tolerance`` of the cycle model, unless None) or error differs from what it expects. After an
    error, the driver's recovery must leave STATUS 0."""
    axil, source, sink = buses
    failures = []
    for case in cases:
        r = await run_layer(dut, axil, source, sink, dict(case.desc.registers()), case.packets, 400_000)
        if case.error is None:
            model = modelled_cycles(case.desc, profile)
            ok = (r["status"] == done_status(case) and r["error_info"] == 0 and r["output"] == case.output
                  and (tolerance is None or abs(model - r["cycles"]) <= tolerance * model))
            got = f"{describe_status(r['status'])}, {r['cycles']} cycles, model {model}"
            if r["output"] != case.output:
                got += f", {sum(a != b for a, b in zip(r['output'], case.output))} bytes differ" \
                       f" ({len(r['output'])} of {len(case.output)})"
        else:
            got = ((r["status"] >> ST_ERR_CODE_SHIFT) & 0xF, (r["status"] >> ST_ERR_PACKET_SHIFT) & 0xF, r["error_info"])
            ok = r["status"] & ST_ERROR and got == case.error
            await source.wait()                                # the rest of the packets are drained
            # the driver's recovery: the DMA's reset (S2MM drops a partial output packet), then the
            # engine's soft reset
            status = await recover(dut, axil, source, sink)
            ok = ok and status == 0
        dut._log.info("%s: %s (%s)", case.name, "ok" if ok else "WRONG", got)
        if not ok:
            want = case.error or ("the reference output" if r["output"] != case.output
                                  else f"cycles within {tolerance:.0%} of the model" if tolerance is not None
                                  and abs(model - r["cycles"]) > tolerance * model else "DONE, ERROR_INFO 0")
            failures.append(f"{case.name}: got {got}, want {want}")
            if case.error is None and os.environ.get("MSP_CASES_DUMP"):
                with open(os.environ["MSP_CASES_DUMP"], "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"case": case.name, "got": r["output"].hex(), "want": case.output.hex()}) + "\n")
    return failures


@cocotb.test()
async def contract_cases(dut):
    """Every op at small sizes and every error code (engine_cases), with a soft reset after each error."""
    from engine_cases import cases                      # (numpy-heavy: only where used)
    board = os.environ.get("MSP_BOARD", "pynq-z2")
    # bit-exact, and at the cycle model's pace: within 15% here (the model leaves out a few
    # cycles per output row and position that a small layer shows; the full-size layers of
    # test_engine's replay are held to 10%)
    failures = await check_cases(dut, await setup_engine(dut), cases(board), get_profile(board), 0.15)
    assert not failures, failures


@cocotb.test()
async def random_layers(dut):
    """Layers of random geometry (engine_cases.random_cases, seeded) and layers that fill each
    buffer exactly, with the same layers one word or row over (engine_cases.limit_cases), as many
    as the board's budget (engine_cases.budgeted_cases)."""
    from engine_cases import SEED_ENV, budgeted_cases, random_seed
    board = os.environ.get("MSP_BOARD", "pynq-z2")
    seed = random_seed()
    dut._log.info("random layers: seed %d (%s=%d draws others)", seed, SEED_ENV, seed)
    failures = await check_cases(dut, await setup_engine(dut), budgeted_cases(board, seed), get_profile(board), None)
    assert not failures, f"seed {seed} ({SEED_ENV}): {failures}"
