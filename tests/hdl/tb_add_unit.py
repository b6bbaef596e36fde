"""cocotb testbench of msp_add_unit: beats of b with random gaps and a short last beat, input a
served from a model of the activation buffer (registered read: q follows rd_addr one enabled
cycle later and holds), random out_ready backpressure (long stalls included); every output byte
and every out_nbytes compared with the contract's residual add (docs/numerics.md 7.3)."""
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from msp_pynq.numerics.activations import ActSpec
from msp_pynq.numerics.requant import SHIFT_MAX, quantize_multipliers_shared, requantize

TYPES = {"u4": ActSpec(4), "u5": ActSpec(5), "u8": ActSpec(8), "s8": ActSpec(8, True)}
IN_TYPES = ("u4", "u8", "s8")
LATENCY = 8                   # cycles the pipeline adds (the input register and seven stages)


def contract(a: np.ndarray, b: np.ndarray, ma: int, mb: int, s: int, out: str) -> np.ndarray:
    total = a.astype(np.int64) * ma + b.astype(np.int64) * mb
    return requantize(total, 1, s, TYPES[out])


def values(rng: random.Random, spec: ActSpec, n: int, extreme: "str | None" = None) -> np.ndarray:
    if extreme == "lo":
        return np.full(n, spec.lo, np.int64)
    if extreme == "hi":
        return np.full(n, spec.hi, np.int64)
    if extreme == "ends":
        return np.array([rng.choice((spec.lo, spec.hi)) for _ in range(n)], np.int64)
    return np.array([rng.randint(spec.lo, spec.hi) for _ in range(n)], np.int64)


class Case:
    def __init__(self, a_t, b_t, out_t, ma, mb, s, a, b):
        self.a_t, self.b_t, self.out_t, self.ma, self.mb, self.s = a_t, b_t, out_t, ma, mb, s
        self.a, self.b = a, b
        self.y = contract(a, b, ma, mb, s, out_t)

    def __repr__(self):
        return (f"Case(a {self.a_t}, b {self.b_t}, out {self.out_t}, m_a {self.ma}, m_b {self.mb}, "
                f"shift {self.s}, {len(self.a)} bytes)")


def random_case(rng, n, a_t=None, b_t=None, out_t=None, ma=None, mb=None, s=None, extreme=(None, None)):
    a_t = a_t or rng.choice(IN_TYPES)
    b_t = b_t or rng.choice(IN_TYPES)
    out_t = out_t or rng.choice(tuple(TYPES))
    ma = rng.choice((0, 1, 65535, rng.getrandbits(16), rng.getrandbits(16))) if ma is None else ma
    mb = rng.choice((0, 1, 65535, rng.getrandbits(16), rng.getrandbits(16))) if mb is None else mb
    s = rng.randint(0, SHIFT_MAX) if s is None else s
    return Case(a_t, b_t, out_t, ma, mb, s, values(rng, TYPES[a_t], n, extreme[0]),
                values(rng, TYPES[b_t], n, extreme[1]))


def lowered_case(rng, n):
    """Multipliers and shift as the compiler lowers a real add (quantize_multipliers_shared)."""
    a_t, b_t, out_t = rng.choice(("s8", "u4", "u8")), rng.choice(("u4", "s8", "u8")), rng.choice(("u4", "u8"))
    (ma, mb), s = quantize_multipliers_shared([rng.uniform(0.05, 2.0), rng.uniform(0.05, 2.0)])
    return random_case(rng, n, a_t, b_t, out_t, ma, mb, s)


async def start_layer(dut, case: Case) -> None:
    dut.mult_a.value, dut.mult_b.value, dut.shift.value = case.ma, case.mb, case.s
    dut.a_signed.value = int(TYPES[case.a_t].signed)
    dut.b_signed.value = int(TYPES[case.b_t].signed)
    dut.out_signed.value = int(TYPES[case.out_t].signed)
    dut.out_bits.value = TYPES[case.out_t].bits
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0


def stall_pattern(rng: random.Random, p_stall: float):
    """out_ready per cycle: random, with now and then a long stall (longer than the pipeline)."""
    while True:
        if p_stall and rng.random() < 0.02:
            for _ in range(rng.randint(10, 60)):
                yield 0
        yield int(rng.random() >= p_stall)


async def run_case(dut, rng: random.Random, case: Case, p_gap: float, p_stall: float) -> dict:
    vw = int(dut.VW.value)
    n = len(case.b)
    a_bytes = bytes(int(v) & 0xFF for v in case.a)
    a_bytes += bytes(rng.getrandbits(8) for _ in range(-len(a_bytes) % vw))    # junk after a
    words = [int.from_bytes(a_bytes[i:i + vw], "little") for i in range(0, len(a_bytes), vw)]
    b_bytes = bytes(int(v) & 0xFF for v in case.b)
    beats = [b_bytes[i:i + 8] for i in range(0, n, 8)]
    want_bytes = bytes(int(v) & 0xFF for v in case.y)
    want_counts = [c for bt in beats for c in ((len(bt),) if len(bt) <= 4 else (4, len(bt) - 4))]

    await start_layer(dut, case)
    ready = stall_pattern(rng, p_stall)
    got_bytes, got_counts = bytearray(), []
    q = rng.getrandbits(8 * vw)                 # the buffer's output before any read: junk
    nb, nr, cycle, takes, first_take, last_take, last_out = 0, 0, 0, [], None, None, None
    limit = 200 + 40 * n
    while len(got_counts) < len(want_counts) and cycle < limit:
        valid = nb < len(beats) and rng.random() >= p_gap
        dut.in_valid.value = int(valid)
        if nb < len(beats):
            bt = beats[nb]
            dut.in_data.value = int.from_bytes(bt + bytes(rng.getrandbits(8) for _ in range(8 - len(bt))), "little")
            dut.in_keep.value = (1 << len(bt)) - 1
        else:
            dut.in_data.value, dut.in_keep.value = rng.getrandbits(64), 0
        out_ready = next(ready)
        dut.out_ready.value = out_ready
        dut.rd_q.value = q
        await ReadOnly()
        took = valid and bool(dut.in_ready.value)
        rd_en = bool(dut.rd_en.value)
        if rd_en:                                 # one read per beat, in order, after its take
            addr = int(dut.rd_addr.value)
            assert nr < nb, f"{case}: read {nr} before its beat was taken, at cycle {cycle}"
            assert addr == (8 * nr) // vw, f"{case}: beat {nr} reads word {addr}"
            nxt = words[addr]
            nr += 1
        if took:
            takes.append(cycle)
            first_take = cycle if first_take is None else first_take
            last_take = cycle
            nb += 1
        if dut.out_valid.value and out_ready:
            c = int(dut.out_nbytes.value)
            got_counts.append(c)
            got_bytes += (int(dut.out_data.value) & ((1 << 64) - 1)).to_bytes(8, "little")[:c]
            last_out = cycle
            k = len(got_counts) - 1
            assert k < len(want_counts) and c == want_counts[k], \
                f"{case}: output {k} has {c} bytes, expected {want_counts[k] if k < len(want_counts) else None}"
            lo = len(got_bytes) - c
            if got_bytes[lo:] != want_bytes[lo:len(got_bytes)]:
                i = next(j for j in range(lo, len(got_bytes)) if got_bytes[j] != want_bytes[j])
                raise AssertionError(f"{case}: byte {i}: a {case.a[i]}, b {case.b[i]} gave "
                                     f"{got_bytes[i]:#04x}, contract {want_bytes[i]:#04x}")
        await RisingEdge(dut.clk)
        if rd_en:
            q = nxt
        cycle += 1
    assert got_counts == want_counts, f"{case}: {len(got_counts)} of {len(want_counts)} outputs in {cycle} cycles"
    assert bytes(got_bytes) == want_bytes
    dut.in_valid.value, dut.out_ready.value = 0, 1
    for _ in range(12):                           # nothing more comes out
        await ReadOnly()
        assert not dut.out_valid.value, f"{case}: an extra output"
        await RisingEdge(dut.clk)
    return {"takes": takes, "first_take": first_take, "last_take": last_take, "last_out": last_out}


async def setup(dut) -> None:
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for name in ("start", "in_valid", "in_data", "in_keep", "rd_q", "out_ready", "mult_a", "mult_b",
                 "shift", "a_signed", "b_signed", "out_signed", "out_bits"):
        getattr(dut, name).value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)


@cocotb.test()
async def add_unit_matches_contract(dut):
    """All output types on all input types, every shift 0..47, edge multipliers, extreme inputs,
    random gaps and backpressure."""
    await setup(dut)
    rng = random.Random(7)
    cases = []
    for out_t in TYPES:                                         # every type combination
        for a_t in IN_TYPES:
            for b_t in ("u8", "s8"):
                cases.append(random_case(rng, rng.randint(1, 120), a_t, b_t, out_t))
    for s in range(SHIFT_MAX + 1):                              # every shift
        cases.append(random_case(rng, rng.randint(9, 40), s=s))
    for ma in (0, 65535):                                       # edge multipliers, extreme inputs
        for mb in (0, 65535):
            for s in (0, 1, 16, 25, 26, 47):
                for ext in (("lo", "lo"), ("hi", "hi"), ("lo", "hi"), ("ends", "ends")):
                    cases.append(random_case(rng, rng.randint(1, 16), a_t=rng.choice(("u8", "s8")),
                                             b_t=rng.choice(("u8", "s8")), ma=ma, mb=mb, s=s, extreme=ext))
    for _ in range(8):
        cases.append(lowered_case(rng, rng.randint(1, 100)))
    for _ in range(20):                                         # anything, longer
        cases.append(random_case(rng, rng.randint(1, 300)))
    for i, case in enumerate(cases):
        p_gap = rng.choice((0.0, 0.2, 0.6))
        p_stall = rng.choice((0.0, 0.3, 0.7))
        await run_case(dut, rng, case, p_gap, p_stall)
        if i % 5 == 0:                                          # now and then idle between layers
            await ClockCycles(dut.clk, rng.randint(0, 5))
    dut._log.info("%d cases bit-exact", len(cases))


@cocotb.test()
async def add_unit_streams_four_bytes_per_cycle(dut):
    """Without gaps or backpressure a beat of 8 bytes is taken every two cycles; checks the
    time from the first take to the last output (cycles.ADD_TAIL_CYCLES follows its latency)."""
    await setup(dut)
    rng = random.Random(3)
    for n in (8 * 64, 8 * 64 + 3, 8 * 64 + 5, 1):
        case = random_case(rng, n)
        r = await run_case(dut, rng, case, 0.0, 0.0)
        gaps = [t1 - t0 for t0, t1 in zip(r["takes"], r["takes"][1:])]
        # (the input register takes the second beat at once, then one beat every two cycles)
        assert all(g == 2 for g in gaps[1:]), f"{n} bytes: beats taken at gaps {gaps}"
        span = r["last_out"] - r["first_take"]
        dut._log.info("%d bytes: %d cycles from the first take to the last output", n, span)
        last, beats = n % 8 or 8, (n + 7) // 8
        # before pipelining: two cycles a beat, the last beat's output 2 (<= 4 bytes) or 3 cycles
        # after its take; the pipeline adds LATENCY (cycles.ADD_TAIL_CYCLES grew by as much)
        assert span == 2 * (beats - 1) + (2 if last <= 4 else 3) + LATENCY, f"{n} bytes: {span} cycles"
