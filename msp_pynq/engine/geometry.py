"""The engine's geometry: one record of its five numbers, and the buffer arithmetic they imply.

:class:`EngineGeometry` is what a board profile builds, what the engine's read-only registers
report and what the Verilog generics set (``VECTOR_WIDTH``, ``LUT_ROWS``, ``DSP_ROWS``,
``ACT_BUF_KIB``, ``WGT_BUF_KIB``); :func:`engine_fingerprint` is what a bundle must match to
run on it. Buffers (docs/registers.md, section 5):

The hardware (hw_src/rtl/msp_engine.v) keeps

- the **activation buffer** as words of VW bytes (the vector width). Every pixel's channels start
  a new word, so an image of H x W pixels of C channels takes ``H * W * ceil(C / VW)`` words (a
  linear layer's input is one pixel of K channels). Add's input a is stored dense: all BATCH
  images, ``ceil(BATCH * H * W * C / VW)`` words;
- the **weight banks**: one bank per row unit (LUT_ROWS SP2 units and DSP_ROWS fixed-point slots),
  each ``BANK_WORDS = WGT_BUF_KIB * 1024 // ((LUT_ROWS + DSP_ROWS) * VW // 2)`` words of VW 4-bit
  codes. A layer runs in *passes* over each output position, as many as its rows need units;
  every unit holds ``steps`` words per pass (``kh * kw * ceil(C / VW)``, linear ``ceil(K / VW)``);
- the **row staging**: parameters and outputs of at most ``MAX_ROWS`` rows (conv2d, linear) or
  channels (max_pool, global_avg_pool) per position.

``EngineGeometry(...).overflow(desc)`` is the BUFFER_OVERFLOW check of START, in the engine's
order, giving ERROR_INFO; the planner (:mod:`.planning`) tiles layers with the same arithmetic.

>>> g = EngineGeometry.build(vector_width=16, lut_rows=23, dsp_rows=24, act_buffer_kib=128)
>>> g.weight_buffer_kib, g.act_words, g.bank_words
(188, 8192, 512)
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Callable, Optional

from ..numerics.bounds import ceil_div
from .registers import Descriptor, Op, Reg

NUMERICS_CONTRACT = "msp-numerics/1"   # docs/numerics.md: the integer arithmetic bundles are built for
BANK_WORDS = 512           # words per row unit's weight bank: one BRAM36 deep (512 x 72)

MAX_ROWS = 1024
INFO_WEIGHT_BUFFER = 1 << 31     # ERROR_INFO of BUFFER_OVERFLOW: the weight banks ...
INFO_STAGING = 1 << 30           # ... or the row staging (with bit 31: rows of a conv2d/linear)


@dataclass(frozen=True)
class EngineGeometry:
    """The engine's geometry: its generics, its read-only registers, a board profile's engine."""

    vector_width: int          # activations broadcast to both cores per cycle (K lanes)
    lut_rows: int              # SP2 rows the LUT core computes at once
    dsp_rows: int              # fixed-point row slots of the DSP core (a fixed-8 row takes two)
    act_buffer_kib: int
    weight_buffer_kib: int

    @classmethod
    def build(cls, vector_width: int, lut_rows: int, dsp_rows: int, act_buffer_kib: int) -> "EngineGeometry":
        """The geometry of an engine built with weight banks of BANK_WORDS words of VW 4-bit codes
        per row unit (docs/registers.md 5)."""
        weight_kib = (lut_rows + dsp_rows) * BANK_WORDS * vector_width // 2 // 1024
        return cls(vector_width, lut_rows, dsp_rows, act_buffer_kib, weight_kib)

    # ---- the three places the five numbers appear ---------------------------------------
    def register_values(self) -> "dict[Reg, int]":
        """The read-only registers that report the geometry."""
        return {Reg.VECTOR_WIDTH: self.vector_width, Reg.LUT_ROWS: self.lut_rows, Reg.DSP_ROWS: self.dsp_rows,
                Reg.ACT_BUF_KIB: self.act_buffer_kib, Reg.WGT_BUF_KIB: self.weight_buffer_kib}

    @classmethod
    def from_registers(cls, read: "Callable[[int], int]") -> "EngineGeometry":
        """What an engine's registers report (``read(offset)``, e.g. the driver's ``read``)."""
        return cls(read(Reg.VECTOR_WIDTH), read(Reg.LUT_ROWS), read(Reg.DSP_ROWS), read(Reg.ACT_BUF_KIB),
                   read(Reg.WGT_BUF_KIB))

    def generics(self) -> "dict[str, int]":
        """The msp_engine Verilog generics of this geometry."""
        return {reg.name: value for reg, value in self.register_values().items()}   # same names

    def as_dict(self) -> "dict[str, int]":
        return asdict(self)

    @property
    def act_words(self) -> int:
        return self.act_buffer_kib * 1024 // self.vector_width

    @property
    def bank_words(self) -> int:
        return self.weight_buffer_kib * 1024 // ((self.lut_rows + self.dsp_rows) * self.vector_width // 2)

    def groups(self, channels: int) -> int:
        """Words of VW bytes a pixel of ``channels`` takes."""
        return ceil_div(channels, self.vector_width)

    def steps(self, d: Descriptor) -> int:
        """Window steps per pass: bank words per row (conv2d, linear) or taps (pools)."""
        if d.op == Op.CONV2D:
            return d.kernel[0] * d.kernel[1] * self.groups(d.in_c)
        if d.op == Op.LINEAR:
            return self.groups(d.k)
        if d.op == Op.MAX_POOL:
            return d.kernel[0] * d.kernel[1]
        if d.op == Op.GLOBAL_AVG_POOL:
            return d.in_h * d.in_w
        return 0

    def dsp_slots(self, d: Descriptor) -> int:
        """DSP slots of a layer's fixed rows: fixed-8 rows take aligned pairs."""
        return d.rows_fixed4 + d.rows_fixed4 % 2 + 2 * d.rows_fixed8

    def passes(self, d: Descriptor) -> int:
        """Passes over each output position: row groups (conv2d, linear) or channel groups (pools)."""
        if d.op in (Op.CONV2D, Op.LINEAR):
            lut = ceil_div(d.rows_sp2, self.lut_rows) if self.lut_rows else 0
            return max(lut, ceil_div(self.dsp_slots(d), self.dsp_rows))
        if d.op in (Op.MAX_POOL, Op.GLOBAL_AVG_POOL):
            return self.groups(d.in_c)
        return 1

    def image_words(self, d: Descriptor) -> int:
        """Activation buffer words of one call's resident input (add: all BATCH images of a)."""
        if d.op == Op.ADD:
            return ceil_div(d.batch * d.image_nbytes, self.vector_width)
        if d.op == Op.LINEAR:
            return self.groups(d.k)
        return d.in_h * d.in_w * self.groups(d.in_c)

    def weight_overflow(self, d: Descriptor) -> "Optional[int]":
        """The weight side of :meth:`overflow` (rows and weight banks of a conv2d/linear)."""
        if d.op in (Op.CONV2D, Op.LINEAR):
            if d.out_c > MAX_ROWS or (self.lut_rows == 0 and d.rows_sp2):
                return INFO_WEIGHT_BUFFER | INFO_STAGING | d.out_c
            need = self.passes(d) * self.steps(d)
            if need > self.bank_words:
                return INFO_WEIGHT_BUFFER | need
        return None

    def overflow(self, d: Descriptor) -> "Optional[int]":
        """ERROR_INFO of BUFFER_OVERFLOW for a valid descriptor, or None when the layer fits."""
        info = self.weight_overflow(d)
        if info is not None:
            return info
        if d.op in (Op.MAX_POOL, Op.GLOBAL_AVG_POOL) and d.in_c > MAX_ROWS:
            return INFO_STAGING | d.in_c
        words = self.image_words(d)
        if words > self.act_words:
            return words * self.vector_width
        return None

    def describe_overflow(self, info: int) -> str:
        """ERROR_INFO of BUFFER_OVERFLOW in words."""
        if info & INFO_WEIGHT_BUFFER and info & INFO_STAGING:
            return f"{info & 0xFFFF} rows, more than the {MAX_ROWS} the engine stages or its units hold"
        if info & INFO_WEIGHT_BUFFER:
            return (f"{info & ~INFO_WEIGHT_BUFFER} words of each weight bank (passes x steps); "
                    f"a bank holds {self.bank_words}")
        if info & INFO_STAGING:
            return f"{info & ~INFO_STAGING} channels, more than the {MAX_ROWS} the engine stages"
        return f"{info} bytes of the activation buffer (pixels padded to {self.vector_width}-byte words)"


def engine_fingerprint(board: str, geometry: EngineGeometry) -> str:
    """What a bundle must match to run on a board's engine: the numerics contract and the geometry
    (16 hex digits; the engine's FINGERPRINT register holds the first 8)."""
    fields = {"contract": NUMERICS_CONTRACT, "board": board, **geometry.as_dict()}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def fingerprint_word(fingerprint: str) -> int:
    """The FINGERPRINT register's value: the first 8 hex digits of :func:`engine_fingerprint`."""
    return int(fingerprint[:8], 16)


def clock_khz(clock_mhz: float) -> int:
    """The CLOCK_KHZ register's value (and the CLOCK_KHZ generic) of a fabric clock."""
    return int(round(clock_mhz * 1000))


def engine_generics(profile) -> "dict[str, int]":
    """The msp_engine generics of a board profile (what ``overlays/<board>/manifest.json`` lists):
    its geometry, FINGERPRINT and CLOCK_KHZ."""
    return {**profile.geometry.generics(), "FINGERPRINT": fingerprint_word(profile.fingerprint),
            "CLOCK_KHZ": profile.clock_khz}


def identity_registers(profile) -> "dict[Reg, int]":
    """The geometry, FINGERPRINT and CLOCK_KHZ registers an engine built for ``profile`` reports."""
    return {**profile.geometry.register_values(), Reg.FINGERPRINT: fingerprint_word(profile.fingerprint),
            Reg.CLOCK_KHZ: profile.clock_khz}
