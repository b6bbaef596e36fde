"""The START checks: which error a descriptor raises when the engine starts it.

The Python twin of ``hw_src/rtl/msp_layer_check.v`` (same order, same ERROR_INFO), used by the
emulated engine and by tests that hold the RTL to it.

>>> from msp_pynq.engine.registers import Descriptor, Op
>>> g = EngineGeometry.build(vector_width=16, lut_rows=23, dsp_rows=24, act_buffer_kib=128)
>>> check_descriptor(Descriptor(op=Op.MAX_POOL, in_h=4, in_w=4, in_c=8, kernel=(0, 2), stride=(2, 2),
...                             in_type=4), g)
(<ErrorCode.BAD_DESCRIPTOR: 1>, 280)
"""
from __future__ import annotations

from typing import Optional

from ..numerics.bounds import MAX_K
from ..numerics.requant import SHIFT_MAX
from .geometry import EngineGeometry
from .registers import Descriptor, ErrorCode, Op, Reg, decode_act


def check_descriptor(desc: Descriptor, geometry: EngineGeometry) -> "Optional[tuple[ErrorCode, int]]":
    """The error START raises for this descriptor, as ``(code, ERROR_INFO)``, or None.

    Order: UNSUPPORTED_OP, then BAD_DESCRIPTOR (ERROR_INFO = offset of the first offending
    register, in the order of docs/registers.md), then BUFFER_OVERFLOW (:meth:`EngineGeometry.overflow`).
    """
    if desc.op not in {int(o) for o in Op}:
        return ErrorCode.UNSUPPORTED_OP, desc.op

    def bad(reg: Reg) -> "tuple[ErrorCode, int]":
        return ErrorCode.BAD_DESCRIPTOR, int(reg)

    op = Op(desc.op)
    weighted = op in (Op.CONV2D, Op.LINEAR)
    windowed = op in (Op.CONV2D, Op.MAX_POOL)
    for reg, value in ((Reg.BATCH, desc.batch), (Reg.IN_H, desc.in_h), (Reg.IN_W, desc.in_w),
                       (Reg.IN_C, desc.in_c)):
        if value < 1:
            return bad(reg)
    if weighted:
        if desc.out_c < 1:
            return bad(Reg.OUT_C)
    if windowed:
        (kh, kw), (sh, sw), (pt, pl, pb, pr) = desc.kernel, desc.stride, desc.padding
        if kh < 1 or kw < 1:
            return bad(Reg.KERNEL)
        if sh < 1 or sw < 1:
            return bad(Reg.STRIDE)
        if op == Op.MAX_POOL and (max(pt, pb) > kh // 2 or max(pl, pr) > kw // 2):
            return bad(Reg.PADDING)
        if kh > desc.in_h + pt + pb or kw > desc.in_w + pl + pr:
            return bad(Reg.KERNEL)
    types = [desc.in_type]
    if op == Op.ADD:
        types.append(desc.in_b_type)
    if op in (Op.ADD, Op.GLOBAL_AVG_POOL) or (weighted and not desc.raw_out):
        types.append(desc.out_type)
    if any(decode_act(t) is None for t in types) or (desc.raw_out and not weighted):
        return bad(Reg.ACT_TYPES)
    if weighted:
        if desc.rows != desc.out_c:
            return bad(Reg.ROWS_SP2)
        if desc.k > MAX_K:
            return bad(Reg.KERNEL if op == Op.CONV2D else Reg.IN_C)
    if op in (Op.ADD, Op.GLOBAL_AVG_POOL) and desc.shift > SHIFT_MAX:
        return bad(Reg.SHIFT)
    info = geometry.overflow(desc)
    return None if info is None else (ErrorCode.BUFFER_OVERFLOW, info)
