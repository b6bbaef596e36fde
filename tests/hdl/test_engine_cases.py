"""The layers tests/hdl/engine_cases.py generates for the RTL (no simulator needed here):

- every case gives, on the emulated engine (msp_pynq.emulation's register model, the fast
  emulator behind it), exactly what the case expects from the int64 reference: the output
  bytes and STATUS, or the error code, packet and ERROR_INFO;
- the random layers of the CI seed cover what they claim (kernels 1-5, strides 1-3, channels
  around the vector width, rows around the units' multiples, batch > 1, every op), and every
  one passes check_descriptor; the limit layers fill their buffer exactly.
"""
from collections import Counter

import pytest

from msp_pynq.boards.profiles import get_profile
from msp_pynq.emulation.engine import EngineModel
from msp_pynq.engine.checks import check_descriptor
from msp_pynq.engine.geometry import MAX_ROWS
from msp_pynq.engine.registers import (CTRL_SOFT_RESET, CTRL_START, ST_DONE, ST_ERR_CODE_SHIFT, ST_ERR_PACKET_SHIFT,
                                       ST_ERROR, ST_PACKETS_SHIFT, Op, Reg)

from . import engine_cases as ec

BOARDS = ("pynq-z2", "zcu104")


def emulate(model: EngineModel, case) -> "tuple[int, bytes, int]":
    """One case on the emulated engine: (STATUS, output packet, ERROR_INFO); a soft reset after."""
    for offset, value in case.desc.registers():
        model.write(offset, value)
    model.write(Reg.CONTROL, CTRL_START)
    for packet in case.packets:
        model.inp.push(packet)
        model.tick(True)
    output = model.out.pop() or b""
    model.tick(True)
    status, info = model.read(Reg.STATUS), model.read(Reg.ERROR_INFO)
    model.write(Reg.CONTROL, CTRL_SOFT_RESET)
    return status, output, info


def all_cases(board: str):
    return ec.cases(board) + ec.stall_cases(board) + ec.budgeted_cases(board, ec.RANDOM_SEED) + ec.limit_cases(board)


@pytest.mark.parametrize("board", BOARDS)
def test_every_case_agrees_with_the_emulated_engine(board):
    model = EngineModel(profile=board)
    wrong = []
    for case in all_cases(board):
        status, output, info = emulate(model, case)
        if case.error is None:
            ok = status == ST_DONE | len(case.packets) << ST_PACKETS_SHIFT and output == case.output and info == 0
        else:
            got = ((status >> ST_ERR_CODE_SHIFT) & 0xF, (status >> ST_ERR_PACKET_SHIFT) & 0xF, info)
            ok = status & ST_ERROR and got == case.error and output == b""
        if not ok:
            wrong.append(case.name)
    assert not wrong


@pytest.mark.parametrize("board", BOARDS)
def test_the_random_layers_cover_what_they_claim(board):
    g = get_profile(board).geometry
    vw, lut, dsp = g.vector_width, g.lut_rows, g.dsp_rows
    count = ec.BUDGETS[board][0]
    cases = ec.random_cases(board, ec.RANDOM_SEED, count)
    descs = [c.desc for c in cases]
    assert len(cases) == count and all(check_descriptor(d, g) is None for d in descs)
    assert all(ec.sim_cost(d, get_profile(board)) <= 12_000 for d in descs)
    assert Counter(d.op for d in descs) == {Op.CONV2D: count // 3, Op.LINEAR: count // 6, Op.MAX_POOL: count // 6,
                                            Op.GLOBAL_AVG_POOL: count // 6, Op.ADD: count // 6}
    convs = [d for d in descs if d.op == Op.CONV2D]
    assert {k for d in convs for k in d.kernel} == {1, 2, 3, 4, 5}
    assert {s for d in convs for s in d.stride} == {1, 2, 3}
    assert any(d.padding[0] != d.padding[2] or d.padding[1] != d.padding[3] for d in convs)
    assert {vw - 1, vw, vw + 1, 2 * vw + 1} <= {d.in_c for d in descs}
    weighted = [d for d in descs if d.op in (Op.CONV2D, Op.LINEAR)]
    assert {lut - 1, lut, lut + 1, 2 * lut + 1} & {d.rows_sp2 for d in weighted}
    assert {dsp - 1, dsp, dsp + 1} & {g.dsp_slots(d) for d in weighted}
    assert {1, 2, 3} <= {g.passes(d) for d in weighted}
    assert {1, 2, 3} <= {d.batch for d in descs} and any(d.raw_out for d in descs)


def test_a_seed_from_the_environment_draws_other_layers(monkeypatch):
    monkeypatch.setenv(ec.SEED_ENV, "12345")
    assert ec.random_seed() == 12345
    assert [c.desc for c in ec.random_cases("pynq-z2", 12345, 6)] != [c.desc for c in ec.random_cases("pynq-z2", 6)]
    monkeypatch.delenv(ec.SEED_ENV)
    assert ec.random_seed() == ec.RANDOM_SEED


@pytest.mark.parametrize("board", BOARDS)
def test_the_limit_layers_fill_their_buffer_exactly(board):
    g = get_profile(board).geometry
    cases = ec.limit_cases(board)
    full = [c.desc for c in cases if c.error is None]
    assert len(full) == 5 and all(check_descriptor(d, g) is None for d in full)
    act, lin, lin2, staged, pool = full
    assert g.image_words(act) == g.act_words
    assert g.passes(lin) * g.steps(lin) == g.bank_words and g.passes(lin2) == 2
    assert g.passes(lin2) * g.steps(lin2) == g.bank_words
    assert staged.out_c == pool.in_c == MAX_ROWS
    assert [c.error[0] for c in cases if c.error is not None] == [4] * 5     # BUFFER_OVERFLOW, one over each
