"""Small layers of every op and the engine's error cases, with what the contract says they give.

Used by the contract test of tb_engine_cases.py: each case is a descriptor, its MM2S packets and
the expected result: the output bytes (from the int64 reference emulator, channels in engine
order) or the error (code, packet, ERROR_INFO; descriptor errors from the register model's own
check)."""
from __future__ import annotations

import struct
from dataclasses import dataclass, replace

import numpy as np

from msp_pynq.boards.profiles import get_profile
from msp_pynq.engine.rows import engine_row_order
from msp_pynq.emulator import reference
from msp_pynq.emulator.layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d
from msp_pynq.numerics.activations import S8, U4, U5, U8
from msp_pynq.numerics.packing import pack_rows
from msp_pynq.numerics.schemes import Scheme
from msp_pynq.engine.checks import check_descriptor
from msp_pynq.engine.registers import Descriptor, ErrorCode, Op, encode_act


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


def _weighted(rng, op, schemes, in_shape, batch, in_spec, out_spec, **geo) -> Case:
    """A conv2d (geo: kernel, stride, padding) or linear layer of random rows, through the reference."""
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
    if op == Op.CONV2D:
        layer = Conv2d(stride=geo["stride"], padding=geo["padding"], **kw_)
        want = reference.run_layer(layer, x)
    else:
        layer = Linear(**kw_)
        want = reference.run_layer(layer, x.reshape(batch, -1))
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
    x = _acts(rng, U5, (2, 7, 7, 20))
    pool = MaxPool2d(name="p", kernel=3, stride=2, padding=1, spec=U5)
    d = Descriptor(op=Op.MAX_POOL, batch=2, in_h=7, in_w=7, in_c=20, kernel=(3, 3), stride=(2, 2),
                   padding=(1, 1, 1, 1), in_type=encode_act(U5))
    out.append(Case("max_pool 3x3/2 pad 1 C=20", d, [x.tobytes()], reference.run_layer(pool, x).tobytes()))
    # global average pool of s8
    x = _acts(rng, S8, (2, 3, 3, 20))
    gap = GlobalAvgPool(name="g", multiplier=40000, shift=18, in_spec=S8, out_spec=S8)
    d = Descriptor(op=Op.GLOBAL_AVG_POOL, batch=2, in_h=3, in_w=3, in_c=20, in_type=encode_act(S8),
                   out_type=encode_act(S8), mult_a=40000, shift=18)
    out.append(Case("global_avg_pool s8", d, [x.tobytes()], reference.run_layer(gap, x).astype(np.int8).tobytes()))
    # add of u4 and s8, 75-byte images (beats straddle images)
    a, b = _acts(rng, U4, (3, 3, 5, 5)), _acts(rng, S8, (3, 3, 5, 5))
    add = Add(name="a", inputs=("a", "b"), in_specs=(U4, S8), multipliers=(30000, 21000), shift=15, out_spec=U8)
    d = Descriptor(op=Op.ADD, batch=3, in_h=3, in_w=5, in_c=5, in_type=encode_act(U4), in_b_type=encode_act(S8),
                   out_type=encode_act(U8), mult_a=30000, mult_b=21000, shift=15)
    out.append(Case("add u4+s8, batch 3", d, [a.tobytes(), b.tobytes()], reference.run_layer(add, a, b).tobytes()))

    # errors
    def refused(name, desc):
        code, info = check_descriptor(desc, buffers)
        return Case(name, desc, [bytes(8)], error=(int(code), 0, info))      # refused at START: any beats are dropped
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
