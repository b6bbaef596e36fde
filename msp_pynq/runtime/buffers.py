"""The engine's buffers and what a layer needs of them (docs/registers.md, section 5, Buffers).

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

``EngineBuffers(...).overflow(desc)`` is the BUFFER_OVERFLOW check of START, in the engine's
order, giving ERROR_INFO; the runtime plans row and band tiles with the same arithmetic.

>>> from msp_pynq.boards.profiles import get_profile
>>> b = EngineBuffers.of(get_profile("pynq-z2"))
>>> b.act_words, b.bank_words
(8192, 512)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .registers import Descriptor, Op

MAX_ROWS = 1024
INFO_WEIGHT_BUFFER = 1 << 31     # ERROR_INFO of BUFFER_OVERFLOW: the weight banks ...
INFO_STAGING = 1 << 30           # ... or the row staging (with bit 31: rows of a conv2d/linear)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class EngineBuffers:
    """The buffer geometry an engine reports (its generics / read-only registers)."""

    vector_width: int
    lut_rows: int
    dsp_rows: int
    act_buffer_kib: int
    weight_buffer_kib: int

    @classmethod
    def of(cls, geometry) -> "EngineBuffers":
        """From anything with the five attributes: a BoardProfile, the driver's EngineInfo."""
        return cls(geometry.vector_width, geometry.lut_rows, geometry.dsp_rows,
                   geometry.act_buffer_kib, geometry.weight_buffer_kib)

    @property
    def act_words(self) -> int:
        return self.act_buffer_kib * 1024 // self.vector_width

    @property
    def bank_words(self) -> int:
        return self.weight_buffer_kib * 1024 // ((self.lut_rows + self.dsp_rows) * self.vector_width // 2)

    def groups(self, channels: int) -> int:
        """Words of VW bytes a pixel of ``channels`` takes."""
        return _ceil_div(channels, self.vector_width)

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
            lut = _ceil_div(d.rows_sp2, self.lut_rows) if self.lut_rows else 0
            return max(lut, _ceil_div(self.dsp_slots(d), self.dsp_rows))
        if d.op in (Op.MAX_POOL, Op.GLOBAL_AVG_POOL):
            return self.groups(d.in_c)
        return 1

    def image_words(self, d: Descriptor) -> int:
        """Activation buffer words of one call's resident input (add: all BATCH images of a)."""
        if d.op == Op.ADD:
            return _ceil_div(d.batch * d.image_nbytes, self.vector_width)
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
