"""cocotb testbench: msp_output_stage on its own (small generics), against msp_pynq.numerics.

Random layers of every mode (requant per row, raw int32, global average pool, max pool), several
output positions each (so the staging quarters wrap), passes captured as an array would offer them
(a pass every ``walk`` cycles, held back while the stage cannot take it), the output stream read
with random back-pressure. Checks the bytes bit for bit and the cycles against the drain schedule
of msp_pynq.engine.cycles (no more than the pipeline's tail over max(walk, drain) per position).
"""
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from msp_pynq.numerics.activations import S8, U4, U5, U8
from msp_pynq.numerics.requant import requantize

SPECS = (U4, U5, U8, S8)
MODE_REQUANT, MODE_RAW, MODE_GAP, MODE_MAX = 0, 1, 2, 3
TAIL = 24             # last capture to the last beat, beyond the drain of the last pass (a bound)


def _ceil(a, b):
    return -(-a // b)


def _pass_items(mode, p, och, s2, f4, f8, vw, n_lut, n_dsp):
    """(unit, channel) of pass p, in the drain's order (msp_output_stage's header)."""
    if mode in (MODE_GAP, MODE_MAX):
        return [(u, p * vw + u) for u in range(vw) if p * vw + u < och]
    items = [(u, p * n_lut + u) for u in range(n_lut) if p * n_lut + u < s2]
    f8_base = f4 + f4 % 2
    items += [(n_lut + s, s2 + p * n_dsp + s) for s in range(n_dsp) if p * n_dsp + s < f4]
    for s in range(n_dsp):
        g = p * n_dsp + s
        if g >= f8_base and (g - f8_base) % 2 == 0 and (g - f8_base) // 2 < f8:
            items.append((n_lut + s, s2 + f4 + (g - f8_base) // 2))
    return items


def _drain_cycles(items):
    cycles, j = 0, 0
    while j < len(items):
        j += 2 if j + 1 < len(items) and items[j][1] % 2 != items[j + 1][1] % 2 else 1
        cycles += 1
    return cycles + 1


def _layer(rng: random.Random, mode, vw, n_lut, n_dsp, max_rows, och=None):
    if mode in (MODE_GAP, MODE_MAX):
        och = och or rng.choice([1, 2, 3, vw, vw + 1, 2 * vw + 3, rng.randint(1, 4 * vw)])
        s2 = f4 = f8 = 0
        passes = _ceil(och, vw)
    else:
        while True:
            s2, f4, f8 = (rng.choice([0, 1, 2, n_lut, n_lut + 1, rng.randint(0, 3 * n_lut)]),
                          rng.choice([0, 1, 3, n_dsp, rng.randint(0, 2 * n_dsp)]),
                          rng.choice([0, 1, 2, rng.randint(0, n_dsp)]))
            och = s2 + f4 + f8
            if 0 < och <= max_rows:
                break
        slots = f4 + f4 % 2 + 2 * f8 if f8 else f4
        passes = max(_ceil(s2, n_lut), _ceil(slots, n_dsp), 1)
    return och, s2, f4, f8, passes


async def _run_layer(dut, rng, mode, spec, positions, walk, p_ready, vw, n_lut, n_dsp, max_rows, och=None):
    och, s2, f4, f8, passes = _layer(rng, mode, vw, n_lut, n_dsp, max_rows, och)
    units = n_lut + n_dsp
    # row parameters (conv modes); the pools' global multiplier and shift
    bias = [rng.randint(-2**30, 2**30) for _ in range(och)]
    mult = [rng.choice([0, 1, 65535, rng.randint(0, 65535), rng.randint(2**15, 2**16 - 1)]) for _ in range(och)]
    shift = [rng.choice([0, 1, 47, rng.randint(0, 47), rng.randint(12, 26)]) for _ in range(och)]
    g_mult, g_shift = rng.randint(0, 65535), rng.randint(0, 30)
    for r in range(och):
        dut.prm_we.value, dut.prm_row.value = 1, r
        dut.prm_data.value = (bias[r] & 0xFFFFFFFF) | (mult[r] << 32) | (shift[r] << 48) | (0x5A << 56)
        await RisingEdge(dut.clk)
    dut.prm_we.value = 0
    dut.start.value, dut.mode.value, dut.out_ch.value, dut.passes.value = 1, mode, och, passes
    dut.n_sp2.value, dut.n_f4.value, dut.n_f8.value = s2, f4, f8
    dut.mult.value, dut.shift.value = g_mult, g_shift
    dut.out_signed.value, dut.out_bits.value = int(spec.signed), spec.bits
    await RisingEdge(dut.clk)
    dut.start.value = 0

    # every pass's accumulators (junk in the units the pass does not use) and the expected bytes
    accs, want = [], bytearray()
    drain = 0
    for pos in range(positions):
        chan = [0] * och
        for p in range(passes):
            if mode == MODE_MAX:
                vals = [rng.randint(-2**31, 2**31 - 1) if rng.random() < 0.2 else rng.randint(0, 255)
                        for _ in range(units)]
            elif mode == MODE_GAP:
                vals = [rng.randint(0, 255 * 64) for _ in range(units)]
            else:
                vals = [rng.choice([rng.randint(-2**30, 2**30), rng.randint(-2**12, 2**12), 0, 1, -1])
                        for _ in range(units)]
            items = _pass_items(mode, p, och, s2, f4, f8, vw, n_lut, n_dsp)
            if pos == 0:
                drain += _drain_cycles(items)
            for u, c in items:
                chan[c] = vals[u]
            accs.append(sum((v & 0xFFFFFFFF) << (32 * u) for u, v in enumerate(vals)))
        a = np.array(chan, np.int64)
        if mode == MODE_REQUANT:
            want += requantize(a + np.array(bias), np.array(mult), np.array(shift), spec).astype(np.uint8).tobytes()
        elif mode == MODE_RAW:
            want += ((a + np.array(bias) + 2**31) % 2**32 - 2**31).astype("<i4").tobytes()
        elif mode == MODE_GAP:
            want += requantize(a, g_mult, g_shift, spec).astype(np.uint8).tobytes()
        else:
            want += (a & 0xFF).astype(np.uint8).tobytes()

    got, bp = bytearray(), random.Random(och)          # back-pressure: its own draws
    # the first pass a while after start, as in the engine (the stage builds its pass table then)
    nxt, ready_at, cyc, stall, first_cap, last_beat = 0, walk + 12, 0, 0, None, None
    while len(got) < len(want) and cyc < 40 * len(accs) * (walk + drain) + 2000:
        await RisingEdge(dut.clk)
        await ReadOnly()
        cyc += 1
        can, ov = int(dut.can_capture.value), int(dut.out_valid.value)
        if ov:
            nbytes = dut.out_nbytes.value.to_unsigned()
            data = int(str(dut.out_data.value)[64 - 8 * nbytes:], 2)    # (unused bytes may be X)
        await Timer(1, unit="ns")
        ready = int(bp.random() < p_ready)
        dut.out_ready.value = ready
        if ov and ready:
            got += data.to_bytes(8, "little")[:nbytes]
            last_beat = cyc
        offer = nxt < len(accs) and cyc >= ready_at
        dut.capture.value = int(offer)
        if offer:
            dut.acc.value = accs[nxt]
            if can:
                first_cap = cyc if first_cap is None else first_cap
                nxt, ready_at = nxt + 1, cyc + walk       # the array walks the next pass
            else:
                stall += 1
    dut.capture.value = 0
    await RisingEdge(dut.clk)
    await ReadOnly()
    assert int(dut.out_valid.value) == 0 or p_ready < 1, "a beat beyond the layer"
    what = f"mode {mode} {spec} och {och} (sp2 {s2}, f4 {f4}, f8 {f8}) passes {passes} walk {walk}"
    assert bytes(got) == bytes(want), f"{what}: RTL {bytes(got).hex()} want {bytes(want).hex()}"
    position = max(passes * walk, drain)
    cycles = last_beat - first_cap
    dut._log.info(f"{what}: {cycles} cycles, array stalled {stall}, model {positions * position}")
    await Timer(1, unit="ns")
    return cycles, positions * position, _ceil(och, 2), stall


@cocotb.test()
async def output_stage_matches_numerics(dut):
    vw, n_lut, n_dsp, max_rows = (int(dut.VW.value), int(dut.LUT_ROWS.value), int(dut.DSP_ROWS.value),
                                  int(dut.MAX_ROWS.value))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for sig in (dut.rst, dut.start, dut.prm_we, dut.capture):
        sig.value = 0
    dut.out_ready.value = 1
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    rng = random.Random(11)
    runs = [(MODE_REQUANT, spec, 1.0) for spec in SPECS] + [(MODE_RAW, U8, 0.7), (MODE_GAP, U8, 1.0),
            (MODE_GAP, S8, 0.6), (MODE_MAX, S8, 1.0), (MODE_MAX, U8, 0.5)]
    runs += [(rng.choice([0, 0, 1, 2, 3]), rng.choice(SPECS), rng.choice([1.0, 1.0, 0.5])) for _ in range(14)]
    for n, (mode, spec, p_ready) in enumerate(runs):
        walk = rng.choice([1, 2, 3, 9])
        cycles, model, send, stall = await _run_layer(dut, rng, mode, spec, rng.choice([1, 2, 5, 7]), walk,
                                                      p_ready, vw, n_lut, n_dsp, max_rows)
        if p_ready == 1.0:     # the stage keeps the array's rate: the model's positions, a send, a tail
            assert cycles <= model + send + TAIL, (n, cycles, model, send)
    # pool layers of many channels: the ring holds 4, 3 or 2 positions at once
    for och, mode in ((max_rows // 2, MODE_MAX), (2 * max_rows // 3, MODE_GAP), (max_rows, MODE_MAX)):
        cycles, model, send, stall = await _run_layer(dut, rng, mode, S8, 5, 1, 1.0, vw, n_lut, n_dsp, max_rows, och)
        assert cycles <= model + send + TAIL, (och, cycles, model, send)
