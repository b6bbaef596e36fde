#!/usr/bin/env python3
"""Resources of the MSP engine under Yosys ``synth_xilinx``, per board, written to docs/resources.md.

For each board (its geometry comes from ``msp_pynq.boards.get_profile``) these syntheses run, all
from one configuration table (:func:`configurations`, ``synth_xilinx -flatten -nowidelut``):

``lut-probe``  the compute array with LUT_ROWS = 2, DSP_ROWS = 0 at the board's vector width: the
               LUT core's cost per SP2 MAC (SP2 multipliers, adder tree and int32 accumulator);
``dsp-probe``  the array with LUT_ROWS = 0, DSP_ROWS = 2 (one ``msp_dsp_pair``): the DSP core's
               MACs per DSP and its LUTs per fixed-4 MAC;
``mixed``      the engine (``msp_engine``; ``--top array``: the array alone) at the profile's geometry;
``dsp-only``   the same top with LUT_ROWS = 0 and as many DSP slots (even) as the device's DSPs
               allow once the mixed engine's DSPs outside the array are set aside;
plus the probes under Yosys's default wide-LUT mapping and, for xcup, the dsp-probe as xc7 maps it
(the report's method notes say why).

Then it writes the report (used against each device's capacity, MACs per cycle of each core, the
mixed engine's MACs-per-cycle advantage over the DSP-only one) and a JSON file of the measured
per-MAC costs that the board profiles can load. Logs, Yosys's ``stat -json`` output and per-run
results go to runs/yosys/.

    python scripts/hw_resources.py --board all --top array \\
        --report docs/resources.md --json docs/resources.json
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import math
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from msp_pynq.boards.profiles import BoardProfile, Device, get_profile
from msp_pynq.engine.geometry import EngineGeometry, engine_generics

ROOT = Path(__file__).resolve().parents[1]
RTL = ROOT / "hw_src" / "rtl"
RUNS = ROOT / "runs" / "yosys"
ARRAY_SOURCES = ("msp_mac_array", "msp_lut_row", "msp_dsp_pair", "msp_sp2_mul", "msp_adder_tree")
FAMILY = {"pynq-z2": "xc7", "zcu104": "xcup"}
SYNTH_OPTIONS = "-flatten -nowidelut"   # see "How Yosys is run" in the report
LUT_PROBE_ROWS = 2          # lut-probe: LUT rows (DSP_ROWS = 0)
DSP_PROBE_ROWS = 2          # dsp-probe: DSP slots, one msp_dsp_pair (LUT_ROWS = 0)
PAPER_CLAIM = ("MSP (Chang et al., arXiv 2009.07460) and its companion \"Mix and Match\" (MSQ, HPCA 2021, "
               "arXiv 2012.04240) report a speedup over using the DSPs alone of 2.1x on the XC7Z020 and 4.1x on "
               "the XC7Z045 (figures known to us only through secondary copies). Theirs is a measured "
               "speedup; ours is the ratio of peak MACs per cycle")

# Cells of the Xilinx libraries, summed into the report's resource classes.
LUT_CELLS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "LUT6_2", "INV")   # INV: a LUT1 (see summarize)
LUTRAM_LUTS = {             # LUTs each LUT-RAM / shift-register cell occupies
    "RAM16X1S": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
    "RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
    "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8, "RAM64X8SW": 8,
    "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}
FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE")
DSP_CELLS = ("DSP48E1", "DSP48E2")
BRAM36_CELLS = ("RAMB36E1", "RAMB36E2", "FIFO36E1", "FIFO36E2")
BRAM18_CELLS = ("RAMB18E1", "RAMB18E2", "FIFO18E1", "FIFO18E2")
CARRY_CELLS = ("CARRY4", "CARRY8")
URAM_CELLS = ("URAM288", "URAM288_BASE")


# --------------------------------------------------------------------------- configuration table

@dataclass(frozen=True)
class BoardSpec:
    """One board's syntheses: its profile (device, engine geometry, clock) and the Yosys family."""

    profile: BoardProfile
    family: str

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def device(self) -> Device:
        return self.profile.device

    @property
    def geometry(self) -> EngineGeometry:
        return self.profile.geometry

    @property
    def dsp_slots(self) -> int:
        """The profile's DSP rows rounded down to even: the array runs DSP slots in pairs."""
        return self.geometry.dsp_rows - self.geometry.dsp_rows % 2


def board_spec(name: str) -> BoardSpec:
    """A board's syntheses from its profile."""
    p = get_profile(name)
    return BoardSpec(profile=p, family=FAMILY[p.name])


@dataclass(frozen=True)
class Config:
    """One synthesis: a top module, its generics and sources, a Yosys family."""

    board: str
    role: str                   # lut-probe, dsp-probe (and -widelut, -xc7 variants), mixed, dsp-only
    top: str                    # msp_mac_array or msp_engine
    family: str
    vector_width: int
    lut_rows: int
    dsp_rows: int
    generics: tuple             # ((name, value), ...) in chparam order
    sources: tuple              # paths relative to ROOT
    options: str = SYNTH_OPTIONS

    @property
    def name(self) -> str:
        return f"{self.board}-{self.role}"

    def synth_script(self) -> str:
        """The synthesis, without where its statistics go."""
        files = " ".join(self.sources)
        sets = " ".join(f"-set {k} {v}" for k, v in self.generics)
        return (f"read_verilog {files}; chparam {sets} {self.top}; "
                f"synth_xilinx {self.options} -top {self.top} -family {self.family}")

    def yosys_script(self, stat_json: str) -> str:
        """The synthesis, then its cell counts as JSON (Yosys's ``stat -json``) into ``stat_json``."""
        return f"{self.synth_script()}; tee -q -o {stat_json} stat -json"

    def key(self) -> str:
        """Identifies the synthesis: its script and the sources' contents."""
        h = hashlib.sha256((self.synth_script() + "; stat -json").encode())
        for src in self.sources + HEADERS:         # the contract header the sources include
            h.update((ROOT / src).read_bytes())
        return h.hexdigest()[:16]


def _generics(spec: BoardSpec, top: str, lut_rows: int, dsp_rows: int) -> tuple:
    g = spec.geometry
    if top == "msp_engine":
        # the profile's generics with these rows, and one BANK_WORDS-deep weight bank per unit
        # (EngineGeometry.build), as the profile sizes the mixed engine's
        rows = EngineGeometry.build(g.vector_width, lut_rows, dsp_rows, g.act_buffer_kib)
        generics = {**engine_generics(spec.profile), **rows.generics()}
        generics["FINGERPRINT"] = f"32'h{generics['FINGERPRINT']:08X}"
        return tuple(generics.items())
    return (("VW", g.vector_width), ("LUT_ROWS", lut_rows), ("DSP_ROWS", dsp_rows))


HEADERS = ("hw_src/rtl/msp_contract.vh",)


def _sources(top: str) -> tuple:
    if top == "msp_engine":
        return tuple(str(p.relative_to(ROOT)) for p in sorted(RTL.glob("*.v")))
    return tuple(f"hw_src/rtl/{m}.v" for m in ARRAY_SOURCES)


def top_module(top: str) -> str:
    """``engine`` -> msp_engine, ``array`` -> msp_mac_array."""
    return {"engine": "msp_engine", "array": "msp_mac_array"}[top]


def make_config(spec: BoardSpec, role: str, top: str, lut_rows: int, dsp_rows: int,
                family: "str | None" = None, options: str = SYNTH_OPTIONS) -> Config:
    family = family or spec.family
    if family == "xcup" and top == "msp_engine":
        options += " -uram"                  # the activation buffer goes to UltraRAM, as Vivado would
    return Config(board=spec.name, role=role, top=top, family=family,
                  vector_width=spec.geometry.vector_width, lut_rows=lut_rows, dsp_rows=dsp_rows,
                  generics=_generics(spec, top, lut_rows, dsp_rows), sources=_sources(top), options=options)


def configurations(spec: BoardSpec, top: str) -> list:
    """The configuration table of one board: the probes and the mixed engine. The DSP-only
    configuration depends on the mixed engine's measured DSPs: :func:`dsp_only_config`.

    Besides the two probes that give the per-MAC costs, the same probes run under Yosys's
    default wide-LUT mapping (``*-widelut``: what ``-nowidelut`` changes), and, for a family other
    than xc7, the DSP probe as xc7 maps it (``dsp-probe-xc7``: Yosys 0.23 packs post-adders into
    DSP48E1 but not into DSP48E2)."""
    array, wide = "msp_mac_array", SYNTH_OPTIONS.replace("-nowidelut", "").strip()
    table = [make_config(spec, "lut-probe", array, LUT_PROBE_ROWS, 0),
             make_config(spec, "dsp-probe", array, 0, DSP_PROBE_ROWS),
             make_config(spec, "lut-probe-widelut", array, LUT_PROBE_ROWS, 0, options=wide),
             make_config(spec, "dsp-probe-widelut", array, 0, DSP_PROBE_ROWS, options=wide)]
    if spec.family != "xc7":
        table.append(make_config(spec, "dsp-probe-xc7", array, 0, DSP_PROBE_ROWS, family="xc7"))
    return table + [make_config(spec, "mixed", top, spec.geometry.lut_rows, spec.dsp_slots)]


def dsp_only_rows(device_dsps: int, dsps_per_slot: float, mixed_dsps: "int | None", mixed_slots: int) -> tuple:
    """DSP slots (even) of the DSP-only engine and the DSPs set aside for the non-array logic.

    The mixed engine's DSPs outside its array (its measured DSPs minus its slots times the
    measured DSPs per slot) stay with the DSP-only engine's non-array logic; every other DSP of
    the device goes to DSP slots."""
    reserved = 0 if mixed_dsps is None else max(0, mixed_dsps - round(dsps_per_slot * mixed_slots))
    slots = int((device_dsps - reserved) // dsps_per_slot)
    return max(2, slots - slots % 2), reserved


def dsp_only_config(spec: BoardSpec, top: str, slots: int) -> Config:
    return make_config(spec, "dsp-only", top, 0, slots)


# --------------------------------------------------------------------------- Yosys and its stat

def yosys_version() -> str:
    out = subprocess.run(["yosys", "-V"], capture_output=True, text=True, check=True).stdout.strip()
    return out


def parse_stat(text: str) -> dict:
    """Cell counts by type of the whole design from Yosys's ``stat -json`` output: its ``design``
    entry (written when the design has a top module), else that of its only module."""
    try:
        stat = json.loads(text)
        modules = stat.get("modules", {})
        if "design" in stat:
            design = stat["design"]
        elif len(modules) == 1:
            (design,) = modules.values()
        else:
            raise KeyError("design")
        return {name: int(n) for name, n in design["num_cells_by_type"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not the output of Yosys's stat -json: {exc!r}") from None


def summarize(cells: dict) -> dict:
    """The report's resource classes from Yosys cell counts. Yosys writes a one-input LUT that
    inverts as an INV cell; here they all drive carry-chain (CARRY4 S) inputs, which only a LUT
    can drive, so each INV is counted as a LUT (``lut_inv`` says how many)."""
    logic = sum(cells.get(c, 0) for c in LUT_CELLS)
    memory = sum(n * cells.get(c, 0) for c, n in LUTRAM_LUTS.items())
    return {
        "lut": logic + memory, "lut_logic": logic, "lut_memory": memory, "lut_inv": cells.get("INV", 0),
        "lutram_cells": {c: cells[c] for c in LUTRAM_LUTS if cells.get(c)},
        "ff": sum(cells.get(c, 0) for c in FF_CELLS),
        "latch": sum(cells.get(c, 0) for c in ("LDCE", "LDPE")),
        "dsp": sum(cells.get(c, 0) for c in DSP_CELLS),
        "bram36": sum(cells.get(c, 0) for c in BRAM36_CELLS) + 0.5 * sum(cells.get(c, 0) for c in BRAM18_CELLS),
        "uram": sum(cells.get(c, 0) for c in URAM_CELLS),
        "carry": sum(cells.get(c, 0) for c in CARRY_CELLS),
        "carry_cell": "/".join(c for c in CARRY_CELLS if cells.get(c)) or "CARRY4",
        "muxf": sum(n for c, n in cells.items() if c.startswith("MUXF")),
    }


@dataclass
class RunResult:
    config: Config
    status: str = "pending"     # ok, failed, stopped
    cells: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    wall_s: float = 0.0
    max_rss_gb: float = 0.0
    log: str = ""
    script: str = ""            # what Yosys ran (its stat -json file named)
    detail: str = ""
    reused: bool = False
    finished: str = ""

    def to_json(self) -> dict:
        c = self.config
        return {"name": c.name, "key": c.key(), "top": c.top, "family": c.family, "generics": dict(c.generics),
                "yosys_script": self.script or c.synth_script(), "status": self.status, "cells": self.cells,
                "summary": self.summary, "wall_s": round(self.wall_s, 1), "max_rss_gb": round(self.max_rss_gb, 2),
                "log": self.log, "detail": self.detail, "finished": self.finished}


def _rss_gb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


class _LogFilter(threading.Thread):
    """Copies Yosys's output to the log, without the SHARE pass's per-pair SAT chatter (millions of
    lines on a whole array: it compares every pair of shifters), and tracks the current pass."""

    def __init__(self, stream, log: Path):
        super().__init__(daemon=True)
        self.stream, self.log, self.current, self.dropped = stream, log, "", 0

    def run(self):
        quiet = False
        with open(self.log, "w") as out:
            for raw in self.stream:
                line = raw.decode(errors="replace")
                m = re.match(r"^[\d.]+ Executing (\S+)", line)
                if m:
                    self.current, quiet = m.group(1), m.group(1) == "SHARE"
                elif quiet and line.startswith("    "):
                    self.dropped += 1
                    continue
                out.write(line)
            if self.dropped:
                out.write(f"[hw_resources.py: {self.dropped} lines of SHARE pass detail left out of this log]\n")


def run_yosys(config: Config, runs: Path, timeout_min: float, max_rss_gb: float, reuse: bool,
              progress=print, poll_s: float = 2.0, report_every_s: float = 60.0) -> RunResult:
    """Synthesize one configuration; stops it past ``timeout_min`` or ``max_rss_gb``."""
    runs.mkdir(parents=True, exist_ok=True)
    log, record = runs / f"{config.name}.log", runs / f"{config.name}.json"
    stat = runs / f"{config.name}.stat.json"
    result = RunResult(config, log=_rel(log), script=config.yosys_script(_rel(stat)))
    if reuse and record.exists():
        old = json.loads(record.read_text())
        if old.get("key") == config.key() and old.get("status") == "ok":
            result.status, result.cells, result.summary = "ok", old["cells"], old["summary"]
            result.wall_s, result.max_rss_gb = old["wall_s"], old["max_rss_gb"]
            result.finished = old.get("finished", "")
            result.reused = True
            progress(f"[{config.name}] reused {record.relative_to(ROOT) if record.is_relative_to(ROOT) else record} "
                     f"(identical script and sources; synthesized in {_fmt_s(result.wall_s)})")
            return result
    progress(f"[{config.name}] synth_xilinx {config.top} "
             + " ".join(f"{k}={v}" for k, v in config.generics)
             + f" -family {config.family} {config.options}; log {result.log}")
    start = time.monotonic()
    stat.unlink(missing_ok=True)
    proc = subprocess.Popen(["yosys", "-p", result.script], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    copier = _LogFilter(proc.stdout, log)
    copier.start()
    peak, last_report, stop = 0.0, start, ""
    while True:
        done, status = os.waitpid(proc.pid, os.WNOHANG)
        if done:
            break
        peak = max(peak, _rss_gb(proc.pid))
        now = time.monotonic()
        if now - start > timeout_min * 60:
            stop = f"stopped after {timeout_min:g} min (--timeout-min)"
        elif peak > max_rss_gb:
            stop = f"stopped at {peak:.1f} GB resident (--max-rss-gb {max_rss_gb:g})"
        if stop:
            os.killpg(proc.pid, signal.SIGTERM)       # our own child's session only
            _, status = os.waitpid(proc.pid, 0)
            break
        if now - last_report >= report_every_s:
            progress(f"[{config.name}] {_fmt_s(now - start)}, {peak:.1f} GB, in {copier.current or '?'}")
            last_report = now
        time.sleep(poll_s)
    proc.returncode = os.waitstatus_to_exitcode(status)
    copier.join()
    result.wall_s = time.monotonic() - start
    result.max_rss_gb = peak
    result.finished = datetime.datetime.now().isoformat(timespec="seconds")
    if stop:
        result.status, result.detail = "stopped", stop
    elif proc.returncode != 0:
        result.status = "failed"
        result.detail = f"yosys exit {proc.returncode}: " + _tail(log, 600).strip()
    else:
        try:
            if not stat.exists():
                raise ValueError(f"Yosys wrote no {_rel(stat)}")
            result.cells = parse_stat(stat.read_text())
            result.summary = summarize(result.cells)
            result.status = "ok"
        except ValueError as exc:
            result.status, result.detail = "failed", str(exc)
    record.write_text(json.dumps(result.to_json(), indent=1) + "\n")
    progress(f"[{config.name}] {result.status} in {_fmt_s(result.wall_s)}, peak {peak:.1f} GB"
             + (f": {result.summary['lut']} LUT, {result.summary['ff']} FF, {result.summary['dsp']} DSP"
                if result.status == "ok" else f": {result.detail[:200]}"))
    return result


def _rel(path: Path) -> str:
    """``path`` as Yosys (run in ROOT) is given it: relative to ROOT where it is under it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _tail(path: Path, n: int) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - n))
        return f.read().decode(errors="replace")


def _fmt_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


# --------------------------------------------------------------------------- one board

@dataclass
class BoardResult:
    spec: BoardSpec
    top: str
    runs: dict                  # role -> RunResult
    dsp_only_slots: int
    dsp_reserved: int

    def ok(self, role: str) -> bool:
        return role in self.runs and self.runs[role].status == "ok"

    def macs(self, role: str) -> dict:
        c = self.runs[role].config
        return {"sp2": c.lut_rows * c.vector_width, "fixed4": c.dsp_rows * c.vector_width,
                "fixed8": c.dsp_rows // 2 * c.vector_width,
                "total4": (c.lut_rows + c.dsp_rows) * c.vector_width}

    def ratio(self) -> float:
        return self.macs("mixed")["total4"] / self.macs("dsp-only")["total4"]

    def same_dsp_ratio(self) -> float:
        m = self.macs("mixed")
        return m["total4"] / m["fixed4"] if m["fixed4"] else math.inf

    def costs(self, suffix: str = "") -> dict:
        """Measured per-MAC costs (the profiles' MacCosts fields and a few more) from the probes
        (``suffix``: from the ``-widelut`` or ``-xc7`` variants of the probes instead)."""
        out = {}
        if self.ok("lut-probe" + suffix):
            s, c = self.runs["lut-probe" + suffix].summary, self.runs["lut-probe" + suffix].config
            n = c.lut_rows * c.vector_width
            out.update(luts_per_sp2_mac=round(s["lut"] / n, 2), carry_per_sp2_mac=round(s["carry"] / n, 2),
                       ffs_per_sp2_mac=round(s["ff"] / n, 2))
        if self.ok("dsp-probe" + suffix):
            s, c = self.runs["dsp-probe" + suffix].summary, self.runs["dsp-probe" + suffix].config
            n4, n8 = c.dsp_rows * c.vector_width, c.dsp_rows // 2 * c.vector_width
            if s["dsp"]:
                out.update(fixed4_macs_per_dsp=_num(n4 / s["dsp"]), fixed8_macs_per_dsp=_num(n8 / s["dsp"]))
            out.update(luts_per_fixed4_mac=round(s["lut"] / n4, 2), carry_per_fixed4_mac=round(s["carry"] / n4, 2),
                       ffs_per_fixed4_mac=round(s["ff"] / n4, 2))
        return out

    def full_run_costs(self) -> dict:
        """Cross-check from the full syntheses: the DSP-only run's LUTs per slot stand for the
        mixed run's DSP core; the rest of the mixed run's LUTs, per SP2 MAC (array top only:
        with the engine top, control would be counted twice)."""
        if not (self.ok("mixed") and self.ok("dsp-only")):
            return {}
        m, d = self.runs["mixed"], self.runs["dsp-only"]
        out = {}
        if d.summary["dsp"]:
            out["fixed4_macs_per_dsp"] = _num(d.config.dsp_rows * d.config.vector_width / d.summary["dsp"])
        if m.config.top == "msp_mac_array" and m.config.lut_rows:
            dsp_core = d.summary["lut"] / d.config.dsp_rows * m.config.dsp_rows
            sp2_macs = m.config.lut_rows * m.config.vector_width
            out["luts_per_sp2_mac"] = round((m.summary["lut"] - dsp_core) / sp2_macs, 2)
            out["luts_per_fixed4_mac"] = round(d.summary["lut"] / (d.config.dsp_rows * d.config.vector_width), 2)
        return out


def _num(x: float):
    return int(round(x)) if abs(x - round(x)) < 1e-9 else round(x, 3)


def run_board(spec: BoardSpec, top: str, runs: Path, jobs: int = 1, timeout_min: float = 60,
              max_rss_gb: float = 12, reuse: bool = False, progress=print) -> BoardResult:
    """The syntheses of one board (:func:`configurations` first, then the DSP-only one sized
    from the dsp-probe and the mixed engine), ``jobs`` at a time."""
    from concurrent.futures import ThreadPoolExecutor

    configs = configurations(spec, top)
    go = lambda c: run_yosys(c, runs, timeout_min, max_rss_gb, reuse, progress)  # noqa: E731
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = {c.role: r for c, r in zip(configs, pool.map(go, configs))}
    probe = results["dsp-probe"]
    per_slot = (probe.summary["dsp"] / probe.config.dsp_rows if probe.status == "ok" and probe.summary["dsp"]
                else spec.geometry.vector_width / 2)
    mixed = results["mixed"]
    slots, reserved = dsp_only_rows(spec.device.dsps, per_slot,
                                    mixed.summary["dsp"] if mixed.status == "ok" else None, spec.dsp_slots)
    results["dsp-only"] = go(dsp_only_config(spec, top, slots))
    return BoardResult(spec=spec, top=top, runs=results, dsp_only_slots=slots, dsp_reserved=reserved)


# --------------------------------------------------------------------------- report

def _pct(used: float, cap: float) -> str:
    return f"{100 * used / cap:.1f}%" if cap else "n/a"


def _n(x) -> str:
    return f"{x:,.1f}" if isinstance(x, float) and x != int(x) else f"{int(x):,}"


def _over(summary: dict, d: Device) -> list:
    """The resources a synthesis uses beyond the device's capacity."""
    caps = (("LUT", "lut", d.luts), ("FF", "ff", d.ffs), ("DSP", "dsp", d.dsps), ("BRAM", "bram36", d.bram36),
            ("URAM", "uram", d.uram))
    return [f"{label} {_pct(summary[key], cap) if cap else summary[key]} of {_n(cap)}"
            for label, key, cap in caps if summary[key] > cap]


def _fits(summary: dict, d: Device) -> bool:
    return not _over(summary, d)


def profile_estimate(b: BoardResult) -> dict:
    """What the profile's geometry formula gives with the measured costs and the profile's
    present budgets, and the array's LUTs scaled from the probes (an estimate, not a synthesis)."""
    c = b.costs()
    if not {"luts_per_sp2_mac", "fixed4_macs_per_dsp", "luts_per_fixed4_mac"} <= set(c):
        return {}
    p, vw, d = b.spec.profile, b.spec.geometry.vector_width, b.spec.device
    lut_rows = max(1, int(d.luts * p.costs.lut_budget / c["luts_per_sp2_mac"]) // vw)
    dsp_rows = max(1, int(d.dsps * p.costs.dsp_budget) * c["fixed4_macs_per_dsp"] // vw)
    slots = dsp_rows - dsp_rows % 2
    lut_core, dsp_core = lut_rows * vw * c["luts_per_sp2_mac"], slots * vw * c["luts_per_fixed4_mac"]
    return {"lut_budget": p.costs.lut_budget, "dsp_budget": p.costs.dsp_budget, "lut_rows": lut_rows,
            "dsp_rows": dsp_rows, "dsp_slots_built": slots, "lut_core_luts": round(lut_core),
            "dsp_core_luts": round(dsp_core), "array_luts": round(lut_core + dsp_core),
            "array_dsps": slots * vw // c["fixed4_macs_per_dsp"],
            "macs_per_cycle": (lut_rows + slots) * vw}


def board_section(b: BoardResult) -> list:
    s, d = b.spec, b.spec.device
    lines = [f"## {s.name} ({d.part}, Yosys family `{s.family}`)", ""]
    roles = [r for r in ("mixed", "dsp-only") if r in b.runs]
    tops = {b.runs[r].config.top for r in roles}
    lines.append(f"Synthesized top: `{'`, `'.join(sorted(tops))}`"
                 + (" (the compute array only: no buffers, control, AXI or requantizer)."
                    if tops == {"msp_mac_array"} else "."))
    lines.append("")
    head, rule = "| resource | capacity |", "| --- | ---: |"
    for r in roles:
        c = b.runs[r].config
        head += f" {r} ({c.lut_rows} LUT rows, {c.dsp_rows} DSP slots) | % |"
        rule += " ---: | ---: |"
    lines += [head, rule]
    carry = next((b.runs[r].summary.get("carry_cell") for r in roles if b.ok(r)), "CARRY4")
    rows = [("LUT", "lut", d.luts), ("of which INV (LUT1)", "lut_inv", 0), ("of which LUT as memory", "lut_memory", 0),
            ("FF", "ff", d.ffs), ("DSP", "dsp", d.dsps), ("BRAM (36 Kb equivalents)", "bram36", d.bram36)]
    if d.uram:
        rows.append(("URAM", "uram", d.uram))
    rows.append((carry, "carry", 0))
    for label, key, cap in rows:
        line = f"| {label} | {_n(cap) if cap else ''} |"
        for r in roles:
            res = b.runs[r]
            if res.status != "ok":
                line += f" {res.status} | |"
            else:
                v = res.summary[key]
                line += f" {_n(v)} | {_pct(v, cap) if cap else ''} |"
        lines.append(line)
    lines.append("")
    for r in roles:
        res = b.runs[r]
        if not b.ok(r):
            lines.append(f"- {r}: {res.status}: {res.detail}")
        elif _fits(res.summary, d):
            lines.append(f"- {r}: **fits** the {d.part.split('-')[0]} (LUT, FF, DSP, BRAM within capacity).")
        else:
            lines.append(f"- {r}: **does not fit** the {d.part.split('-')[0]}: "
                         + "; ".join(_over(res.summary, d)) + ".")
    if s.geometry.dsp_rows != s.dsp_slots:
        lines.append(f"- The profile asks for {s.geometry.dsp_rows} DSP rows; the DSP core runs its slots in "
                     f"pairs (`msp_dsp_pair`), so DSP_ROWS is rounded down to {s.dsp_slots}.")
    lines.append("")
    return lines


def _method(boards: list) -> list:
    lines = ["## How Yosys is run", "",
             f"Every synthesis is `read_verilog <sources>; chparam <generics> <top>; synth_xilinx {SYNTH_OPTIONS} "
             "-top <top> -family <family>; tee -q -o <run>.stat.json stat -json`; the logs (without the "
             "SHARE pass's per-pair detail), the cell counts (`stat -json`) and a record of each run are in "
             "`runs/yosys/`. Yosys counts cells before placement: the figures "
             "estimate what Vivado will report, they do not replace its utilization report.", "",
             "- LUT counts LUT1 to LUT6, Yosys's INV cells (one-input LUTs; here they all drive carry-chain "
             "S inputs, which only a LUT can drive) and the LUTs of any LUT-RAM or shift-register cell. FF "
             "counts FDRE, FDSE, FDCE, FDPE and latches; BRAM counts RAMB36 as 1 and RAMB18 as 0.5; DSP "
             "counts DSP48E1 or DSP48E2.",
             "- `-nowidelut`: with its default wide-LUT mapping (LUT6 with MUXF7/8/9 as 7- to 9-input LUTs) "
             "Yosys 0.23 maps these adder trees into more LUTs. The same probes both ways:"]
    for b in boards:
        parts = []
        for probe in ("lut-probe", "dsp-probe"):
            if b.ok(probe) and b.ok(probe + "-widelut"):
                a, w = b.runs[probe].summary["lut"], b.runs[probe + "-widelut"].summary["lut"]
                parts.append(f"{probe} {w:,} LUTs by default, {a:,} with `-nowidelut` ({100 * (w - a) / a:+.0f}%)")
        if parts:
            lines.append(f"  {b.spec.name} (`{b.spec.family}`): " + "; ".join(parts) + ".")
    xc7 = [b for b in boards if b.ok("dsp-probe-xc7") and b.ok("dsp-probe")]
    if xc7:
        lines.append("- DSP48E2: Yosys 0.23 packs post-adders (`P = A*B + C`) into DSP48E1 but not into "
                     "DSP48E2, so on `xcup` every adder of the DSP core's packed sum stays in LUTs and carry "
                     "chains. Vivado packs them on both families, so the `xcup` DSP core is an overestimate. "
                     "The same dsp-probe as `xc7` maps it:")
        for b in xc7:
            a, x = b.runs["dsp-probe"].summary, b.runs["dsp-probe-xc7"].summary
            n = b.runs["dsp-probe"].config.dsp_rows * b.spec.geometry.vector_width
            lines.append(f"  {b.spec.name}: {a['lut']:,} LUTs (`{b.spec.family}`, {a['lut'] / n:.1f} per fixed-4 MAC) "
                         f"against {x['lut']:,} (`xc7`, {x['lut'] / n:.1f}), {a['dsp']} DSPs either way.")
    lines.append("")
    return lines


def write_report(boards: list, path: Path, command: str, version: str) -> None:
    when = datetime.date.today().isoformat()
    lines = ["# Resources of the MSP engine (Yosys `synth_xilinx`)", "",
             f"Written by `scripts/hw_resources.py` on {when} with {version}. The command:", "",
             f"    {command}", ""]
    for b in boards:
        if b.ok("mixed") and b.ok("dsp-only"):
            m = b.runs["mixed"].summary
            fit = ("fits" if _fits(m, b.spec.device) else "does not fit") + f" ({_pct(m['lut'], b.spec.device.luts)} " \
                  f"of the LUTs, {_pct(m['dsp'], b.spec.device.dsps)} of the DSPs)"
            what = "array" if b.runs["mixed"].config.top == "msp_mac_array" else "engine"
            lines.append(f"- **{b.spec.name}**: the mixed {what} "
                         f"at the profile's geometry {fit}; {b.macs('mixed')['total4']:,} 4-bit MACs per cycle against "
                         f"{b.macs('dsp-only')['total4']:,} for the DSP-only one: **{b.ratio():.2f}x** (paper: "
                         + ("2.1x on the XC7Z020)." if b.spec.name == "pynq-z2"
                            else "4.1x on the XC7Z045, none for this device)."))
    lines.append("")
    lines += _method(boards)
    for b in boards:
        lines += board_section(b)
    # MACs per cycle
    lines += ["## MACs per cycle", "",
              "Each core computes rows x vector width MACs per cycle: the LUT core one SP2-4 MAC per row "
              "lane, the DSP core one fixed-4 MAC per slot lane (a fixed-8 row takes two slots, so "
              "half as many fixed-8 MACs).", "",
              "| board | configuration | VW | LUT rows | DSP slots | DSPs | SP2 MACs/cycle | fixed-4 MACs/cycle "
              "(fixed-8) | 4-bit MACs/cycle |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for b in boards:
        for r in ("mixed", "dsp-only"):
            if r not in b.runs:
                continue
            c, m = b.runs[r].config, b.macs(r)
            dsps = _n(b.runs[r].summary["dsp"]) if b.ok(r) else b.runs[r].status
            lines.append(f"| {b.spec.name} | {r} | {c.vector_width} | {c.lut_rows} | {c.dsp_rows} | {dsps} | "
                         f"{m['sp2']:,} | {m['fixed4']:,} ({m['fixed8']:,}) | {m['total4']:,} |")
    lines += ["", "### Mixed vs DSP-only", "",
              "| board | mixed 4-bit MACs/cycle | DSP-only MACs/cycle | **mixed / DSP-only** | "
              "mixed / its own DSP core | paper |",
              "| --- | ---: | ---: | ---: | ---: | --- |"]
    for b in boards:
        paper = "2.1x (XC7Z020)" if b.spec.name == "pynq-z2" else "4.1x on XC7Z045 (no figure for this device)"
        lines.append(f"| {b.spec.name} | {b.macs('mixed')['total4']:,} | {b.macs('dsp-only')['total4']:,} | "
                     f"**{b.ratio():.2f}x** | {b.same_dsp_ratio():.2f}x | {paper} |")
    lines += ["", f"{PAPER_CLAIM}.", "",
              "How the DSP-only engine is sized (the comparison's fair point): it is the largest DSP-only "
              "engine the same device holds. Its LUT_ROWS is 0 and its DSP_ROWS the largest even number of "
              "slots whose DSPs (measured per slot by the dsp-probe) fit in the device's DSPs minus the "
              "DSPs the mixed engine spends outside its array (its measured DSPs minus its slots' DSPs: "
              "the requantizer, address arithmetic; 0 for the array top). So the DSP-only engine gets every "
              "DSP the mixed one has, plus the DSP headroom the profile's DSP budget leaves unused, and the "
              "ratio is a lower bound on the mixed engine's advantage. The column \"mixed / its own DSP "
              "core\" is the other reading (DSP-only with the same DSP count as the mixed engine, 1 + "
              "SP2 MACs / fixed-4 MACs).", "",
              "Both ratios count MACs per cycle at 4 bits. With a share e of 8-bit rows (two slots each) the "
              "ratio is the same: both engines' DSP work grows by (1 + e) and the mixed engine rebalances its "
              "SP2 share (`msp_pynq.boards.sp2_row_share`), as long as the SP2 share stays below 1 - e. "
              "MACs per cycle is the engines' peak rate; both run at the profile's clock ("
              + ", ".join(f"{b.spec.name} {b.spec.profile.clock_mhz:g} MHz" for b in boards)
              + "), estimated, not signed off by Vivado: `docs/timing.md` (`python -m msp_pynq.hw.timing`) "
              "estimates the pipelined engines' register-to-register paths over Yosys's netlist.", ""]
    for b in boards:
        lines.append(f"- {b.spec.name}: DSP-only DSP_ROWS = {b.dsp_only_slots} "
                     f"({b.spec.device.dsps:,} DSPs, {b.dsp_reserved} set aside for the non-array logic).")
    lines.append("")
    # per-MAC costs
    lines += ["## Measured per-MAC costs (for the board profiles)", "",
              f"Probes at each board's vector width and family: `lut-probe` is `msp_mac_array` with LUT_ROWS = "
              f"{LUT_PROBE_ROWS} and DSP_ROWS = 0 (SP2 multipliers, adder trees, int32 accumulators and their "
              f"registers, nothing else); `dsp-probe` is `msp_mac_array` with LUT_ROWS = 0 and DSP_ROWS = "
              f"{DSP_PROBE_ROWS} (one `msp_dsp_pair` and its two accumulators). The full-run cross-check "
              "divides the whole arrays instead (the DSP-only run's LUTs per slot stand for the mixed run's "
              "DSP core, the rest of the mixed run's LUTs are the LUT core).", "",
              "| board | source | LUTs / SP2 MAC | CARRY / SP2 MAC | FF / SP2 MAC | fixed-4 MACs / DSP | "
              "fixed-8 MACs / DSP | LUTs / fixed-4 MAC (DSP core) |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    g = lambda d, k: str(d[k]) if k in d else "n/a"  # noqa: E731
    for b in boards:
        c, f = b.costs(), b.full_run_costs()
        lines.append(f"| {b.spec.name} | **probes** | **{g(c, 'luts_per_sp2_mac')}** | {g(c, 'carry_per_sp2_mac')} | "
                     f"{g(c, 'ffs_per_sp2_mac')} | **{g(c, 'fixed4_macs_per_dsp')}** | "
                     f"**{g(c, 'fixed8_macs_per_dsp')}** | "
                     f"**{g(c, 'luts_per_fixed4_mac')}** |")
        if f:
            lines.append(f"| {b.spec.name} | full runs | {g(f, 'luts_per_sp2_mac')} | | | "
                         f"{g(f, 'fixed4_macs_per_dsp')} | | {g(f, 'luts_per_fixed4_mac')} |")
        w = b.costs(suffix="-widelut")
        if w:
            lines.append(f"| {b.spec.name} | probes, default wide-LUT mapping | {g(w, 'luts_per_sp2_mac')} | | | | | "
                         f"{g(w, 'luts_per_fixed4_mac')} |")
        if b.ok("dsp-probe-xc7"):
            x = b.costs(suffix="-xc7")
            lines.append(f"| {b.spec.name} | dsp-probe as `xc7` maps it | | | | {g(x, 'fixed4_macs_per_dsp')} | "
                         f"{g(x, 'fixed8_macs_per_dsp')} | {g(x, 'luts_per_fixed4_mac')} |")
    lines += ["", "The probes' figures (bold) are written to the JSON file next to this report "
              "(`luts_per_sp2_mac`, `fixed4_macs_per_dsp`, `fixed8_macs_per_dsp`, and the DSP core's "
              "`luts_per_fixed4_mac`) for the board profiles (`msp_pynq/boards/profiles.py`) to load; the "
              "profiles decide their budgets, and a geometry change changes the bundles' engine fingerprint.", ""]
    est = [(b, profile_estimate(b)) for b in boards]
    if any(e for _, e in est):
        lines += ["### The profiles' geometry with these costs (estimate)", "",
                  "The profiles' formula (LUT rows = LUTs x lut_budget / LUTs per SP2 MAC / VW; DSP rows = "
                  "DSPs x dsp_budget x fixed-4 MACs per DSP / VW) with the measured costs and the profiles' "
                  "present budgets; the array's LUTs are scaled from the probes (rows x VW x cost, the DSP "
                  "core included), not synthesized (the probes' and the full runs' rows of the table above "
                  "show how well the probes scale).", "",
                  "| board | lut_budget | dsp_budget | LUT rows | DSP rows | array LUTs (LUT core + DSP core) | "
                  "% of LUTs | array DSPs | 4-bit MACs/cycle |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for b, e in est:
            if e:
                built = "" if e["dsp_slots_built"] == e["dsp_rows"] else f" ({e['dsp_slots_built']} built)"
                lines.append(f"| {b.spec.name} | {e['lut_budget']} | {e['dsp_budget']} | {e['lut_rows']} | "
                             f"{e['dsp_rows']}{built} | {e['array_luts']:,} ({e['lut_core_luts']:,} + "
                             f"{e['dsp_core_luts']:,}) | {_pct(e['array_luts'], b.spec.device.luts)} | "
                             f"{e['array_dsps']:,} | {e['macs_per_cycle']:,} |")
        lines.append("")
    # wall times
    lines += ["## Synthesis runs", "", "| run | top | family | options | generics | status | wall time | peak memory |",
              "| --- | --- | --- | --- | --- | --- | ---: | ---: |"]
    for b in boards:
        for r, res in b.runs.items():
            gen = ", ".join(f"{k} {v}" for k, v in res.config.generics)
            lines.append(f"| {res.config.name} | `{res.config.top}` | `{res.config.family}` | `{res.config.options}` | "
                         f"{gen} | {res.status} | {_fmt_s(res.wall_s)} | {res.max_rss_gb:.1f} GB |")
    lines += ["", "Peak memory is Yosys's resident set, polled every 2 s."]
    if any(r.reused for b in boards for r in b.runs.values()):
        lines += ["Runs whose script and sources were unchanged since an earlier run of the same command "
                  "were reused (`--reuse`); their wall time is that run's."]
    lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def write_json(boards: list, path: Path, command: str, version: str) -> None:
    data = {}
    for b in boards:
        entry = dict(b.costs())
        entry.update({
            "source": (f"Yosys synth_xilinx {SYNTH_OPTIONS} -family {b.spec.family}: lut-probe msp_mac_array "
                       f"VW {b.spec.geometry.vector_width} LUT_ROWS {LUT_PROBE_ROWS} DSP_ROWS 0; dsp-probe LUT_ROWS 0 "
                       f"DSP_ROWS {DSP_PROBE_ROWS}; LUTs include INV cells"),
            "full_run_costs": b.full_run_costs(),
            "costs_default_widelut": b.costs(suffix="-widelut"),
            "costs_dsp_probe_as_xc7": b.costs(suffix="-xc7"),
            "profile_formula_with_these_costs": profile_estimate(b),
            "macs_per_cycle": {r: b.macs(r) for r in ("mixed", "dsp-only")},
            "mixed_vs_dsp_only": round(b.ratio(), 3),
            "mixed_vs_own_dsp_core": round(b.same_dsp_ratio(), 3),
            "dsp_only_slots": b.dsp_only_slots, "dsp_reserved_outside_array": b.dsp_reserved,
            "device": dataclasses.asdict(b.spec.device),
            "runs": {r: {k: v for k, v in res.to_json().items() if k not in ("cells",)} | {"cells": res.cells}
                     for r, res in b.runs.items()},
            "yosys": version, "command": command,
        })
        data[b.spec.name] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")


# --------------------------------------------------------------------------- command line

def canonical_command(args) -> str:
    """The command that reproduces the report (without --reuse/--jobs, which change neither)."""
    parts = ["python", "scripts/hw_resources.py", "--board", args.board, "--top", args.top]
    if args.report:
        parts += ["--report", args.report]
    if args.json:
        parts += ["--json", args.json]
    return " ".join(shlex.quote(p) for p in parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--board", default="all", choices=["pynq-z2", "zcu104", "all"])
    ap.add_argument("--top", default="engine", choices=["engine", "array"],
                    help="engine: msp_engine; array: msp_mac_array only")
    ap.add_argument("--report", default="docs/resources.md", help="Markdown report (empty: none)")
    ap.add_argument("--json", default="docs/resources.json", help="per-MAC costs for the profiles (empty: none)")
    ap.add_argument("--jobs", type=int, default=1, help="Yosys runs at once (default 1)")
    ap.add_argument("--runs", default=str(RUNS), help="logs and per-run records (default runs/yosys)")
    ap.add_argument("--timeout-min", type=float, default=60, help="stop a synthesis after this long")
    ap.add_argument("--max-rss-gb", type=float, default=12, help="stop a synthesis above this memory")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse runs/yosys records whose script and sources are unchanged")
    args = ap.parse_args(argv)

    boards = ["pynq-z2", "zcu104"] if args.board == "all" else [args.board]
    top = top_module(args.top)
    version = yosys_version()
    runs = Path(args.runs)
    progress = lambda msg: print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)  # noqa: E731
    results = []
    for name in boards:
        results.append(run_board(board_spec(name), top, runs, jobs=args.jobs, timeout_min=args.timeout_min,
                                 max_rss_gb=args.max_rss_gb, reuse=args.reuse, progress=progress))
    command = canonical_command(args)
    if args.report:
        write_report(results, ROOT / args.report, command, version)
        progress(f"wrote {args.report}")
    if args.json:
        write_json(results, ROOT / args.json, command, version)
        progress(f"wrote {args.json}")
    for b in results:
        if b.ok("mixed") and b.ok("dsp-only"):
            print(f"{b.spec.name}: mixed {b.macs('mixed')['total4']} vs DSP-only {b.macs('dsp-only')['total4']} "
                  f"4-bit MACs/cycle = {b.ratio():.2f}x; costs {b.costs()}")
    return 0 if all(r.status == "ok" for b in results for r in b.runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
