"""Cycles of one layer on the msp_engine: the RTL's schedule, block by block.

This is what the emulated engine reports in CYCLES_LO/HI, and what the runtime's and the
benchmarks' board figures come from. It follows hw_src/rtl/msp_engine.v and is checked against
the RTL's own counts in simulation (``tests/hdl/test_engine.py``; the measured table is
``docs/benchmarks/engine_cycles.md``)::

    conv2d, linear (P passes of S window steps per output position, docs: :mod:`.geometry`):
        load     = beats(params) + max(beats(weights), rows * S + odd-K 4-bit rows)
        drain_p  = items of pass p / 2 (two output lanes; a lane pair must differ in channel
                   parity) + 1
        position = max(P * S, sum_p drain_p)   (the holding register lets the drain lag a pass)
        image    = writes(input image) + window setup + Ho * Wo * position
        cycles   = START + load + BATCH * image + channels / 2 + tail + array latency - 1
    max_pool, global_avg_pool (P = ceil(C / VW) channel-group passes of kh*kw taps):
        image    = writes(input image) + window setup + Ho * Wo * max(P * taps, sum_p (ceil(n_p / 2) + 1))
        cycles   = START + BATCH * image + channels / 2 + tail
    add:  cycles = START + beats(input a) + 2 * beats(input b) + tail   (a is written densely;
          b goes through four bytes per cycle)

``beats(n) = ceil(n / 8)`` (the 64-bit stream); ``writes`` counts the activation writer's pieces:
a beat is written in pieces that end at a beat, pixel or VW-byte word boundary, one per cycle.
The image is written only after the previous image's windows are walked (one activation
buffer), so input streaming and compute alternate.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..numerics.bounds import ceil_div
from .geometry import EngineGeometry
from .registers import STREAM_BYTES, Descriptor, Op

START_CYCLES = 255        # START write to the first beat taken (msp_layer_check's steps, arming)
TAIL_CYCLES = 26          # last window step to the output packet's TLAST (pool unit, the output stage's
                          # 11-stage drain pipeline, packer)
ADD_TAIL_CYCLES = 12      # add: last beat of b to TLAST (msp_add_unit's 8-stage pipeline)
WINDOW_SETUP_CYCLES = 4   # msp_window_gen's SETUP_CYCLES: its strides' products before each walk


def _clog2(n: int) -> int:
    return (n - 1).bit_length()


def lut_row_corrections(vw: int) -> int:
    """msp_lut_row's NC: its negative-code correction terms (groups of at most 8 codes past VW 16)."""
    return -(-vw // 8) if vw > 16 else 2


def array_latency(vw: int) -> int:
    """msp_mac_array's LATENCY at vector width ``vw``: a step's inputs to its accumulator write.

    Its input registers (1), the slower row unit (msp_lut_row: terms, then the 2 VW + NC term tree
    with a register every two levels; msp_dsp_pair: A/B, M, P (lane pairs), the packed trees
    (kept at ceil(clog2(vw) / 2) stages), the two-stage
    split), the accumulate stage (1). The RTL's parameter is checked against this in the unit test.
    """
    lut = 1 + (_clog2(2 * vw + lut_row_corrections(vw)) + 1) // 2
    dsp = 3 + (_clog2(vw) + 1) // 2 + 2
    return 1 + max(lut, dsp) + 1


def tail_cycles(op: Op, vw: int) -> int:
    """Last window step to TLAST: conv/linear steps go through the array's pipeline (its first
    cycle is the one the pool unit also takes), pools through the pool unit."""
    return TAIL_CYCLES + (array_latency(vw) - 1 if op in (Op.CONV2D, Op.LINEAR) else 0)


def _beats(nbytes: int) -> int:
    return ceil_div(nbytes, STREAM_BYTES)


@lru_cache(maxsize=256)
def writes(pixel_bytes: int, pixels: int, vw: int) -> int:
    """Pieces (cycles) the activation writer takes for ``pixels`` pixels of ``pixel_bytes``."""
    total = pixel_bytes * pixels
    if pixel_bytes % STREAM_BYTES == 0 and vw % STREAM_BYTES == 0:
        return total // STREAM_BYTES
    beats = np.arange(STREAM_BYTES, total + STREAM_BYTES, STREAM_BYTES).clip(max=total)
    starts = np.arange(pixels, dtype=np.int64) * pixel_bytes
    inner = np.arange(vw, pixel_bytes, vw)                       # word ends inside a pixel
    ends = np.concatenate([beats, starts + pixel_bytes, (starts[:, None] + inner[None, :]).ravel()])
    return int(np.unique(ends).size)


def _items(d: Descriptor, b: EngineGeometry) -> "list[tuple[int, int]]":
    """Per pass: (items the output stage drains, lane collisions), as msp_output_stage does."""
    out = []
    if d.op in (Op.MAX_POOL, Op.GLOBAL_AVG_POOL):
        for p in range(b.passes(d)):
            out.append((min(b.vector_width, d.in_c - p * b.vector_width), 0))
        return out
    f8_base = d.rows_fixed4 + d.rows_fixed4 % 2
    f8_end = f8_base + 2 * d.rows_fixed8
    for p in range(b.passes(d)):
        lb, db = p * b.lut_rows, p * b.dsp_rows
        na = min(max(d.rows_sp2 - lb, 0), b.lut_rows)
        nb = min(max(d.rows_fixed4 - db, 0), b.dsp_rows)
        lo, hi = max(f8_base - db, 0), min(max(f8_end - db, 0), b.dsp_rows)
        nc = max(hi - lo, 0) // 2
        # channels: [lb, lb+na), [sp2+db, +nb), [sp2+f4+.., +nc): a lane pair straddling two
        # segments with the same channel parity issues one item
        chans = list(range(lb, lb + na)) + list(range(d.rows_sp2 + db, d.rows_sp2 + db + nb))
        c0 = d.rows_sp2 + d.rows_fixed4 + (max(f8_base, db) - f8_base) // 2
        chans += list(range(c0, c0 + nc))
        out.append((len(chans), _lane_cycles(chans) - ceil_div(len(chans), 2)))
    return out


def _lane_cycles(chans: "list[int]") -> int:
    """Cycles of the two-lane drain over these channels in order."""
    cycles, j = 0, 0
    while j < len(chans):
        j += 2 if j + 1 < len(chans) and chans[j] % 2 != chans[j + 1] % 2 else 1
        cycles += 1
    return cycles


def position_cycles(d: Descriptor, b: EngineGeometry) -> int:
    """Cycles per output position: the window walk or the output stage, whichever is slower."""
    passes, steps = b.passes(d), b.steps(d)
    drain = sum(ceil_div(n, 2) + extra + 1 for n, extra in _items(d, b))
    walk = passes * steps
    return max(walk, drain)


def modelled_cycles(desc: Descriptor, geometry) -> int:
    """Cycles of one layer (``geometry``: an :class:`EngineGeometry`, or a BoardProfile's)."""
    b = geometry if isinstance(geometry, EngineGeometry) else geometry.geometry
    d = desc
    vw = b.vector_width
    if d.op == Op.ADD:
        a = d.batch * d.image_nbytes
        # a written, then b streamed through four bytes per cycle (a beat of up to 4 bytes: one)
        b = 2 * (a // STREAM_BYTES) + (0 if a % STREAM_BYTES == 0 else 1 if a % STREAM_BYTES <= 4 else 2)
        return START_CYCLES + _beats(a) + b + ADD_TAIL_CYCLES
    ho, wo = d.out_hw
    if d.op in (Op.CONV2D, Op.LINEAR):
        sizes = dict(d.packet_sizes())
        odd = (d.rows_sp2 + d.rows_fixed4) if d.k % 2 else 0
        load = _beats(sizes["params"]) + max(_beats(sizes["weights"]), d.rows * b.steps(d) + odd)
        pixel, pixels = (d.k, 1) if d.op == Op.LINEAR else (d.in_c, d.in_h * d.in_w)
    else:
        load = 0
        pixel, pixels = d.in_c, d.in_h * d.in_w
    image = writes(pixel, pixels, vw) + WINDOW_SETUP_CYCLES + ho * wo * position_cycles(d, b)
    send_last = ceil_div(d.out_channels, 2)                  # the last position's channels, two per cycle
    return START_CYCLES + load + d.batch * image + send_last + tail_cycles(d.op, vw)
