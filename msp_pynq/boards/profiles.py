"""Board profiles: the FPGA's resources, the fabric clock, per-MAC costs and engine geometry.

The engine has a DSP core (fixed-point rows) and a LUT core (SP2 rows) that read
the same activations. :func:`sp2_row_share` splits a layer's rows between them
so that both cores finish the layer at the same time. The per-MAC costs here
are placeholders (``measured=False``) until the hardware issue measures them
with Yosys; they then replace these numbers and the ratio follows.

>>> p = get_profile("pynq-z2")
>>> round(sp2_row_share(p, share_8bit=0.05), 3)
0.662
>>> row_split(64, p, share_8bit=0.05)
RowSplit(sp2=42, fixed4=19, fixed8=3)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..errors import MSPError


@dataclass(frozen=True)
class Device:
    part: str
    luts: int
    ffs: int
    dsps: int
    bram36: int
    uram: int = 0


@dataclass(frozen=True)
class MacCosts:
    """What one multiply-accumulate per cycle costs in each core, and how much of the chip
    each core may take (the rest goes to DMA, line buffers, control and interconnect)."""

    luts_per_sp2_mac: float
    fixed4_macs_per_dsp: int
    fixed8_macs_per_dsp: int
    lut_budget: float
    dsp_budget: float
    measured: bool = False


@dataclass(frozen=True)
class BoardProfile:
    """Everything the quantizer, compiler and runtime need to know about one board."""

    name: str
    board: str
    device: Device
    clock_mhz: float
    costs: MacCosts
    vector_width: int          # activations broadcast to both cores per cycle (K lanes)
    act_buffer_kib: int
    weight_buffer_kib: int
    cpu: str
    ddr_gbytes_per_s: float

    @property
    def lut_mac_budget(self) -> int:
        """SP2 MACs per cycle the LUT budget affords (before rounding to whole rows)."""
        return int(self.device.luts * self.costs.lut_budget / self.costs.luts_per_sp2_mac)

    @property
    def dsp_mac_budget(self) -> int:
        """Fixed-4 MACs per cycle the DSP budget affords (before rounding to whole rows)."""
        return int(self.device.dsps * self.costs.dsp_budget) * self.costs.fixed4_macs_per_dsp

    @property
    def lut_rows(self) -> int:
        """Output rows the LUT core computes at once."""
        return max(1, self.lut_mac_budget // self.vector_width)

    @property
    def dsp_rows(self) -> int:
        """Output rows the DSP core computes at once (at 4-bit rate)."""
        return max(1, self.dsp_mac_budget // self.vector_width)

    @property
    def lut_macs_per_cycle(self) -> int:
        """SP2 MACs per cycle of the LUT core as built: rows x vector width."""
        return self.lut_rows * self.vector_width

    @property
    def dsp_macs_per_cycle(self) -> int:
        """Fixed-4 MACs per cycle of the DSP core as built (fixed-8 rows at the 8-bit rate)."""
        return self.dsp_rows * self.vector_width

    @property
    def geometry_measured(self) -> bool:
        return self.costs.measured


class RowSplit(NamedTuple):
    sp2: int
    fixed4: int
    fixed8: int


def sp2_row_share(profile: BoardProfile, share_8bit: float = 0.05) -> float:
    """Fraction of a layer's rows to give SP2 so the LUT and DSP cores finish together.

    With ``x`` the SP2 share, ``e`` the 8-bit share, ``P_lut``/``P_dsp`` the cores'
    MACs per cycle and ``c8 = fixed4_macs_per_dsp / fixed8_macs_per_dsp`` the cost of an
    8-bit MAC in 4-bit MAC slots, the cores take ``x / P_lut`` and
    ``((1 - x - e) + e * c8) / P_dsp`` cycles per row-MAC; setting them equal gives
    ``x = (1 - e + e * c8) / (P_dsp / P_lut + 1)``, clipped to ``[0, 1 - e]``.
    """
    if not 0.0 <= share_8bit <= 1.0:
        raise MSPError(f"share_8bit must lie in [0, 1], got {share_8bit}")
    c8 = profile.costs.fixed4_macs_per_dsp / profile.costs.fixed8_macs_per_dsp
    x = (1 - share_8bit + share_8bit * c8) / (profile.dsp_macs_per_cycle / profile.lut_macs_per_cycle + 1)
    return min(max(x, 0.0), 1.0 - share_8bit)


def row_split(rows: int, profile: BoardProfile, share_8bit: float = 0.05) -> RowSplit:
    """Whole rows per scheme for a layer of ``rows`` outputs (each count rounded to nearest)."""
    if rows < 1:
        raise MSPError(f"a layer has at least one row, got {rows}")
    if not 0.0 <= share_8bit <= 1.0:
        raise MSPError(f"share_8bit must lie in [0, 1], got {share_8bit}")
    n8 = round(rows * share_8bit)
    n_sp2 = min(round(rows * sp2_row_share(profile, share_8bit)), rows - n8)
    return RowSplit(sp2=n_sp2, fixed4=rows - n8 - n_sp2, fixed8=n8)


def mixed_speedup(profile: BoardProfile, share_8bit: float = 0.05) -> float:
    """Modelled MACs-per-cycle gain of the mixed engine over the DSP core alone (same mix of 8-bit)."""
    c8 = profile.costs.fixed4_macs_per_dsp / profile.costs.fixed8_macs_per_dsp
    dsp_only_cycles = ((1 - share_8bit) + share_8bit * c8) / profile.dsp_macs_per_cycle
    x = sp2_row_share(profile, share_8bit)
    mixed_cycles = max(x / profile.lut_macs_per_cycle,
                       ((1 - x - share_8bit) + share_8bit * c8) / profile.dsp_macs_per_cycle)
    return dsp_only_cycles / mixed_cycles


_PLACEHOLDER_COSTS = MacCosts(luts_per_sp2_mac=40.0, fixed4_macs_per_dsp=2, fixed8_macs_per_dsp=1,
                              lut_budget=0.5, dsp_budget=0.9, measured=False)

PROFILES = {
    "pynq-z2": BoardProfile(
        name="pynq-z2", board="TUL PYNQ-Z2",
        device=Device("XC7Z020-1CLG400C", luts=53_200, ffs=106_400, dsps=220, bram36=140),
        clock_mhz=125.0, costs=_PLACEHOLDER_COSTS, vector_width=16,
        act_buffer_kib=128, weight_buffer_kib=64,
        cpu="2x Cortex-A9 650 MHz, 512 MB DDR3", ddr_gbytes_per_s=2.1),
    "zcu104": BoardProfile(
        name="zcu104", board="Xilinx ZCU104",
        device=Device("XCZU7EV-2FFVC1156", luts=230_400, ffs=460_800, dsps=1_728, bram36=312, uram=96),
        clock_mhz=250.0, costs=_PLACEHOLDER_COSTS, vector_width=32,
        act_buffer_kib=512, weight_buffer_kib=256,
        cpu="4x Cortex-A53 1.2 GHz, 2 GB DDR4", ddr_gbytes_per_s=19.2),
}


def get_profile(name: "str | BoardProfile") -> BoardProfile:
    """The profile of a board by name (``'pynq-z2'`` or ``'zcu104'``)."""
    if isinstance(name, BoardProfile):
        return name
    try:
        return PROFILES[str(name).lower()]
    except KeyError:
        raise MSPError(f"unknown board {name!r}; known boards: {', '.join(PROFILES)}") from None
