"""The engine's AXI4-Lite register map and stream protocol, as code (docs/registers.md).

One name per register, bit and code of ``docs/registers.md``; the driver (:mod:`.driver`) and
the emulated register model (:mod:`msp_pynq.emulation.engine`) both use these, so the two cannot drift apart. The
packet sizes and the per-row parameter layout of the stream protocol live here too.

>>> hex(ENGINE_ID), Reg.CONTROL, Reg.OP
('0x4d535045', <Reg.CONTROL: 64>, <Reg.OP: 256>)
>>> encode_act("u4"), encode_act("s8"), decode_act(0x88)
(4, 136, ActSpec(bits=8, signed=True))
>>> d = Descriptor(op=Op.MAX_POOL, in_h=4, in_w=4, in_c=8, kernel=(2, 2), stride=(2, 2),
...                in_type=encode_act("u4"))
>>> d.out_hw, d.packet_sizes(), d.output_nbytes
((2, 2), [('input', 128)], 32)
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import IntEnum
from typing import Mapping, NamedTuple

import numpy as np

from ..numerics.activations import ActSpec, parse_act
from ..numerics.bounds import ceil_div
from ..numerics.packing import row_nbytes
from ..numerics.schemes import Scheme
from ..numerics.windows import window_out_len

ENGINE_VLNV = "msp-pynq:rtl:msp_engine:1.0"
ENGINE_ID = 0x4D535045            # 'MSPE'
VERSION_MAJOR, VERSION_MINOR = 1, 0
ENGINE_VERSION = (VERSION_MAJOR << 16) | VERSION_MINOR
WINDOW_BYTES = 0x1000             # the engine's AXI4-Lite address window
STREAM_BYTES = 8                  # AXI4-Stream data width: 64 bits, 8 bytes per beat
PACKET_ALIGN = 64                 # the runtime starts every MM2S/S2MM buffer on 64 bytes


class Reg(IntEnum):
    """Register byte offsets within the engine's 4 KiB window."""

    ID = 0x000
    VERSION = 0x004
    VECTOR_WIDTH = 0x008
    LUT_ROWS = 0x00C
    DSP_ROWS = 0x010
    ACT_BUF_KIB = 0x014
    WGT_BUF_KIB = 0x018
    FINGERPRINT = 0x01C
    CLOCK_KHZ = 0x020
    CONTROL = 0x040
    STATUS = 0x044
    IRQ_STATUS = 0x048
    CYCLES_LO = 0x04C
    CYCLES_HI = 0x050
    ERROR_INFO = 0x054
    OP = 0x100
    BATCH = 0x104
    IN_H = 0x108
    IN_W = 0x10C
    IN_C = 0x110
    OUT_C = 0x114
    KERNEL = 0x118
    STRIDE = 0x11C
    PADDING = 0x120
    ACT_TYPES = 0x124
    ROWS_SP2 = 0x128
    ROWS_FIXED4 = 0x12C
    ROWS_FIXED8 = 0x130
    MULT_A = 0x134
    MULT_B = 0x138
    SHIFT = 0x13C


class DescriptorField(NamedTuple):
    """One field of a descriptor register: bits ``[lsb + width - 1 : lsb]`` of ``reg``.

    ``name`` is the field's name in docs/registers.md and in the generated Verilog header
    (``hw_src/rtl/msp_contract.vh``: ``MSP_FIELD_<name>_LSB`` ...); ``attr`` the
    :class:`Descriptor` attribute it holds, ``index`` its place in a tuple attribute (kernel,
    stride, padding), None for a scalar one.
    """

    reg: "Reg"
    name: str
    lsb: int
    width: int
    attr: str
    index: "int | None" = None

    @property
    def mask(self) -> int:
        """The field's bits within its register."""
        return ((1 << self.width) - 1) << self.lsb


#: Every field of the descriptor registers, by register offset then LSB: the one table that
#: :meth:`Descriptor.registers`, :meth:`Descriptor.from_registers`, :data:`DESCRIPTOR_MASKS` and
#: the RTL (through ``python -m msp_pynq.hw.verilog_header``) share.
DESCRIPTOR_FIELDS = (
    DescriptorField(Reg.OP, "OP", 0, 4, "op"),
    DescriptorField(Reg.BATCH, "BATCH", 0, 16, "batch"),
    DescriptorField(Reg.IN_H, "IN_H", 0, 16, "in_h"),
    DescriptorField(Reg.IN_W, "IN_W", 0, 16, "in_w"),
    DescriptorField(Reg.IN_C, "IN_C", 0, 16, "in_c"),
    DescriptorField(Reg.OUT_C, "OUT_C", 0, 16, "out_c"),
    DescriptorField(Reg.KERNEL, "KH", 0, 8, "kernel", 0),
    DescriptorField(Reg.KERNEL, "KW", 8, 8, "kernel", 1),
    DescriptorField(Reg.STRIDE, "SH", 0, 8, "stride", 0),
    DescriptorField(Reg.STRIDE, "SW", 8, 8, "stride", 1),
    DescriptorField(Reg.PADDING, "PAD_TOP", 0, 8, "padding", 0),
    DescriptorField(Reg.PADDING, "PAD_LEFT", 8, 8, "padding", 1),
    DescriptorField(Reg.PADDING, "PAD_BOTTOM", 16, 8, "padding", 2),
    DescriptorField(Reg.PADDING, "PAD_RIGHT", 24, 8, "padding", 3),
    DescriptorField(Reg.ACT_TYPES, "IN_TYPE", 0, 8, "in_type"),
    DescriptorField(Reg.ACT_TYPES, "IN_B_TYPE", 8, 8, "in_b_type"),
    DescriptorField(Reg.ACT_TYPES, "OUT_TYPE", 16, 8, "out_type"),
    DescriptorField(Reg.ACT_TYPES, "RAW_OUT", 24, 1, "raw_out"),
    DescriptorField(Reg.ROWS_SP2, "ROWS_SP2", 0, 16, "rows_sp2"),
    DescriptorField(Reg.ROWS_FIXED4, "ROWS_FIXED4", 0, 16, "rows_fixed4"),
    DescriptorField(Reg.ROWS_FIXED8, "ROWS_FIXED8", 0, 16, "rows_fixed8"),
    DescriptorField(Reg.MULT_A, "MULT_A", 0, 16, "mult_a"),
    DescriptorField(Reg.MULT_B, "MULT_B", 0, 16, "mult_b"),
    DescriptorField(Reg.SHIFT, "SHIFT", 0, 6, "shift"),
)


def _register_masks() -> "dict[Reg, int]":
    masks: "dict[Reg, int]" = {}
    for f in DESCRIPTOR_FIELDS:
        assert not masks.get(f.reg, 0) & f.mask, f"{f.name} overlaps another field of {f.reg.name}"
        masks[f.reg] = masks.get(f.reg, 0) | f.mask
    return masks


#: Writable bits of each descriptor register (the other bits read as 0, writes to them are ignored):
#: the union of its fields.
DESCRIPTOR_MASKS = _register_masks()
DESCRIPTOR_REGS = tuple(sorted(DESCRIPTOR_MASKS))

# CONTROL (0x040)
CTRL_START = 1 << 0           # W: start the layer in the descriptor registers (self-clearing)
CTRL_SOFT_RESET = 1 << 1      # W: abort and return to idle (self-clearing)
CTRL_IRQ_ENABLE = 1 << 2      # RW: drive the interrupt output from IRQ_STATUS

# STATUS (0x044), read-only
ST_BUSY = 1 << 0
ST_DONE = 1 << 1
ST_ERROR = 1 << 2
ST_ERR_CODE_SHIFT, ST_ERR_CODE_MASK = 8, 0xF        # bits 11..8
ST_ERR_PACKET_SHIFT, ST_ERR_PACKET_MASK = 12, 0xF   # bits 15..12
ST_PACKETS_SHIFT, ST_PACKETS_MASK = 16, 0xF         # bits 19..16

# IRQ_STATUS (0x048), write 1 to clear
IRQ_DONE = 1 << 0
IRQ_ERROR = 1 << 1


class Op(IntEnum):
    """OP register values."""

    CONV2D = 1
    LINEAR = 2
    ADD = 3
    MAX_POOL = 4
    GLOBAL_AVG_POOL = 5


OP_BY_NAME = {"conv2d": Op.CONV2D, "linear": Op.LINEAR, "add": Op.ADD, "max_pool": Op.MAX_POOL,
              "global_avg_pool": Op.GLOBAL_AVG_POOL}


class ErrorCode(IntEnum):
    """STATUS.ERROR_CODE values."""

    NONE = 0
    BAD_DESCRIPTOR = 1
    STREAM_LENGTH = 2
    UNSUPPORTED_OP = 3
    BUFFER_OVERFLOW = 4
    BAD_DATA = 5


ERROR_TEXT = {
    ErrorCode.NONE: "no error",
    ErrorCode.BAD_DESCRIPTOR: "a descriptor field is out of range or inconsistent",
    ErrorCode.STREAM_LENGTH: "an input packet's length differs from the descriptor's",
    ErrorCode.UNSUPPORTED_OP: "the OP register holds no known operation",
    ErrorCode.BUFFER_OVERFLOW: "the layer does not fit the engine's buffers",
    ErrorCode.BAD_DATA: "streamed data violate the integer contract",
}

# ---- activation type codes (one byte each in ACT_TYPES) ---------------------------------
ACT_SIGNED = 0x80                 # bit 7: signed
ACT_BITS_MASK = 0x0F              # bits 3..0: the activation bits
_ACT_CODES = {"u4": 0x04, "u5": 0x05, "u8": 0x08, "s8": 0x88}


def encode_act(spec: "ActSpec | str | None") -> int:
    """Type byte of an activation type: bits in 3..0, bit 7 = signed; None (unused) is 0."""
    if spec is None:
        return 0
    return _ACT_CODES[str(parse_act(spec))]


def decode_act(code: int) -> "ActSpec | None":
    """The ActSpec of a legal type byte, None for any other byte."""
    for name, value in _ACT_CODES.items():
        if value == code:
            return parse_act(name)
    return None


# ---- per-row parameters: the first packet of conv2d / linear ------------------------------
ROW_PARAM_DTYPE = np.dtype([("bias", "<i4"), ("multiplier", "<u2"), ("shift", "u1"), ("scheme", "u1")])
ROW_PARAM_BYTES = ROW_PARAM_DTYPE.itemsize    # 8
assert ROW_PARAM_BYTES == 8


def pack_row_params(bias: np.ndarray, multiplier: np.ndarray, shift: np.ndarray,
                    schemes: np.ndarray) -> np.ndarray:
    """The parameter packet: 8 bytes per row (bias int32 LE, multiplier uint16 LE, shift, scheme)."""
    rows = len(schemes)
    rec = np.zeros(rows, ROW_PARAM_DTYPE)
    rec["bias"], rec["multiplier"] = bias, multiplier
    rec["shift"], rec["scheme"] = shift, schemes
    return rec.view(np.uint8).copy()


def unpack_row_params(packet: "bytes | np.ndarray") -> np.ndarray:
    """The structured ``[rows]`` array of a parameter packet (a multiple of 8 bytes)."""
    return np.frombuffer(bytes(packet), ROW_PARAM_DTYPE)


def weight_nbytes(k: int, rows_sp2: int, rows_fixed4: int, rows_fixed8: int) -> int:
    """Bytes of the packed-weights packet (docs/numerics.md section 4)."""
    return (rows_sp2 + rows_fixed4) * row_nbytes(Scheme.FIXED4, k) + rows_fixed8 * row_nbytes(Scheme.FIXED8, k)


@dataclass(frozen=True)
class Descriptor:
    """The layer descriptor registers 0x100..0x13C as plain integers (docs/registers.md).

    Type fields hold type bytes (:func:`encode_act`); fields an operation does not use are 0.
    The size helpers assume a valid descriptor (the engine validates it at START).
    """

    op: int
    batch: int = 1
    in_h: int = 1
    in_w: int = 1
    in_c: int = 1
    out_c: int = 0
    kernel: "tuple[int, int]" = (0, 0)
    stride: "tuple[int, int]" = (0, 0)
    padding: "tuple[int, int, int, int]" = (0, 0, 0, 0)   # top, left, bottom, right
    in_type: int = 0
    in_b_type: int = 0
    out_type: int = 0
    raw_out: bool = False
    rows_sp2: int = 0
    rows_fixed4: int = 0
    rows_fixed8: int = 0
    mult_a: int = 0
    mult_b: int = 0
    shift: int = 0

    # ---- registers --------------------------------------------------------------------
    def registers(self) -> "list[tuple[int, int]]":
        """``(offset, value)`` of every descriptor register, ascending offsets."""
        values = {reg: 0 for reg in DESCRIPTOR_REGS}
        for f in DESCRIPTOR_FIELDS:
            value = getattr(self, f.attr)
            values[f.reg] |= int(value if f.index is None else value[f.index]) << f.lsb
        out = []
        for reg in DESCRIPTOR_REGS:
            value = int(values[reg])
            if value & ~DESCRIPTOR_MASKS[reg] or value < 0:
                raise ValueError(f"descriptor field {reg.name} = {value} does not fit its register "
                                 f"(mask 0x{DESCRIPTOR_MASKS[reg]:X})")
            out.append((int(reg), value))
        return out

    @classmethod
    def from_registers(cls, regs: Mapping[int, int]) -> "Descriptor":
        """Decode register values (missing registers read as 0)."""
        r = {reg: int(regs.get(int(reg), 0)) & DESCRIPTOR_MASKS[reg] for reg in DESCRIPTOR_REGS}
        attrs: dict = {}
        for f in DESCRIPTOR_FIELDS:
            value = r[f.reg] >> f.lsb & ((1 << f.width) - 1)
            if f.index is None:
                attrs[f.attr] = bool(value) if f.attr == "raw_out" else value
            else:
                attrs[f.attr] = attrs.get(f.attr, ()) + (value,)
        return cls(**attrs)

    def with_batch(self, batch: int) -> "Descriptor":
        return replace(self, batch=batch)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    # ---- derived sizes ----------------------------------------------------------------
    @property
    def op_name(self) -> str:
        try:
            return Op(self.op).name.lower()
        except ValueError:
            return f"op{self.op}"

    @property
    def k(self) -> int:
        """Reduction length: kh*kw*IN_C for conv2d, IN_H*IN_W*IN_C for linear, else 0."""
        if self.op == Op.CONV2D:
            return self.kernel[0] * self.kernel[1] * self.in_c
        if self.op == Op.LINEAR:
            return self.in_h * self.in_w * self.in_c
        return 0

    @property
    def out_hw(self) -> "tuple[int, int]":
        """Output height and width (1, 1 for linear and global_avg_pool)."""
        if self.op in (Op.CONV2D, Op.MAX_POOL):
            (kh, kw), (sh, sw), (pt, pl, pb, pr) = self.kernel, self.stride, self.padding
            return window_out_len(self.in_h, kh, sh, pt, pb), window_out_len(self.in_w, kw, sw, pl, pr)
        if self.op == Op.ADD:
            return self.in_h, self.in_w
        return 1, 1

    @property
    def out_channels(self) -> int:
        return self.out_c if self.op in (Op.CONV2D, Op.LINEAR) else self.in_c

    @property
    def rows(self) -> int:
        return self.rows_sp2 + self.rows_fixed4 + self.rows_fixed8

    @property
    def image_nbytes(self) -> int:
        """Bytes of one image of the (first) input tensor."""
        return self.in_h * self.in_w * self.in_c

    def packet_sizes(self) -> "list[tuple[str, int]]":
        """The MM2S packets of this layer, in stream order: ``(name, bytes)``."""
        act = self.batch * self.image_nbytes
        if self.op in (Op.CONV2D, Op.LINEAR):
            return [("params", ROW_PARAM_BYTES * self.out_c),
                    ("weights", weight_nbytes(self.k, self.rows_sp2, self.rows_fixed4, self.rows_fixed8)),
                    ("input", act)]
        if self.op == Op.ADD:
            return [("input a", act), ("input b", act)]
        return [("input", act)]

    @property
    def output_elem_bytes(self) -> int:
        return 4 if self.raw_out else 1

    @property
    def output_nbytes(self) -> int:
        """Bytes of the S2MM output packet."""
        ho, wo = self.out_hw
        return self.batch * ho * wo * self.out_channels * self.output_elem_bytes

    @property
    def output_dtype(self) -> np.dtype:
        if self.raw_out:
            return np.dtype("<i4")
        spec = decode_act(self.in_type if self.op == Op.MAX_POOL else self.out_type)
        return np.dtype(np.int8 if spec is not None and spec.signed else np.uint8)


def align(n: int, to: int = PACKET_ALIGN) -> int:
    """``n`` rounded up to a multiple of ``to``."""
    return ceil_div(n, to) * to


def describe_status(status: int) -> str:
    """Human-readable STATUS: ``'busy, 2 packets consumed'``, ``'error STREAM_LENGTH in packet 1'``."""
    parts = [name for bit, name in ((ST_BUSY, "busy"), (ST_DONE, "done"), (ST_ERROR, "error"))
             if status & bit] or ["idle"]
    code = (status >> ST_ERR_CODE_SHIFT) & ST_ERR_CODE_MASK
    if status & ST_ERROR:
        try:
            parts[-1] = f"error {ErrorCode(code).name}"
        except ValueError:
            parts[-1] = f"error code {code}"
        parts.append(f"packet {(status >> ST_ERR_PACKET_SHIFT) & ST_ERR_PACKET_MASK}")
    parts.append(f"{(status >> ST_PACKETS_SHIFT) & ST_PACKETS_MASK} packets consumed")
    return ", ".join(parts)
