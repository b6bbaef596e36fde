"""cocotb testbench of msp_engine's streams under stress, through msp_pynq/hw/testbench/tb_engine.py's
bus models (engine_cases.stall_cases: conv 3x3/1, conv 1x1/2, add, max pool, global average
pool, linear):

- ``stalls``: TVALID gaps on S_AXIS (the MM2S source pauses) and TREADY backpressure on M_AXIS
  (the S2MM sink pauses), in random seeded patterns: each layer's output is bit-exact, the same
  as without stalls, and STATUS is exactly DONE with every packet consumed;
- ``recovery_mid_mm2s``: the MM2S DMA stops half way through a packet (and at a packet's first
  beat); the driver's recovery (the DMA's reset, then the engine's soft reset) leaves STATUS,
  ERROR_INFO, IRQ_STATUS and CYCLES 0, and the next layer is bit-exact (the receiver used to
  wait in DRAIN for a TLAST that never came and swallowed the next layer's first packet);
- ``recovery_mid_s2mm``: the same with S2MM stopped half way through the output packet (and
  one or two beats before its TLAST).

Run by tests/hdl/test_engine.py in the same simulation as tb_engine and tb_engine_cases; the
pause patterns' seed is engine_cases.random_seed() (MSP_ENGINE_SEED)."""
import os
import random

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge

from msp_pynq.engine.registers import ST_BUSY, ST_PACKETS_SHIFT, Reg, describe_status
from msp_pynq.hw.testbench.tb_engine import finish_layer, recover, run_layer, setup_engine, start_layer
from tb_engine_cases import done_status

MAX_CYCLES = 400_000


def pauses(rng: random.Random, kind: str):
    """An endless pause pattern (True: pause this cycle) of ``kind``: "random" (each cycle at
    1/2), "sparse" (each cycle at 1/8), "bursts" (runs of 1-24 cycles on, 1-40 off)."""
    while True:
        if kind == "random":
            yield rng.random() < 0.5
        elif kind == "sparse":
            yield rng.random() < 0.125
        else:
            yield from [False] * rng.randint(1, 24)
            yield from [True] * rng.randint(1, 40)


#: (name, the MM2S source's pauses, the S2MM sink's pauses): None for none
PATTERNS = (("TVALID gaps, random", "random", None), ("TREADY backpressure, random", None, "random"),
            ("both in bursts", "bursts", "bursts"), ("sparse TVALID gaps, TREADY bursts", "sparse", "bursts"))


def stall_board_cases():
    from engine_cases import random_seed, stall_cases   # (numpy-heavy: only where used)
    return stall_cases(os.environ.get("MSP_BOARD", "pynq-z2")), random_seed()


@cocotb.test()
async def stalls(dut):
    """Every stall pattern on every kind of layer: bit-exact, the same as without stalls."""
    cases, seed = stall_board_cases()
    axil, source, sink = await setup_engine(dut)
    failures = []
    for n, case in enumerate(cases):
        regs = dict(case.desc.registers())
        plain = await run_layer(dut, axil, source, sink, regs, case.packets, MAX_CYCLES)
        for p, (name, src, dst) in enumerate(PATTERNS):
            rng = random.Random(seed * 1000 + n * 10 + p)
            source.set_pause_generator(pauses(rng, src) if src else None)
            sink.set_pause_generator(pauses(rng, dst) if dst else None)
            r = await run_layer(dut, axil, source, sink, regs, case.packets, MAX_CYCLES)
            for bus in (source, sink):
                bus.clear_pause_generator()
                bus.pause = False
            ok = (r["status"] == plain["status"] == done_status(case) and r["output"] == plain["output"]
                  == case.output and sink.empty())
            dut._log.info("%s, %s: %s (%s, %d cycles, %d without stalls)", case.name, name, "ok" if ok else "WRONG",
                          describe_status(r["status"]), r["cycles"], plain["cycles"])
            if not ok:
                failures.append(f"{case.name}, {name}: {describe_status(r['status'])}, output "
                                f"{'bit-exact' if r['output'] == case.output else 'differs'}, without stalls "
                                f"{describe_status(plain['status'])}, "
                                f"{'bit-exact' if plain['output'] == case.output else 'differs'}")
    assert not failures, f"seed {seed}: {failures}"


async def handshakes(dut, prefix: str, n: int, max_cycles: int = 50_000) -> int:
    """Wait until ``n`` beats have crossed the stream ``prefix`` (TVALID and TREADY at a clock
    edge), or ``max_cycles``; returns the beats that crossed."""
    valid, ready = getattr(dut, f"{prefix}_tvalid"), getattr(dut, f"{prefix}_tready")
    seen = 0
    for _ in range(max_cycles):
        if seen >= n:
            break
        await RisingEdge(dut.aclk)
        seen += bool(valid.value) and bool(ready.value)
    return seen


def beats(nbytes: int) -> int:
    from engine_cases import stream_beats
    return stream_beats(nbytes)


async def abort_and_recover(dut, buses, case, stream: str, at: int) -> "list[str]":
    """Start ``case``, stop ``stream`` ("s_axis": the MM2S source, "m_axis": the S2MM sink)
    after ``at`` beats, wait, then the driver's recovery; what is wrong in the engine's state."""
    axil, source, sink = buses
    stopped = source if stream == "s_axis" else sink
    await start_layer(axil, source, dict(case.desc.registers()), case.packets)
    seen = await handshakes(dut, stream, at)
    stopped.pause = True
    await ClockCycles(dut.aclk, 400)
    wrong = [] if seen == at else [f"only {seen} of {at} beats crossed {stream}"]
    status = await axil.read_dword(Reg.STATUS)
    if stream == "s_axis":                                  # busy, the whole packets before this one in
        consumed = sum(1 for end in _packet_ends(case) if end <= at)
        if status != ST_BUSY | consumed << ST_PACKETS_SHIFT:
            wrong.append(f"stopped: {describe_status(status)}, want busy with {consumed} packets")
    elif status & 0x7 != ST_BUSY:
        wrong.append(f"stopped: {describe_status(status)}, want busy")
    status = await recover(dut, axil, source, sink)         # the sink stays paused: S2MM is not armed
    regs = {name: await axil.read_dword(reg) for name, reg in (("STATUS", Reg.STATUS), (
        "ERROR_INFO", Reg.ERROR_INFO), ("IRQ_STATUS", Reg.IRQ_STATUS), ("CYCLES_LO", Reg.CYCLES_LO),
        ("CYCLES_HI", Reg.CYCLES_HI))}
    wrong += [f"{name} 0x{value:x} after the recovery" for name, value in regs.items() if value]
    stopped.pause = False
    await ClockCycles(dut.aclk, 32)                         # anything the engine sent now is a stray beat
    return wrong


def _packet_ends(case) -> "list[int]":
    """The beat count at the end of each MM2S packet."""
    ends, total = [], 0
    for packet in case.packets:
        total += beats(len(packet))
        ends.append(total)
    return ends


async def recovery_runs(dut, stream: str, points) -> None:
    """For each (case, after how many beats of ``stream``): abort, recover, then the next layer
    (the next case) must be bit-exact with STATUS exactly DONE and nothing more on S2MM."""
    cases, _ = stall_board_cases()
    buses = await setup_engine(dut)
    axil, source, sink = buses
    failures = []
    for i, (c, at, what) in enumerate(points(cases)):
        case, after = cases[c], cases[(c + 1 + i) % len(cases)]
        wrong = await abort_and_recover(dut, buses, case, stream, at)
        try:
            r = await run_layer(dut, axil, source, sink, dict(after.desc.registers()), after.packets, 50_000)
        except AssertionError as exc:                       # no DONE or ERROR
            r = {"status": await axil.read_dword(Reg.STATUS), "output": None, "timeout": exc}
        if r["status"] != done_status(after) or r["output"] != after.output or not sink.empty():
            wrong.append(f"then {after.name}: {describe_status(r['status'])}, "
                         + (f"{r['timeout']}" if "timeout" in r else
                            f"output {'bit-exact' if r['output'] == after.output else 'differs'}")
                         + f"{'' if sink.empty() else ', more frames on S2MM'}")
            await recover(dut, axil, source, sink)          # the next point starts clean
        dut._log.info("%s stopped %s: %s", case.name, what, "ok" if not wrong else "; ".join(wrong))
        if wrong:
            failures.append(f"{case.name} stopped {what}: {'; '.join(wrong)}")
        sink.clear()
    assert not failures, failures


@cocotb.test()
async def recovery_mid_mm2s(dut):
    """MM2S stops half way through a packet (or at its first beat); recovery; the next layer."""
    def points(cases):
        for c, case in enumerate(cases):
            ends = [0] + _packet_ends(case)
            for p in range(len(case.packets)):
                yield c, (ends[p] + ends[p + 1]) // 2, f"half way through MM2S packet {p} ({ends[p + 1] - ends[p]} beats)"
            if c == 0:
                yield c, ends[1] + 1, "at packet 1's first beat"
    await recovery_runs(dut, "s_axis", points)


@cocotb.test()
async def recovery_mid_s2mm(dut):
    """S2MM stops half way through the output packet (or just before its TLAST); recovery; the next layer."""
    def points(cases):
        for c, case in enumerate(cases):
            n = beats(len(case.output))
            yield c, n // 2, f"half way through the S2MM packet ({n} beats)"
            if n > 4:
                yield c, n - 3, f"1-2 beats before the S2MM packet's TLAST ({n} beats)"
    await recovery_runs(dut, "m_axis", points)
