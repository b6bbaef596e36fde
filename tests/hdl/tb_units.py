"""cocotb testbenches: RTL arithmetic units against msp_pynq.numerics, bit for bit."""
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
            got = dut.p.value.to_signed()
            assert got == int(SP2_DECODE[code]) * a, f"code {code:04b} a={a}: RTL {got}"
