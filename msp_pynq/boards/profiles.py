"""Board profiles: the FPGA's resources, the fabric clock, per-MAC costs and engine geometry.

The engine has a DSP core (fixed-point rows) and a LUT core (SP2 rows) that read
the same activations. :func:`sp2_row_share` splits a layer's rows between them
so that both cores finish the layer at the same time. The per-MAC costs are the
Verilog engine's, measured with Yosys (docs/resources.md); the geometry (rows per
core, weight banks) follows from them and the budgets, and the ratio from the geometry.

>>> p = get_profile("pynq-z2")
>>> (p.geometry.lut_rows, p.geometry.dsp_rows), round(sp2_row_share(p, share_8bit=0.05), 3)
((23, 24), 0.514)
>>> row_split(64, p, share_8bit=0.05)
RowSplit(sp2=33, fixed4=28, fixed8=3)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..engine.geometry import EngineGeometry, clock_khz, engine_fingerprint
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
    """What the engine costs on one FPGA family, measured with Yosys (docs/resources.md,
    ``make hw-resources``), and how much of the chip the engine may take.

    The LUT core costs ``luts_per_sp2_mac`` LUTs per SP2-4 MAC per cycle; the DSP core
    ``1 / fixed4_macs_per_dsp`` DSPs and ``luts_per_fixed4_mac`` LUTs (its adder trees) per
    fixed-4 MAC per cycle; the rest of the engine (buffers' logic, loader, output stage, AXI)
    ``engine_luts``. Every row unit has a weight bank of ``bram36_per_unit`` BRAM36; the
    activation buffer, parameters and staging take ``engine_bram36``.
    """

    luts_per_sp2_mac: float
    fixed4_macs_per_dsp: int
    fixed8_macs_per_dsp: int
    lut_budget: float              # share of the device's LUTs the whole engine may take
    dsp_budget: float              # share of the device's DSPs the DSP core may take
    luts_per_fixed4_mac: float = 0.0
    engine_luts: int = 0
    bram36_per_unit: float = 0.0
    engine_bram36: float = 0.0
    bram_budget: float = 1.0
    measured: bool = False


@dataclass(frozen=True)
class BoardProfile:
    """Everything the quantizer, compiler and runtime need to know about one board."""

    name: str
    board: str
    device: Device
    clock_mhz: float
    costs: MacCosts
    geometry: EngineGeometry   # the engine as built
    cpu: str
    ddr_gbytes_per_s: float

    def fitted_rows(self) -> "tuple[int, int]":
        """(LUT rows, DSP slots) the budgets afford at the measured costs: DSP slots from the DSP
        budget (even: slots pair up on the multipliers) within the BRAM for weight banks, then
        LUT rows from the LUTs the rest of the engine and the DSP core's adder trees leave.
        The built geometry (``lut_rows``, ``dsp_rows``) must not exceed it."""
        c, d, w = self.costs, self.device, self.geometry.vector_width
        units = (int((d.bram36 * c.bram_budget - c.engine_bram36) / c.bram36_per_unit)
                 if c.bram36_per_unit else 1 << 30)
        slots = max(2, min(int(d.dsps * c.dsp_budget) * c.fixed4_macs_per_dsp // w, units) // 2 * 2)
        left = d.luts * c.lut_budget - c.engine_luts - slots * w * c.luts_per_fixed4_mac
        return max(1, min(int(left / (w * c.luts_per_sp2_mac)), units - slots)), slots

    @property
    def fingerprint(self) -> str:
        """The engine fingerprint a bundle for this board must carry (:func:`engine_fingerprint`)."""
        return engine_fingerprint(self.name, self.geometry)

    @property
    def clock_khz(self) -> int:
        return clock_khz(self.clock_mhz)

    @property
    def lut_macs_per_cycle(self) -> int:
        """SP2 MACs per cycle of the LUT core as built: rows x vector width."""
        return self.geometry.lut_rows * self.geometry.vector_width

    @property
    def dsp_macs_per_cycle(self) -> int:
        """Fixed-4 MACs per cycle of the DSP core as built (fixed-8 rows at the 8-bit rate)."""
        return self.geometry.dsp_rows * self.geometry.vector_width

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


# Measured with Yosys 0.23 synth_xilinx -nowidelut (docs/resources.md, `make hw-resources`; copied from
# docs/resources.json, which tests/test_boards.py checks):
# the LUT and DSP probes give the per-MAC costs, the whole engine the rest. The budgets are
# design choices: the engine may take 85% of the LUTs (the rest: place-and-route slack, the
# AXI interconnect and DMA) and 90% of the DSPs for its DSP core. The built geometry is the
# fitted one of an earlier, larger estimate of the engine's own LUTs (tests check it still fits).
_Z2_COSTS = MacCosts(luts_per_sp2_mac=56.88, luts_per_fixed4_mac=17.91, fixed4_macs_per_dsp=2,
                     fixed8_macs_per_dsp=1, engine_luts=15_199, bram36_per_unit=1.0, engine_bram36=38.0,
                     lut_budget=0.85, dsp_budget=0.9, bram_budget=0.95, measured=True)
_ZCU104_COSTS = MacCosts(luts_per_sp2_mac=50.75, luts_per_fixed4_mac=25.05, fixed4_macs_per_dsp=2,
                         fixed8_macs_per_dsp=1, engine_luts=30_139, bram36_per_unit=2.0, engine_bram36=6.0,
                         lut_budget=0.85, dsp_budget=0.9, bram_budget=0.95, measured=True)

PROFILES = {
    "pynq-z2": BoardProfile(
        name="pynq-z2", board="TUL PYNQ-Z2",
        device=Device("XC7Z020-1CLG400C", luts=53_200, ffs=106_400, dsps=220, bram36=140),
        clock_mhz=125.0, costs=_Z2_COSTS,
        geometry=EngineGeometry.build(vector_width=16, lut_rows=23, dsp_rows=24, act_buffer_kib=128),
        cpu="2x Cortex-A9 650 MHz, 512 MB DDR3", ddr_gbytes_per_s=2.1),
    "zcu104": BoardProfile(
        name="zcu104", board="Xilinx ZCU104",
        device=Device("XCZU7EV-2FFVC1156", luts=230_400, ffs=460_800, dsps=1_728, bram36=312, uram=96),
        clock_mhz=250.0, costs=_ZCU104_COSTS,
        geometry=EngineGeometry.build(vector_width=32, lut_rows=40, dsp_rows=96, act_buffer_kib=512),
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
