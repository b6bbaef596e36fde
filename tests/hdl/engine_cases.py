"""Small layers of every op and the engine's error cases, with what the contract says they give.

Used by the contract test of tb_engine_cases.py: each case is a descriptor, its MM2S packets and
the expected result: the output bytes (from the int64 reference emulator, channels in engine
order) or the error (code, packet, ERROR_INFO; descriptor errors from the register model's own
check)."""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass, replace

import numpy as np

from msp_pynq.boards.profiles import get_profile
from msp_pynq.engine.rows import engine_row_order
from msp_pynq.emulator import reference
from msp_pynq.emulator.layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d
from msp_pynq.numerics.activations import S8, U4, U5, U8
from msp_pynq.numerics.packing import pack_rows
from msp_pynq.numerics.requant import SHIFT_MAX
from msp_pynq.numerics.schemes import Scheme
from msp_pynq.engine.checks import check_descriptor
from msp_pynq.engine.cycles import modelled_cycles
from msp_pynq.engine.geometry import MAX_ROWS
from msp_pynq.engine.registers import STREAM_BYTES, Descriptor, ErrorCode, Op, encode_act


def random_weights(rng, schemes, k_shape) -> np.ndarray:
    """``[rows, *k_shape]`` weights, each row drawn from its scheme's levels."""
    k = int(np.prod(k_shape))
    return np.stack([rng.choice(Scheme(int(s)).levels, k).reshape(k_shape) for s in schemes]).astype(np.int8)


@dataclass
class Case:
    name: str
    desc: Descriptor
    packets: "list[bytes]"
    output: bytes = b""
    error: "tuple[int, int, int] | None" = None     # (code, packet, ERROR_INFO)


def _acts(rng, spec, shape):
    return rng.integers(spec.lo, spec.hi + 1, shape).astype(spec.dtype)


def fitted_shift(acc: np.ndarray, multiplier, out_spec) -> np.ndarray:
    """Shifts (one per multiplier) that bring the largest ``|acc| * multiplier`` to about twice
    ``out_spec``'s range: outputs spread over the range, a few saturate, instead of a large
    layer's outputs all saturating."""
    peak = float(np.abs(acc.astype(np.float64)).max()) + 1
    target = 2 * max(-out_spec.lo, out_spec.hi)
    return np.ceil(np.log2(peak * np.asarray(multiplier) / target)).clip(0, SHIFT_MAX).astype(np.int64)


def _weighted(rng, op, schemes, in_shape, batch, in_spec, out_spec, fit=False, **geo) -> Case:
    """A conv2d (geo: kernel, stride, padding) or linear layer of random rows, through the reference
    (``fit``: each row's shift fitted to its accumulators, :func:`fitted_shift`)."""
    h, w, c = in_shape
    schemes = np.asarray(schemes, np.uint8)
    rows = len(schemes)
    x = _acts(rng, in_spec, (batch, h, w, c))
    kh, kw = geo.get("kernel", (1, 1))
    k_shape = (kh, kw, c) if op == Op.CONV2D else (h * w * c,)
    kw_ = dict(name="l", schemes=schemes, weights=random_weights(rng, schemes, k_shape),
               bias=rng.integers(-2000, 2000, rows), in_spec=in_spec, out_spec=out_spec,
               multiplier=0 if out_spec is None else rng.integers(1 << 14, 1 << 16, rows),
               shift=0 if out_spec is None else rng.integers(14, 18, rows))

    def run(**override):
        args = {**kw_, **override}
        if op == Op.CONV2D:
            layer = Conv2d(stride=geo["stride"], padding=geo["padding"], **args)
            return layer, reference.run_layer(layer, x)
        layer = Linear(**args)
        return layer, reference.run_layer(layer, x.reshape(batch, -1))
    if fit and out_spec is not None:                     # each row's shift from its accumulators
        _, acc = run(out_spec=None, multiplier=0, shift=0)
        kw_["shift"] = fitted_shift(acc, kw_["multiplier"], out_spec)
    layer, want = run()
    order = engine_row_order(schemes)
    raw = out_spec is None
    params = b"".join(struct.pack("<iHBB", int(layer.bias[r]), 0 if raw else int(layer.multiplier[r]),
                                  0 if raw else int(layer.shift[r]), int(schemes[r])) for r in order)
    weights = pack_rows(layer.weights.reshape(rows, -1)[order], schemes[order]).tobytes()
    counts = {f: int((schemes == s).sum()) for f, s in (("rows_sp2", Scheme.SP2_4), ("rows_fixed4", Scheme.FIXED4),
                                                         ("rows_fixed8", Scheme.FIXED8))}
    desc = Descriptor(op=op, batch=batch, in_h=h, in_w=w, in_c=c, out_c=rows, in_type=encode_act(in_spec),
                      out_type=encode_act(out_spec), raw_out=raw, **geo, **counts)
    out = np.ascontiguousarray(want[..., order], dtype=desc.output_dtype)
    return Case(f"{desc.op_name}", desc, [params, weights, x.tobytes()], out.tobytes())


def _max_pool(rng, spec, shape, kernel, stride, padding, name="max_pool") -> Case:
    """A max pool of random ``shape`` (NHWC) input of ``spec``, through the reference."""
    x = _acts(rng, spec, shape)
    n, h, w, c = shape
    pool = MaxPool2d(name="p", kernel=kernel, stride=stride, padding=padding, spec=spec)
    d = Descriptor(op=Op.MAX_POOL, batch=n, in_h=h, in_w=w, in_c=c, kernel=kernel, stride=stride,
                   padding=padding, in_type=encode_act(spec))
    return Case(name, d, [x.tobytes()], reference.run_layer(pool, x).tobytes())


def _gap(rng, in_spec, shape, multiplier, shift, out_spec, name="global_avg_pool") -> Case:
    """A global average pool of random ``shape`` (NHWC) input, through the reference."""
    x = _acts(rng, in_spec, shape)
    n, h, w, c = shape
    gap = GlobalAvgPool(name="g", multiplier=multiplier, shift=shift, in_spec=in_spec, out_spec=out_spec)
    d = Descriptor(op=Op.GLOBAL_AVG_POOL, batch=n, in_h=h, in_w=w, in_c=c, in_type=encode_act(in_spec),
                   out_type=encode_act(out_spec), mult_a=multiplier, shift=shift)
    return Case(name, d, [x.tobytes()], reference.run_layer(gap, x).tobytes())


def _add(rng, in_specs, shape, multipliers, shift, out_spec, name="add") -> Case:
    """An add of random inputs a and b of ``shape`` (NHWC), through the reference."""
    a, b = _acts(rng, in_specs[0], shape), _acts(rng, in_specs[1], shape)
    n, h, w, c = shape
    add = Add(name="a", inputs=("a", "b"), in_specs=in_specs, multipliers=multipliers, shift=shift,
              out_spec=out_spec)
    d = Descriptor(op=Op.ADD, batch=n, in_h=h, in_w=w, in_c=c, in_type=encode_act(in_specs[0]),
                   in_b_type=encode_act(in_specs[1]), out_type=encode_act(out_spec), mult_a=multipliers[0],
                   mult_b=multipliers[1], shift=shift)
    return Case(name, d, [a.tobytes(), b.tobytes()], reference.run_layer(add, a, b).tobytes())


def _refused(name, desc, geometry) -> Case:
    """A descriptor START refuses: its error from the register model's own check."""
    code, info = check_descriptor(desc, geometry)
    return Case(name, desc, [bytes(8)], error=(int(code), 0, info))      # refused at START: any beats are dropped


def cases(board: str = "pynq-z2", seed: int = 5) -> "list[Case]":
    rng = np.random.default_rng(seed)
    buffers = get_profile(board).geometry
    out = []
    # conv2d: C = 20 (two words a pixel), 58 rows in two passes, stride (2, 1), asymmetric padding
    conv = _weighted(rng, Op.CONV2D, [2] * 50 + [0] * 5 + [1] * 3, (5, 6, 20), 2, U8, U4,
                     kernel=(3, 3), stride=(2, 1), padding=(1, 0, 2, 1))
    out.append(replace(conv, name="conv2d 58 rows, 2 passes, C=20, batch 2"))
    # conv2d C = 16, 16 rows: one 9-step pass per position, passes back to back (the array's
    # accumulator banks at their tightest), ResNet-20's first stage in small
    out.append(replace(_weighted(rng, Op.CONV2D, [2] * 11 + [0] * 4 + [1], (6, 6, 16), 1, U4, U4,
                                 kernel=(3, 3), stride=(1, 1), padding=(1, 1, 1, 1)),
                       name="conv2d 16 rows, C=16, 9-step passes"))
    # conv2d 1x1, s8 input, odd K (pad nibbles), raw int32 output
    out.append(replace(_weighted(rng, Op.CONV2D, [2, 0, 2, 1, 0, 2], (4, 4, 5), 1, S8, None, kernel=(1, 1),
                                 stride=(1, 1), padding=(0, 0, 0, 0)), name="conv2d 1x1 s8 odd K raw"))
    out.append(replace(_weighted(rng, Op.LINEAR, [1, 0, 2, 2], (2, 3, 7), 2, U5, S8), name="linear K=42 s8 out"))
    # max pool: padded 3x3 stride 2, two channel groups
    out.append(_max_pool(rng, U5, (2, 7, 7, 20), (3, 3), (2, 2), (1, 1, 1, 1), "max_pool 3x3/2 pad 1 C=20"))
    # global average pool of s8
    out.append(_gap(rng, S8, (2, 3, 3, 20), 40000, 18, S8, "global_avg_pool s8"))
    # add of u4 and s8, 75-byte images (beats straddle images)
    out.append(_add(rng, (U4, S8), (3, 3, 5, 5), (30000, 21000), 15, U8, "add u4+s8, batch 3"))

    # errors
    def refused(name, desc):
        return _refused(name, desc, buffers)
    out.append(refused("UNSUPPORTED_OP", replace(conv.desc, op=9)))
    out.append(refused("BAD_DESCRIPTOR batch 0", replace(conv.desc, batch=0)))
    out.append(refused("BAD_DESCRIPTOR rows", replace(conv.desc, rows_sp2=49)))
    out.append(refused("BUFFER_OVERFLOW weight banks", replace(conv.desc, in_c=1500)))
    short = [conv.packets[0][:-8]] + conv.packets[1:]
    out.append(Case("STREAM_LENGTH params", conv.desc, short, error=(int(ErrorCode.STREAM_LENGTH), 0,
                                                                      len(conv.packets[0]))))
    params = bytearray(conv.packets[0])
    params[8 * 3 + 7] = 0                                    # row 3 is an SP2 row, not fixed-4
    out.append(Case("BAD_DATA scheme byte", conv.desc, [bytes(params)] + conv.packets[1:],
                    error=(int(ErrorCode.BAD_DATA), 0, 3)))
    weights = bytearray(conv.packets[1])
    k2 = (conv.desc.k + 1) // 2
    weights[51 * k2] = (weights[51 * k2] & 0xF0) | 0x8       # fixed-4 row 51's first code: reserved 0b1000
    out.append(Case("BAD_DATA fixed-4 code", conv.desc, [conv.packets[0], bytes(weights), conv.packets[2]],
                    error=(int(ErrorCode.BAD_DATA), 1, 51)))
    pool_case = next(c for c in out if c.desc.op == Op.MAX_POOL)
    x = bytearray(pool_case.packets[0])
    x[17] = 40                                               # above u5's 31
    out.append(Case("BAD_DATA u5 input", pool_case.desc, [bytes(x)], error=(int(ErrorCode.BAD_DATA), 0, 17)))
    add_case = next(c for c in out if c.desc.op == Op.ADD)
    b_u4 = bytearray(_acts(rng, U4, (3, 3, 5, 5)).tobytes())
    b_u4[100] = 16                                           # above u4's 15, in the second image
    out.append(Case("BAD_DATA u4 add input b", replace(add_case.desc, in_b_type=encode_act(U4)),
                    [add_case.packets[0], bytes(b_u4)], error=(int(ErrorCode.BAD_DATA), 1, 100)))
    out.append(replace(conv, name="conv2d again after the errors"))
    return out


# ---- stalls, random geometry, buffers at their limits ----------------------------------------

#: The random layers' seed in CI; ``MSP_ENGINE_SEED`` (an integer) draws others.
RANDOM_SEED = 20240
SEED_ENV = "MSP_ENGINE_SEED"


#: Per board: how many random layers, and the most a buffer-limit layer may cost (:func:`sim_cost`;
#: its refusal one word or row over runs whatever it costs): the ZCU104's engine simulates about
#: ten times slower than the PYNQ-Z2's.
BUDGETS = {"pynq-z2": (96, None), "zcu104": (24, 20_000)}


def budgeted_cases(board: str, seed: int) -> "list[Case]":
    """The random layers and the buffer-limit layers within the board's :data:`BUDGETS`."""
    count, max_cost = BUDGETS[board]
    profile = get_profile(board)
    limits = [c for c in limit_cases(board)
              if c.error is not None or max_cost is None or sim_cost(c.desc, profile) <= max_cost]
    return random_cases(board, seed, count) + limits


def random_seed() -> int:
    """``MSP_ENGINE_SEED`` if set, else :data:`RANDOM_SEED`."""
    return int(os.environ.get(SEED_ENV, RANDOM_SEED))


def _schemes(rng, n_sp2: int, n_f4: int, n_f8: int) -> np.ndarray:
    """Row schemes in a random order (the engine's row order is then a real permutation)."""
    schemes = np.repeat(np.array([Scheme.SP2_4, Scheme.FIXED4, Scheme.FIXED8], np.uint8), [n_sp2, n_f4, n_f8])
    return rng.permutation(schemes)


def stall_cases(board: str = "pynq-z2", seed: int = 11) -> "list[Case]":
    """One small layer of each kind the stall and recovery tests stream: conv 3x3/1 (two words a
    pixel, two passes), conv 1x1/2, add, max pool, global average pool, linear."""
    rng = np.random.default_rng(seed)
    g = get_profile(board).geometry
    vw, lut, dsp = g.vector_width, g.lut_rows, g.dsp_rows
    conv3 = _weighted(rng, Op.CONV2D, _schemes(rng, lut + 1, 5, 2), (5, 4, vw + 3), 2, U8, U4, fit=True,
                      kernel=(3, 3), stride=(1, 1), padding=(1, 1, 1, 1))
    conv1 = _weighted(rng, Op.CONV2D, _schemes(rng, 3, dsp - 1, 1), (6, 5, vw), 1, U4, S8, fit=True,
                      kernel=(1, 1), stride=(2, 2), padding=(0, 0, 0, 0))
    linear = _weighted(rng, Op.LINEAR, _schemes(rng, 2, 3, 1), (1, 1, 2 * vw + 1), 3, S8, U8, fit=True)
    return [replace(conv3, name=f"conv2d 3x3/1 C={vw + 3}, 2 passes, batch 2"),
            replace(conv1, name=f"conv2d 1x1/2 C={vw}"),
            _add(rng, (U8, U4), (2, 3, 4, vw + 1), (9000, 30000), 14, U5, f"add u8+u4 C={vw + 1}, batch 2"),
            _max_pool(rng, S8, (1, 6, 7, vw + 2), (3, 2), (2, 2), (1, 0, 1, 1), "max_pool 3x2/2 s8"),
            _gap(rng, U4, (2, 4, 3, 2 * vw), 43690, 17, U8, f"global_avg_pool C={2 * vw}"),
            replace(linear, name=f"linear K={2 * vw + 1}, batch 3")]


def stream_beats(nbytes: int) -> int:
    """Beats of a packet of ``nbytes`` on the 8-byte stream."""
    return -(-nbytes // STREAM_BYTES)


def sim_cost(desc: Descriptor, profile) -> int:
    """Roughly what a layer costs the simulation, in clock cycles: the modelled cycles plus every
    stream beat (the bus models' Python runs on each)."""
    beats = sum(stream_beats(n) for _, n in desc.packet_sizes()) + stream_beats(desc.output_nbytes)
    return modelled_cycles(desc, profile) + beats


_IN_SPECS = (U4, U5, U8, S8)
_OUT_SPECS = (U4, U5, U8, S8, None)


def random_cases(board: str = "pynq-z2", seed: int = RANDOM_SEED, count: int = 40,
                 max_cost: int = 12_000) -> "list[Case]":
    """``count`` layers of random geometry (conv2d, linear, max pool, global average pool, add, in
    turn), each a descriptor that check_descriptor accepts and that costs at most ``max_cost``
    (:func:`sim_cost`; drawn again otherwise): conv kernels 1-5 per axis, strides 1-3,
    asymmetric padding, channels around the vector width (VW - 1, VW, VW + 1, 2 VW + 1),
    rows around multiples of the LUT rows and the DSP slots (one pass more or less), batch 1-3,
    every activation type, raw outputs."""
    rng = np.random.default_rng(seed)
    profile = get_profile(board)
    g = profile.geometry
    vw, lut, dsp = g.vector_width, g.lut_rows, g.dsp_rows
    chans = [1, 3, vw - 1, vw, vw + 1, 2 * vw + 1]
    sp2_counts = [0, 1, lut - 1, lut, lut + 1, 2 * lut + 1]
    slot_counts = [0, 1, dsp - 1, dsp, dsp + 1, 2 * dsp + 1]

    def pick(seq):
        return seq[int(rng.integers(len(seq)))]

    def rows():
        while True:
            n_sp2, slots = pick(sp2_counts), pick(slot_counts)
            n_f8 = int(rng.integers(0, slots // 2 + 1))
            if n_sp2 + slots - n_f8 > 0:
                return n_sp2, slots - 2 * n_f8, n_f8

    def window(kmax, pool):
        k = tuple(int(v) for v in rng.integers(1, kmax + 1, 2))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        if pool:                                       # max pool: padding up to half the window
            pad = tuple(int(rng.integers(0, k[i % 2] // 2 + 1)) for i in range(4))
        else:
            pad = tuple(int(rng.integers(0, k[i % 2])) for i in range(4))
        hw = tuple(int(rng.integers(max(1, k[i] - pad[i] - pad[i + 2]), k[i] + 2 * s[i] + 2)) for i in range(2))
        return k, s, pad, hw

    kinds = ("conv2d", "conv2d", "linear", "max_pool", "global_avg_pool", "add")
    out: "list[Case]" = []
    while len(out) < count:
        kind = kinds[len(out) % len(kinds)]
        batch = pick([1, 1, 2, 3])
        in_spec, out_spec = pick(_IN_SPECS), pick(_OUT_SPECS)
        if kind in ("conv2d", "linear"):
            n_sp2, n_f4, n_f8 = rows()
            counts = dict(rows_sp2=n_sp2, rows_fixed4=n_f4, rows_fixed8=n_f8)
            if kind == "conv2d":
                k, s, pad, (h, w) = window(5, False)
                c = pick(chans)
                geo = dict(kernel=k, stride=s, padding=pad)
                op = Op.CONV2D
            else:
                h, w, c = pick([1, 1, 2, 3]), pick([1, 2]), pick(chans)
                geo, op = {}, Op.LINEAR
            desc = Descriptor(op=op, batch=batch, in_h=h, in_w=w, in_c=c, out_c=n_sp2 + n_f4 + n_f8,
                              in_type=encode_act(in_spec), out_type=encode_act(out_spec),
                              raw_out=out_spec is None, **geo, **counts)
            if check_descriptor(desc, g) or sim_cost(desc, profile) > max_cost:
                continue
            case = _weighted(rng, op, _schemes(rng, n_sp2, n_f4, n_f8), (h, w, c), batch, in_spec, out_spec,
                             fit=True, **geo)
        elif kind == "max_pool":
            k, s, pad, (h, w) = window(5, True)
            c = pick(chans + [2 * vw, 3 * vw + 2])
            case = _max_pool(rng, in_spec, (batch, h, w, c), k, s, pad)
        elif kind == "global_avg_pool":
            h, w, c = int(rng.integers(1, 7)), int(rng.integers(1, 7)), pick(chans + [2 * vw])
            out_spec = out_spec or U8
            mult = int(rng.integers(1 << 14, 1 << 16))
            shift = int(fitted_shift(np.array(h * w * max(-in_spec.lo, in_spec.hi)), mult, out_spec))
            case = _gap(rng, in_spec, (batch, h, w, c), mult, shift, out_spec)
        else:
            b_spec, out_spec = pick(_IN_SPECS), out_spec or S8
            h, w, c = int(rng.integers(1, 6)), int(rng.integers(1, 6)), pick(chans)
            mults = tuple(int(v) for v in rng.integers(1 << 12, 1 << 16, 2))
            peak = max(-in_spec.lo, in_spec.hi) * mults[0] + max(-b_spec.lo, b_spec.hi) * mults[1]
            shift = int(fitted_shift(np.array(peak), 1, out_spec))
            case = _add(rng, (in_spec, b_spec), (batch, h, w, c), mults, shift, out_spec)
        if check_descriptor(case.desc, g) or sim_cost(case.desc, profile) > max_cost:
            continue
        out.append(replace(case, name=f"random {len(out)}: {describe(case.desc)}"))
    return out


def describe(d: Descriptor) -> str:
    """A layer in one line: op, batch x H x W x C, window, rows, types."""
    text = f"{d.op_name} {d.batch}x{d.in_h}x{d.in_w}x{d.in_c}"
    if d.op in (Op.CONV2D, Op.MAX_POOL):
        text += f" {d.kernel[0]}x{d.kernel[1]}/{d.stride[0]},{d.stride[1]} pad {','.join(map(str, d.padding))}"
    if d.op in (Op.CONV2D, Op.LINEAR):
        text += f" -> {d.rows_sp2}+{d.rows_fixed4}+{d.rows_fixed8} rows"
    return text + (" raw" if d.raw_out else "")


def limit_cases(board: str = "pynq-z2", seed: int = 7) -> "list[Case]":
    """Layers that fill a buffer exactly (bit-exact), and the same one word or row over (refused
    with check_descriptor's BUFFER_OVERFLOW): the activation buffer, one pass and two passes of
    the weight banks, the row staging (MAX_ROWS rows, MAX_ROWS pooled channels)."""
    rng = np.random.default_rng(seed)
    g = get_profile(board).geometry
    vw, lut, bank = g.vector_width, g.lut_rows, g.bank_words
    out = []
    # the activation buffer: one word a pixel, act_words pixels (a 2x2/2 conv of 3 rows)
    h = g.act_words // 64
    act = _weighted(rng, Op.CONV2D, _schemes(rng, 1, 1, 1), (h, 64, 1), 1, U8, U8, fit=True,
                    kernel=(2, 2), stride=(2, 2), padding=(0, 0, 0, 0))
    out.append(replace(act, name=f"activation buffer full: {h}x64x1, {g.act_words} words"))
    out.append(_refused("activation buffer + 1 row of pixels", replace(act.desc, in_h=h + 1), g))
    # the weight banks, one pass: a linear layer of `bank` words a row (odd K: a pad nibble)
    k = bank * vw - 1
    lin = _weighted(rng, Op.LINEAR, _schemes(rng, 1, 0, 1), (1, 1, k), 2, U4, S8, fit=True)
    out.append(replace(lin, name=f"weight banks full, 1 pass: linear K={k}"))
    out.append(_refused("weight banks + 1 word", replace(lin.desc, in_c=bank * vw + 1), g))
    # two passes (LUT rows + 1 SP2 rows) of half a bank each
    k = bank // 2 * vw
    lin2 = _weighted(rng, Op.LINEAR, _schemes(rng, lut + 1, 0, 0), (1, 1, k), 1, U8, U8, fit=True)
    out.append(replace(lin2, name=f"weight banks full, 2 passes: linear K={k}, {lut + 1} rows"))
    out.append(_refused("weight banks, 2 passes + 1 word", replace(lin2.desc, in_c=k + 1), g))
    # the row staging: MAX_ROWS rows of a 1x1 conv (many passes), MAX_ROWS channels of a max pool
    n_sp2, n_f8 = MAX_ROWS // 2, MAX_ROWS // 8
    staged = _weighted(rng, Op.CONV2D, _schemes(rng, n_sp2, MAX_ROWS - n_sp2 - n_f8, n_f8), (2, 3, 1), 1, U4,
                       U4, fit=True, kernel=(1, 1), stride=(1, 1), padding=(0, 0, 0, 0))
    out.append(replace(staged, name=f"row staging full: conv2d 1x1, {MAX_ROWS} rows"))
    out.append(_refused("row staging + 1 row", replace(staged.desc, out_c=MAX_ROWS + 1,
                                                      rows_fixed4=staged.desc.rows_fixed4 + 1), g))
    pool = _max_pool(rng, U8, (1, 2, 2, MAX_ROWS), (2, 2), (2, 2), (0, 0, 0, 0), f"max_pool {MAX_ROWS} channels")
    out.append(pool)
    out.append(_refused("max_pool + 1 channel", replace(pool.desc, in_c=MAX_ROWS + 1), g))
    return out
