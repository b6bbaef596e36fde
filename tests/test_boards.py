"""Board profiles: LUT/DSP balance of the SP2 row share, whole-row splits, speedup."""
from __future__ import annotations

from fractions import Fraction

import pytest

from msp_pynq.boards.profiles import (PROFILES, get_profile, mixed_speedup, row_split,
                                      sp2_row_share)
from msp_pynq.errors import MSPError

BOARDS = sorted(PROFILES)
SHARES_8BIT = [0.0, 0.01, 0.05, 0.1, 0.125, 0.2]   # below the clipping point of both boards


def core_rates(p):
    """(LUT MACs/cycle, DSP 4-bit MACs/cycle, cost of an 8-bit MAC in 4-bit slots) of the built
    engine: its rows times the vector width."""
    c = p.costs
    return p.geometry.lut_rows * p.geometry.vector_width, p.geometry.dsp_rows * p.geometry.vector_width, Fraction(c.fixed4_macs_per_dsp,
                                                                              c.fixed8_macs_per_dsp)


def test_built_geometry_fits_the_measured_costs():
    """The geometry as built fits the budgets at the measured costs, by hand: DSP slots from the
    DSP budget (even), within the BRAM for weight banks; LUT rows from the LUTs the rest of the
    engine and the DSP core's adder trees leave."""
    for name in BOARDS:
        p = get_profile(name)
        w, c, d = p.geometry.vector_width, p.costs, p.device
        assert c.measured
        units = int((d.bram36 * c.bram_budget - c.engine_bram36) / c.bram36_per_unit)
        slots = min(int(d.dsps * c.dsp_budget) * c.fixed4_macs_per_dsp // w, units) // 2 * 2
        left = d.luts * c.lut_budget - c.engine_luts - slots * w * c.luts_per_fixed4_mac
        rows = min(int(left / (w * c.luts_per_sp2_mac)), units - slots)
        assert p.fitted_rows() == (rows, slots)
        assert p.geometry.lut_rows <= rows and p.geometry.dsp_rows <= slots and p.geometry.dsp_rows % 2 == 0


COST_FIELDS = ("luts_per_sp2_mac", "luts_per_fixed4_mac", "fixed4_macs_per_dsp", "fixed8_macs_per_dsp")


@pytest.mark.parametrize("board", BOARDS)
def test_profile_costs_are_the_measured_ones(board):
    """The profiles' per-MAC costs are docs/resources.json's (`make hw-resources`): a re-measure that is not
    fed back into msp_pynq/boards/profiles.py fails here."""
    from msp_pynq.perf.files import read_json
    _, data = read_json(None, "docs/resources.json")
    c = get_profile(board).costs
    assert {f: getattr(c, f) for f in COST_FIELDS} == {f: data[board][f] for f in COST_FIELDS}


def balanced_share(p, e):
    """x with x / P_lut == ((1 - x - e) + e * c8) / P_dsp, clipped to [0, 1 - e] (exact)."""
    p_lut, p_dsp, c8 = core_rates(p)
    e = Fraction(e)
    x = p_lut * (1 - e + e * c8) / (p_lut + p_dsp)
    return min(max(x, Fraction(0)), 1 - e)


def test_profiles_exist_and_rates():
    assert set(BOARDS) == {"pynq-z2", "zcu104"}
    for name in BOARDS:
        p = get_profile(name)
        p_lut, p_dsp, _ = core_rates(p)
        assert p.lut_macs_per_cycle == p_lut > 0
        assert p.dsp_macs_per_cycle == p_dsp > 0
        assert p.geometry.lut_rows * p.geometry.vector_width == p_lut and p.geometry.dsp_rows * p.geometry.vector_width == p_dsp


def test_pynq_z2_numbers_by_hand():
    # DSP: int(220 * 0.9) = 198 DSPs * 2 = 396 fixed-4 MACs -> 24 slots of 16 (BRAM: 140 * 0.95 - 38 = 95 units)
    # LUT: 53200 * 0.85 - 15199 (engine) - 24 * 16 * 17.91 (DSP core) = 23144 -> 23144 / (16 * 56.88) = 25.4
    p = get_profile("pynq-z2")
    assert p.fitted_rows() == (25, 24) and (p.geometry.lut_rows, p.geometry.dsp_rows) == (23, 24)   # built two rows short
    assert (p.lut_macs_per_cycle, p.dsp_macs_per_cycle) == (368, 384)
    assert p.geometry.weight_buffer_kib == (23 + 24) * 512 * 8 // 1024          # one 512-word bank per unit
    # x = (1 - 0.05 + 0.05 * 2) * 368 / (368 + 384) = 1.05 * 368 / 752
    assert sp2_row_share(p, 0.05) == pytest.approx(1.05 * 368 / 752, rel=1e-12)


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("e", SHARES_8BIT)
def test_sp2_row_share_balances_cores(board, e):
    p = get_profile(board)
    p_lut, p_dsp, c8 = core_rates(p)
    x = sp2_row_share(p, e)
    assert balanced_share(p, e) < 1 - Fraction(e)            # not clipped: balance must hold
    assert x == pytest.approx(float(balanced_share(p, e)), rel=1e-12, abs=1e-15)
    lut_cycles = x / p_lut
    dsp_cycles = ((1 - x - e) + e * float(c8)) / p_dsp
    assert lut_cycles == pytest.approx(dsp_cycles, rel=1e-12)
    assert 0 < x < 1 - e + 1e-15


@pytest.mark.parametrize("board", BOARDS)
def test_sp2_row_share_clipped_when_8bit_dominates(board):
    p = get_profile(board)
    for e in (0.6, 0.8, 0.95, 1.0):           # the ZCU104 clips from e = 0.55 on, the PYNQ-Z2 from 0.35
        x = sp2_row_share(p, e)
        assert balanced_share(p, e) == 1 - Fraction(e)        # clipped
        assert x == pytest.approx(1 - e, abs=1e-12)
        assert 0.0 <= x <= 1.0 - e + 1e-12
    assert sp2_row_share(p, 1.0) == 0.0


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("e", [0.0, 0.05, 0.1, 0.25, 0.9])
def test_row_split_counts(board, e):
    p = get_profile(board)
    share = sp2_row_share(p, e)
    for rows in range(1, 513):
        split = row_split(rows, p, e)
        assert split.sp2 + split.fixed4 + split.fixed8 == rows
        assert min(split) >= 0
        assert abs(split.sp2 - rows * share) <= 1.0, (rows, split)
        assert abs(split.fixed8 - rows * e) <= 0.5 + 1e-9, (rows, split)


def test_row_split_hand_example():
    # 64 rows, e = 0.05: 3.2 -> 3 fixed8, 64 * 0.51383... = 32.9 -> 33 SP2, 28 fixed4
    assert tuple(row_split(64, get_profile("pynq-z2"), 0.05)) == (33, 28, 3)


def test_row_split_rejects_no_rows():
    with pytest.raises(MSPError, match="at least one row, got 0"):
        row_split(0, get_profile("zcu104"))


@pytest.mark.parametrize("bad", [-0.1, 1.0001, 2.0, -5.0, float("nan")])
def test_share_8bit_outside_unit_interval(bad):
    p = get_profile("pynq-z2")
    with pytest.raises(MSPError, match=r"share_8bit must lie in \[0, 1\], got " + str(bad)):
        sp2_row_share(p, bad)
    with pytest.raises(MSPError, match=r"share_8bit must lie in \[0, 1\]"):
        mixed_speedup(p, bad)


@pytest.mark.parametrize("bad", [-0.1, 1.0001, 2.0, -5.0])
def test_row_split_share_8bit_outside_unit_interval(bad):
    with pytest.raises(MSPError, match=r"share_8bit must lie in \[0, 1\]"):
        row_split(10, get_profile("zcu104"), bad)


def test_row_split_nan_share_raises_msp_error():
    """A NaN share is bad input like any other: it must raise MSPError, not a bare ValueError
    from ``round(rows * nan)`` before the share is validated."""
    with pytest.raises(MSPError, match=r"share_8bit must lie in \[0, 1\], got nan"):
        row_split(10, get_profile("pynq-z2"), float("nan"))


def test_unknown_board_names_known_boards():
    with pytest.raises(MSPError, match=r"unknown board 'ultra96'; known boards: pynq-z2, zcu104"):
        get_profile("ultra96")
    assert get_profile("PYNQ-Z2") is PROFILES["pynq-z2"]
    p = PROFILES["zcu104"]
    assert get_profile(p) is p


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("e", SHARES_8BIT)
def test_mixed_speedup(board, e):
    p = get_profile(board)
    p_lut, p_dsp, _ = core_rates(p)
    s = mixed_speedup(p, e)
    assert s > 1
    # balanced cores: the mixed engine does P_lut + P_dsp MACs where the DSP core alone does P_dsp
    assert s == pytest.approx((p_lut + p_dsp) / p_dsp, rel=1e-12)


@pytest.mark.parametrize("board", BOARDS)
def test_mixed_speedup_with_clipped_share(board):
    p = get_profile(board)
    p_lut, p_dsp, c8 = core_rates(p)
    for e in (0.6, 0.75, 0.9):
        x = 1 - e                                      # every non-8-bit row goes to SP2
        dsp_only = ((1 - e) + e * float(c8)) / p_dsp
        mixed = max(x / p_lut, e * float(c8) / p_dsp)
        assert mixed_speedup(p, e) == pytest.approx(dsp_only / mixed, rel=1e-12)
        assert mixed_speedup(p, e) > 1
    assert mixed_speedup(p, 1.0) == pytest.approx(1.0)    # all rows 8-bit: nothing to gain
