"""cocotb testbenches: RTL arithmetic units against msp_pynq.numerics, bit for bit."""
import os
import random

import cocotb
import numpy as np
from cocotb.triggers import Timer

from msp_pynq.numerics.activations import S8, U4, U5, U8
from msp_pynq.numerics.requant import requantize
from msp_pynq.numerics.schemes import SP2_DECODE

SPECS = (U4, U5, U8, S8)


def _edge_cases(rng: random.Random):
    accs = [0, 1, -1, 2, -2, 3, -3, 2**31 - 1, -2**31, 2**24, -2**24]
    for acc in accs:
        for m, s in [(0, 0), (1, 0), (65535, 0), (1, 1), (32768, 16), (65535, 47), (3, 2), (1, 47)]:
            yield acc, m, s
    for _ in range(1500):
        yield rng.randint(-2**31, 2**31 - 1), rng.randint(0, 65535), rng.randint(0, 47)
    for _ in range(1500):   # small accumulators: the unsaturated range, ties included
        s = rng.randint(1, 20)
        yield rng.randint(-2**12, 2**12), rng.randint(0, 2**16 - 1) >> rng.randint(0, 15), s


@cocotb.test()
async def requant_matches_contract(dut):
    rng = random.Random(1)
    cases = list(_edge_cases(rng))
    for spec in SPECS:
        accs = np.array([c[0] for c in cases], np.int64)
        ms = np.array([c[1] for c in cases], np.int64)
        ss = np.array([c[2] for c in cases], np.int64)
        want = requantize(accs, ms, ss, spec)
        dut.out_signed.value = int(spec.signed)
        dut.out_bits.value = spec.bits
        for (acc, m, s), expected in zip(cases, want):
            dut.acc.value, dut.mult.value, dut.shift.value = acc, m, s
            await Timer(1, unit="ns")
            got = dut.y.value.to_signed() if spec.signed else dut.y.value.to_unsigned()
            assert got == int(expected), f"{spec}: acc={acc} m={m} s={s}: RTL {got}, contract {expected}"


@cocotb.test()
async def sp2_mul_matches_decode(dut):
    for code in range(16):
        for a in list(range(256)) + list(range(-128, 0)):
            dut.a.value, dut.code.value = a, code
            await Timer(1, unit="ns")
            got = dut.t1.value.to_signed() + dut.t2.value.to_signed() + 2 * int(dut.neg.value)
            assert got == int(SP2_DECODE[code]) * a, f"code {code:04b} a={a}: RTL {got}"


VW = int(os.environ.get("MSP_TB_VW", "16"))   # the row units' vector width (pynq-z2's unless a variant says)


def _pack(values, bits: int) -> int:
    """Little-endian packing of two's-complement fields, field i at bits [bits*i, bits*(i+1))."""
    mask = (1 << bits) - 1
    return sum((int(v) & mask) << (bits * i) for i, v in enumerate(values))


def _activation_vectors(rng: np.random.Generator, n: int):
    """Random VW-vectors of u4, u8 or s8 activations, and the extremes."""
    yield np.full(VW, 255), np.full(VW, -128)
    yield np.full(VW, 255), np.full(VW, 127)
    for _ in range(n):
        lo, hi = [(0, 15), (0, 255), (-128, 127)][rng.integers(3)]
        yield (rng.integers(lo, hi + 1, VW),)


@cocotb.test()
async def lut_row_matches_numerics(dut):
    rng = np.random.default_rng(2)
    extreme = [np.full(VW, c, np.uint8) for c in (0b0011, 0b1011, 0b0110, 0b1110)]   # +-8 and +-(2+4)
    for vectors in _activation_vectors(rng, 400):
        for a in vectors:
            for codes in extreme + [rng.integers(0, 16, VW).astype(np.uint8)]:
                dut.a.value, dut.codes.value = _pack(a, 9), _pack(codes, 4)
                await Timer(1, unit="ns")
                want = int(np.dot(SP2_DECODE[codes].astype(np.int64), a))
                got = dut.sum.value.to_signed()
                assert got == want, f"a={a.tolist()} codes={codes.tolist()}: RTL {got}, contract {want}"


@cocotb.test()
async def lut_row_pipelined_streams(dut):
    """PIPE = 1: one input per cycle, each sum LATENCY cycles later, exact."""
    from cocotb.clock import Clock
    from cocotb.triggers import RisingEdge, ReadOnly
    lat = int(dut.LATENCY.value)
    from msp_pynq.engine.cycles import lut_row_corrections
    assert lat == 1 + ((2 * VW + lut_row_corrections(VW) - 1).bit_length() + 1) // 2   # terms, then the tree
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await RisingEdge(dut.clk)
    rng = np.random.default_rng(7)
    extreme = [np.full(VW, c, np.uint8) for c in (0b0011, 0b1011, 0b0110, 0b1110)]
    vecs = [(a, c) for vs in _activation_vectors(rng, 300) for a in vs
            for c in extreme[rng.integers(4):][:1] + [rng.integers(0, 16, VW).astype(np.uint8)]]
    wants = []
    for n, (a, codes) in enumerate(vecs + [(np.zeros(VW, int), np.zeros(VW, np.uint8))] * lat):
        dut.a.value, dut.codes.value = _pack(a, 9), _pack(codes, 4)
        wants.append(int(np.dot(SP2_DECODE[codes].astype(np.int64), a)))
        await RisingEdge(dut.clk)
        await ReadOnly()
        k = n + 1 - lat                       # the input whose sum is out after this edge
        if 0 <= k < len(vecs):
            got = dut.sum.value.to_signed()
            assert got == wants[k], f"input {k}: RTL {got}, contract {wants[k]}"
        await Timer(1, unit="ns")


@cocotb.test()
async def mac_array_accumulates_rows(dut):
    """Random passes streamed back to back (and with gaps and late takes): every row's int32
    accumulator equals the contract's integer dot product, pass after pass, in order."""
    from cocotb.clock import Clock
    from cocotb.triggers import RisingEdge
    from msp_pynq.numerics.schemes import FIXED4_DECODE, decode
    from msp_pynq.engine.cycles import array_latency
    vw, n_lut, n_dsp = int(dut.VW.value), int(dut.LUT_ROWS.value), int(dut.DSP_ROWS.value)
    if n_lut and n_dsp:                        # the cycle model's figure is the full array's
        assert int(dut.LATENCY.value) == array_latency(vw)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    rng = np.random.default_rng(4)
    fixed8 = np.array([c for c in range(256) if c != 0x80], np.uint8)
    fixed4 = np.array([c for c in range(16) if c != 8], np.uint8)

    def make_pass(n: int):
        steps = int(rng.integers(1, 9))
        signed = n % 3 == 2
        x = rng.integers(-128 if signed else 0, 128 if signed else 256, (steps, vw))
        lut = rng.integers(0, 16, (n_lut, steps, vw)).astype(np.uint8)
        mode8 = rng.integers(0, 2, n_dsp // 2)
        nibbles = np.empty((n_dsp, steps, vw), np.uint8)
        want = [int(np.dot(SP2_DECODE[lut[r]].ravel().astype(np.int64), x.ravel())) for r in range(n_lut)]
        for p, is8 in enumerate(mode8):
            if is8:                            # one fixed-8 row: low nibbles, then high nibbles
                w = rng.choice(fixed8, (steps, vw))
                nibbles[2 * p], nibbles[2 * p + 1] = w & 0xF, w >> 4
                want += [int(np.dot(decode(w, "fixed8").ravel().astype(np.int64), x.ravel())), 0]
            else:
                for s in (2 * p, 2 * p + 1):
                    nibbles[s] = rng.choice(fixed4, (steps, vw))
                    want.append(int(np.dot(FIXED4_DECODE[nibbles[s]].ravel().astype(np.int64), x.ravel())))
        return [(x[k], lut[:, k], nibbles[:, k], mode8, k == 0, k == steps - 1) for k in range(steps)], want

    dut.rst.value, dut.valid.value, dut.take.value = 1, 0, 0
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    n_passes = 40
    passes = [make_pass(n) for n in range(n_passes)]
    sent = taken = 0                           # passes whose first step went in; passes taken
    queue = []                                 # steps of the pass being sent
    for cycle in range(n_passes * 12 + 200):
        await Timer(1, unit="ns")              # after the edge: outputs settled, inputs for this cycle
        lazy = taken % 5 == 3                  # every fifth pass: taken a few cycles late
        take = int(dut.result_valid.value) and not (lazy and rng.integers(3) != 0)
        if take:
            packed = dut.result.value.to_unsigned()
            got = [((packed >> (32 * r)) & 0xFFFFFFFF) for r in range(n_lut + n_dsp)]
            got = [g - (1 << 32) if g >> 31 else g for g in got]
            assert got == passes[taken][1], f"pass {taken}: RTL {got}, contract {passes[taken][1]}"
            taken += 1
        dut.take.value = int(take)
        # a pass may start once the pass two before it is taken (the array's rule); gaps at random
        if not queue and sent < n_passes and sent - 2 < taken and rng.integers(4) != 0:
            queue, sent = list(passes[sent][0]), sent + 1
        if queue:
            x, lut, nib, mode8, first, last = queue.pop(0)
            dut.valid.value, dut.clear.value, dut.last.value = 1, int(first), int(last)
            dut.a.value = _pack(x, 9)
            dut.lut_codes.value = _pack(lut.ravel(), 4)
            dut.dsp_codes.value = _pack(nib.ravel(), 4)
            dut.dsp_fixed8.value = _pack(mode8, 1)
        else:
            dut.valid.value = 0
        await RisingEdge(dut.clk)
        if taken == n_passes:
            break
    assert taken == n_passes, f"{taken} of {n_passes} passes came out"

@cocotb.test()
async def dsp_pair_splits_two_rows(dut):
    from msp_pynq.numerics.schemes import FIXED4_DECODE, decode
    rng = np.random.default_rng(5)
    fixed4 = np.array([c for c in range(16) if c != 8], np.uint8)
    fixed8 = np.array([c for c in range(256) if c != 0x80], np.uint8)
    plus7, minus7 = np.full(VW, 7, np.uint8), np.full(VW, 9, np.uint8)
    for vectors in _activation_vectors(rng, 400):
        for a in vectors:
            for ca, cb in ((plus7, minus7), (minus7, plus7), (rng.choice(fixed4, VW), rng.choice(fixed4, VW))):
                dut.a.value, dut.codes_a.value, dut.codes_b.value = _pack(a, 9), _pack(ca, 4), _pack(cb, 4)
                dut.fixed8.value = 0
                await Timer(1, unit="ns")
                want = [int(np.dot(FIXED4_DECODE[c].astype(np.int64), a)) for c in (ca, cb)]
                got = [dut.sum_a.value.to_signed(), dut.sum_b.value.to_signed()]
                assert got == want, f"a={a.tolist()} rows {ca.tolist()} {cb.tolist()}: RTL {got}, contract {want}"
            # one fixed-8 row on the pair: low nibbles on row a, high nibbles on row b
            for codes in (np.full(VW, 0x7F, np.uint8), np.full(VW, 0x81, np.uint8), rng.choice(fixed8, VW)):
                dut.codes_a.value, dut.codes_b.value = _pack(codes & 0xF, 4), _pack(codes >> 4, 4)
                dut.fixed8.value = 1
                await Timer(1, unit="ns")
                want = int(np.dot(decode(codes, "fixed8").astype(np.int64), a))
                got = [dut.sum_a.value.to_signed(), dut.sum_b.value.to_signed()]
                assert got == [want, 0], f"fixed8 a={a.tolist()} codes={codes.tolist()}: RTL {got}, contract {want}"


@cocotb.test()
async def dsp_pair_pipelined_streams(dut):
    """PIPE = 1: one input per cycle (fixed-4 and fixed-8 mixed), each sum LATENCY cycles later, exact."""
    from cocotb.clock import Clock
    from cocotb.triggers import RisingEdge, ReadOnly
    from msp_pynq.numerics.schemes import FIXED4_DECODE, decode
    lat = int(dut.LATENCY.value)
    assert lat == 3 + (VW.bit_length() - 1 + 1) // 2 + 2     # A/B, M, P; the tree; the split
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await RisingEdge(dut.clk)
    rng = np.random.default_rng(6)
    fixed4 = np.array([c for c in range(16) if c != 8], np.uint8)
    fixed8 = np.array([c for c in range(256) if c != 0x80], np.uint8)
    wants = []
    vecs = [v for vs in _activation_vectors(rng, 300) for v in vs]
    for n, a in enumerate(vecs + [np.zeros(VW, int)] * lat):
        is8 = n < len(vecs) and rng.integers(2) == 1
        if is8:
            codes = rng.choice(fixed8, VW)
            ca, cb = codes & 0xF, codes >> 4
            want = [int(np.dot(decode(codes, "fixed8").astype(np.int64), a)), 0]
        else:
            ca, cb = rng.choice(fixed4, VW), rng.choice(fixed4, VW)
            want = [int(np.dot(FIXED4_DECODE[c].astype(np.int64), a)) for c in (ca, cb)]
        dut.a.value, dut.codes_a.value, dut.codes_b.value = _pack(a, 9), _pack(ca, 4), _pack(cb, 4)
        dut.fixed8.value = int(is8)
        wants.append(want)
        await RisingEdge(dut.clk)
        await ReadOnly()
        k = n + 1 - lat                       # the input whose sums are out after this edge
        if 0 <= k < len(vecs):
            got = [dut.sum_a.value.to_signed(), dut.sum_b.value.to_signed()]
            assert got == wants[k], f"input {k}: RTL {got}, contract {wants[k]}"
        await Timer(1, unit="ns")


@cocotb.test()
async def requant_pipe_matches_contract(dut):
    """msp_requant_pipe: one input per cycle, each y LATENCY cycles later, bit for bit (every spec)."""
    from cocotb.clock import Clock
    from cocotb.triggers import ReadOnly, RisingEdge
    lat = 7
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await RisingEdge(dut.clk)
    rng = random.Random(3)
    cases = list(_edge_cases(rng))
    for s in range(48):                         # ties and the saturation bounds at every shift
        for yv in (-129, -128, -127, -1, 0, 1, 15, 16, 31, 32, 127, 128, 255, 256):
            for m in (1, 3, 32768, 65535):
                a = (yv * 2**s - (2**(s - 1) if s else 0)) // m
                cases += [(c, m, s) for c in (a - 1, a, a + 1) if -2**31 <= c < 2**31]
    for spec in SPECS:
        want = requantize(np.array([c[0] for c in cases], np.int64), np.array([c[1] for c in cases], np.int64),
                          np.array([c[2] for c in cases], np.int64), spec)
        dut.out_signed.value = int(spec.signed)
        dut.out_bits.value = spec.bits
        for n in range(len(cases) + lat):
            if n < len(cases):
                dut.acc.value, dut.mult.value, dut.shift.value = cases[n]
            await RisingEdge(dut.clk)
            await ReadOnly()
            k = n + 1 - lat
            if 0 <= k < len(cases):
                got = dut.y.value.to_signed() if spec.signed else dut.y.value.to_unsigned()
                acc, m, s = cases[k]
                assert got == int(want[k]), f"{spec}: acc={acc} m={m} s={s}: RTL {got}, contract {want[k]}"
            await Timer(1, unit="ns")
