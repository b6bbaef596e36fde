"""A static timing ESTIMATE of the RTL over Yosys's ``synth_xilinx`` JSON netlist (not Vivado timing).

Yosys maps the RTL to Xilinx primitives (``synth_xilinx -flatten -nowidelut``, ``write_json``); this
module then runs a longest-path analysis over the netlist's bits in topological order (linear time)
with a per-device delay model (:data:`MODELS`: one figure per primitive arc, each with its source)
and a per-hop net delay at two figures ("optimistic" and "pessimistic" nets). There is no
placement, no routing and no clock skew here: the figures are estimates, not signed off by Vivado.

    python -m msp_pynq.hw.timing --board pynq-z2 --top msp_stream_rx
    python -m msp_pynq.hw.timing --board all --report docs/timing.md          # the unit modules
    python -m msp_pynq.hw.timing --board all --engine --report docs/timing.md # plus the whole engine
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

from msp_pynq.errors import MSPError

ROOT = Path(__file__).resolve().parents[2]
RTL = ROOT / "hw_src" / "rtl"
FAMILY = {"pynq-z2": "xc7", "zcu104": "xcup"}
CELLS_SIM = "Yosys 0.23 /usr/share/yosys/xilinx/cells_sim.v specify blocks"
CAVEAT = ("Estimate from Yosys's netlist with a per-primitive delay model and a fixed net delay per hop; "
          "not Vivado timing (no placement, routing, clock skew or uncertainty): clocks derived from it "
          "are estimated, not signed off by Vivado.")

# The unit modules of hw_src/rtl and the generics they are synthesized at: the forms the engine
# uses (pipelined row units and trees) at the PYNQ-Z2's vector width, small arrays (fast).
# msp_requant is the combinational reference of msp_requant_pipe (in-to-out: its logic depth).
UNIT_MODULES = {
    "msp_requant": {}, "msp_requant_pipe": {}, "msp_sp2_mul": {}, "msp_dsp_pair": {"VW": 16, "PIPE": 1},
    "msp_lut_row": {"VW": 16, "PIPE": 1}, "msp_adder_tree": {"N": 33, "IN_W": 12, "OUT_W": 17, "REG_EVERY": 2},
    "msp_layer_check": {}, "msp_window_gen": {}, "msp_add_unit": {},
    "msp_weight_loader": {}, "msp_act_writer": {}, "msp_stream_rx": {}, "msp_stream_tx": {},
    "msp_output_stage": {}, "msp_pool_unit": {}, "msp_regs": {},
    "msp_mac_array": {"VW": 16, "LUT_ROWS": 2, "DSP_ROWS": 2},
}


class TimingError(MSPError):
    """Bad input to the timing estimator, or a synthesis that failed."""


# --------------------------------------------------------------------------- delay model

@dataclass(frozen=True)
class Fig:
    ns: float
    source: str


@dataclass(frozen=True)
class DelayModel:
    """One device's delay figures (ns), each with where it comes from."""

    device: str
    family: str
    target_ns: float            # the register-to-register figure each path is checked against
    target_source: str
    net_opt: Fig                # one net (driver to load), optimistic
    net_pess: Fig               # one net, pessimistic (the target is checked at this figure)
    lut: Fig                    # LUT1..LUT6 input to output (one logic level)
    muxf: Fig                   # MUXF7/MUXF8 (dedicated routing from the LUTs: no net)
    ff_cko: Fig                 # FF clock to Q
    ff_setup: Fig               # FF D/CE/R/S setup
    carry_ci_co: Fig            # carry cell CI -> CO (the chain; CO -> CI is dedicated: no net)
    carry_s_co: Fig
    carry_di_co: Fig
    carry_ci_o: Fig
    carry_s_o: Fig
    carry_di_o: Fig
    bram_cko: Fig               # BRAM clock to DO, no output register
    bram_cko_reg: Fig           # BRAM clock to DO with DOA_REG/DOB_REG
    bram_setup: Fig             # BRAM address/data/enable setup
    dsp_ab_p: Fig               # DSP A/B -> P, no pipeline register (the sum of the two below)
    dsp_ab_m: Fig               # A/B (or A/B register) -> M (multiplier)
    dsp_m_p: Fig                # M (or M register) / C -> P (ALU)
    dsp_reg_cko: Fig            # DSP internal register (A/B/C/M) clock to out
    dsp_p_cko: Fig              # DSP P register clock to P
    dsp_setup: Fig              # DSP input setup at a used register
    lutram_read: Fig            # LUTRAM async read, address -> O
    lutram_cko: Fig             # LUTRAM write clock -> O
    srl_cko: Fig                # SRL16E/SRLC32E clock -> Q
    # count the flip-flops around a DSP as its A/B/P registers where Vivado would absorb them
    # (absorbable_dsp_registers): Yosys packs none into a DSP48E2
    absorb_dsp_registers: bool = False

    def figures(self) -> dict:
        return {k: v for k, v in asdict(self).items() if isinstance(v, dict)}


_Z = "DS187 (Zynq-7000 AC/DC switching characteristics), speed grade -1"
_ISSUE = "the project's XC7Z020-1 baseline model"
XC7Z020_1 = DelayModel(
    device="XC7Z020-1", family="xc7", target_ns=6.5,
    target_source="<= 6.5 ns at 0.6 ns nets: a 125 MHz clock (8 ns) with room for the routing of an 80%-full device",
    net_opt=Fig(0.3, _ISSUE), net_pess=Fig(0.6, _ISSUE),
    lut=Fig(0.124, f"{_ISSUE} (T_ILO, {_Z})"),
    muxf=Fig(0.217, f"{CELLS_SIM}: MUXF7 I0 => O 217 ps"),
    ff_cko=Fig(0.45, f"{_ISSUE} (T_CKO)"), ff_setup=Fig(0.1, f"{_ISSUE} (T_DICK)"),
    carry_ci_co=Fig(0.114, f"{CELLS_SIM}: CARRY4 CI => CO[3] 114 ps"),
    carry_s_co=Fig(0.528, f"{CELLS_SIM}: CARRY4 S[1] => CO[3] 528 ps (worst S arc)"),
    carry_di_co=Fig(0.526, f"{CELLS_SIM}: CARRY4 DI[0] => CO[3] 526 ps (worst DI arc)"),
    carry_ci_o=Fig(0.334, f"{CELLS_SIM}: CARRY4 CI => O[1] 334 ps (worst CI->O arc)"),
    carry_s_o=Fig(0.618, f"{CELLS_SIM}: CARRY4 S[1] => O[3] 618 ps (worst S->O arc)"),
    carry_di_o=Fig(0.615, f"{CELLS_SIM}: CARRY4 DI[0] => O[3] 615 ps (worst DI->O arc)"),
    bram_cko=Fig(2.2, f"{_ISSUE} (T_RCKO_DO without output register, {_Z})"),
    bram_cko_reg=Fig(0.9, f"assumed from {_Z} T_RCKO_DO_REG (about 0.9 ns at -1)"),
    bram_setup=Fig(0.5, f"assumed from {_Z} T_RCCK_ADDR / T_RDCK_DI (0.4 to 0.6 ns)"),
    dsp_ab_p=Fig(4.0, f"{_ISSUE} (DSP48E1 A/B -> P, no pipeline registers)"),
    dsp_ab_m=Fig(2.6, "assumed split of the 4.0 ns A/B -> P arc (multiplier part), after DS187 T_DSPDO_A_M"),
    dsp_m_p=Fig(1.4, "assumed split of the 4.0 ns A/B -> P arc (ALU part), after DS187 T_DSPDO_M_P"),
    dsp_reg_cko=Fig(0.35, f"assumed from {_Z} DSP48E1 internal register clock-to-out"),
    dsp_p_cko=Fig(0.5, f"assumed from {_Z} T_DSPCKO_P (about 0.5 ns)"),
    dsp_setup=Fig(0.4, f"assumed from {_Z} T_DSPDCK_A_AREG (0.3 to 0.5 ns)"),
    lutram_read=Fig(0.25, "assumed: LUT-RAM read like a LUT plus its output mux (DS187 T_ILO class)"),
    lutram_cko=Fig(1.0, f"assumed from {_Z} T_SHCKO (about 1 ns)"),
    srl_cko=Fig(1.0, f"assumed from {_Z} T_REG (SRL clock to out, about 1 ns)"),
)

_U = "DS925 (Zynq UltraScale+ MPSoC DC/AC switching characteristics), speed grade -2"
XCZU7EV_2 = DelayModel(
    device="XCZU7EV-2", family="xcup", target_ns=3.3,
    target_source="<= 3.3 ns: a 250 MHz clock (4 ns) with the same room",
    net_opt=Fig(0.2, "assumed: UltraScale+ local net, short (about half of 7-series)"),
    net_pess=Fig(0.4, "assumed: UltraScale+ net, typical after routing"),
    lut=Fig(0.05, f"assumed from {_U} (LUT propagation, about 0.05 ns)"),
    muxf=Fig(0.1, "assumed: MUXF7/F8 on UltraScale+"),
    ff_cko=Fig(0.1, f"assumed from {_U} T_CKO (about 0.1 ns)"),
    ff_setup=Fig(0.05, f"assumed from {_U} (FF setup, about 0.05 ns)"),
    carry_ci_co=Fig(0.05, "assumed: CARRY8 CI -> CO[7], dedicated chain"),
    carry_s_co=Fig(0.25, "assumed: CARRY8 S -> CO (half of the CARRY4 figure, faster fabric)"),
    carry_di_co=Fig(0.25, "assumed: CARRY8 DI -> CO"),
    carry_ci_o=Fig(0.15, "assumed: CARRY8 CI -> O"),
    carry_s_o=Fig(0.3, "assumed: CARRY8 S -> O"),
    carry_di_o=Fig(0.3, "assumed: CARRY8 DI -> O"),
    bram_cko=Fig(1.2, f"assumed from {_U} T_RCKO_DO without output register (about 1.2 ns)"),
    bram_cko_reg=Fig(0.4, f"assumed from {_U} T_RCKO_DO_REG (about 0.4 ns)"),
    bram_setup=Fig(0.3, f"assumed from {_U} BRAM address/data setup"),
    dsp_ab_p=Fig(2.4, f"assumed from {_U} DSP48E2 A/B -> P, no pipeline registers"),
    dsp_ab_m=Fig(1.5, "assumed split of the A/B -> P arc (multiplier part)"),
    dsp_m_p=Fig(0.9, "assumed split of the A/B -> P arc (ALU part)"),
    dsp_reg_cko=Fig(0.2, f"assumed from {_U} DSP48E2 internal register clock-to-out"),
    dsp_p_cko=Fig(0.3, f"assumed from {_U} DSP48E2 P clock-to-out"),
    dsp_setup=Fig(0.25, f"assumed from {_U} DSP48E2 input setup"),
    lutram_read=Fig(0.12, "assumed: LUT-RAM read like a LUT plus its output mux"),
    lutram_cko=Fig(0.6, "assumed: LUT-RAM clock to out"),
    srl_cko=Fig(0.6, "assumed: SRL clock to out"),
    absorb_dsp_registers=True,
)

MODELS = {"pynq-z2": XC7Z020_1, "zcu104": XCZU7EV_2}


# --------------------------------------------------------------------------- Yosys

def yosys_script(files, top: str, family: str, chparams: dict, out_json: str) -> str:
    sets = " ".join(f"-set {k} {v}" for k, v in chparams.items())
    chp = f"chparam {sets} {top}; " if chparams else ""
    uram = " -uram" if family == "xcup" and top == "msp_engine" else ""
    return (f"read_verilog -I {RTL} {' '.join(str(f) for f in files)}; {chp}"
            f"synth_xilinx -flatten -nowidelut{uram} -top {top} -family {family}; write_json {out_json}")


def synthesize(files, top: str, family: str, chparams: "dict | None" = None, timeout_s: float = 1800) -> dict:
    """Yosys's JSON netlist of ``top``; TimingError with Yosys's last error lines on failure."""
    if shutil.which("yosys") is None:
        raise TimingError("yosys not found on PATH (make hdl-tools installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "netlist.json"
        script = yosys_script(files, top, family, chparams or {}, str(out))
        try:
            proc = subprocess.run(["yosys", "-q", "-p", script], capture_output=True, text=True,
                                  timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise TimingError(f"yosys ran past {timeout_s:.0f} s on {top}") from None
        if proc.returncode != 0 or not out.exists():
            lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
            errs = [ln for ln in lines if "ERROR" in ln] or lines
            raise TimingError(f"yosys failed on {top} ({family}):\n  " + "\n  ".join(errs[-6:]))
        netlist = json.loads(out.read_text())
    modules = netlist.get("modules", {})
    if top not in modules:
        # a top whose parameters change its memories' shapes is re-derived as $paramod$<hash>\top
        derived = [m for m in modules if m.startswith("$paramod") and m.endswith("\\" + top)]
        if len(derived) != 1:
            raise TimingError(f"Yosys's netlist has no module {top!r}")
        modules[top] = modules.pop(derived[0])
    return netlist


# --------------------------------------------------------------------------- analysis

FF_TYPES = ("FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "LDCE", "LDPE")
LUT_TYPES = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "LUT6_2", "INV")
BRAM_TYPES = ("RAMB18E1", "RAMB36E1", "RAMB18E2", "RAMB36E2", "FIFO18E1", "FIFO36E1")
DSP_TYPES = ("DSP48E1", "DSP48E2")
BUFFER_TYPES = ("IBUF", "OBUF", "IOBUF", "OBUFT", "BUFG", "BUFGCTRL", "BUFG_GT", "IBUFG", "BUFH", "BUFCE")
SRL_TYPES = ("SRL16E", "SRLC16E", "SRLC32E")
CLOCK_PINS = re.compile(r"^(C|CLK|CLKA|CLKB|CLKARDCLK|CLKBWRCLK|WCLK|RDCLK|WRCLK|CLKARDCLKL|CLKBWRCLKL)$")
LUTRAM_ADDR = re.compile(r"^(A\d*|ADDR[A-H]?|DPRA\d*|A[0-9]|RADR.*)$")


@dataclass
class Path_:
    """One worst path (to one end-register family, from registers or from ports)."""

    kind: str                   # reg-to-reg, in-to-reg, reg-to-out, in-to-out
    start: str
    end: str
    family: str
    ns_opt: float
    ns_pess: float
    luts: int
    carry: int
    dsp: int
    muxf: int
    nets: int
    bram_start: bool
    meets: "bool | None"        # None: a port path, the target does not apply
    through: list = field(default_factory=list)     # the named signals on the way, start to end


@dataclass
class Report:
    design: str
    board: str
    device: str
    target_ns: float
    cells: int
    paths: list = field(default_factory=list)       # worst reg-to-reg path per family, worst first
    port_paths: list = field(default_factory=list)  # worst port path per family and kind, worst first
    reg_families: int = 0
    failing_families: int = 0
    worst_reg_to_reg: "Path_ | None" = None
    worst_port_path: "Path_ | None" = None
    combinational: bool = False
    unknown_cells: dict = field(default_factory=dict)
    loop_nodes: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict:
        d = asdict(self)
        return d


def _param(cell: dict, name: str, default: int = 0) -> int:
    v = cell.get("parameters", {}).get(name)
    if v is None:
        return default
    if isinstance(v, int):
        return v
    s = str(v).strip()
    try:
        return int(s, 2) if set(s) <= {"0", "1", "x", "z"} and len(s) > 1 else int(s)
    except ValueError:
        return default


def _names(module: dict) -> dict:
    """bit -> (name, src): names without ``$`` preferred, then the shortest; ``src`` is the net's."""
    best = {}
    for name, net in module.get("netnames", {}).items():
        bits = net["bits"]
        off = net.get("offset", 0)
        score = (("$" in name) or net.get("hide_name", 0) == 1, name.count("."), len(name))
        src = net.get("attributes", {}).get("src", "")
        for i, b in enumerate(bits):
            if isinstance(b, str):
                continue
            label = name if len(bits) == 1 else f"{name}[{i + off}]"
            if b not in best or score < best[b][0]:
                best[b] = (score, label, src)
    # $iopadmap$x is Yosys's copy of port x's net: the port's name is what the designer wrote
    return {b: (v[1].replace("$iopadmap$", ""), v[2]) for b, v in best.items()}


def _bits(v) -> list:
    return [b for b in v if not isinstance(b, str)]


def readable(name: str) -> bool:
    """A name a designer wrote: Yosys's generated names ($techmap..., $abc$..., $auto$...) have a ``$``."""
    return bool(name) and "$" not in name


def src_location(src: str) -> str:
    """``file.v:line`` from a ``src`` attribute, "" when it has none in the design's own files.
    Yosys lists a flattened cell's locations outermost first (the instance, then the module's
    line), then its own techmap libraries': the last location outside Yosys's share folder is the
    line that made the cell."""
    found = ""
    for loc in (src or "").split("|"):
        m = re.match(r"^(.*):(\d+)(?:\.\d+)?(?:-\d+(?:\.\d+)?)?$", loc.strip())
        if m and "/share/yosys/" not in m.group(1):
            found = f"{Path(m.group(1)).name}:{m.group(2)}"
    return found


def memory_name(cname: str) -> str:
    """``mem`` from memory_libmap's BRAM cell names (``mem.0.0``: the memory, then its tile)."""
    return re.sub(r"(\.\d+)+$", "", cname)


class Namer:
    """Readable start/end names. Yosys renames many nets and cells (``$techmap...``,
    ``$abc$...``, ``$auto$memory_libmap...``): when a bit has no name a designer wrote, it takes
    the named net across the I/O buffers Yosys inserted (an output register's Q net is often only
    named on the port's side of its OBUF), else the cell's ``src`` location (``file.v:line``),
    else ``after X`` with X the nearest named net upstream (a register Yosys made, without a
    ``src``, from logic on X), else the net's ``src`` location, else Yosys's name."""

    UPSTREAM_LEVELS = 3         # how far back "after X" looks (cells), and at most how many nets
    UPSTREAM_NETS = 64

    def __init__(self, module: dict):
        self.names = _names(module)
        self.peers: dict = {}       # bit -> the bits across a buffer cell (both directions)
        self.fanin: dict = {}       # bit -> the input bits of the cell driving it
        for c in module.get("cells", {}).values():
            conn, dirs = c["connections"], c.get("port_directions", {})
            if c["type"] in BUFFER_TYPES:
                i, o = _bits(conn.get("I", [])), _bits(conn.get("O", []))
                for x, y in zip(i, o):
                    self.peers.setdefault(x, []).append(y)
                    self.peers.setdefault(y, []).append(x)
            ins = [b for p, v in conn.items() if dirs.get(p) == "input" and not CLOCK_PINS.match(p)
                   for b in _bits(v)]
            for p, v in conn.items():
                if dirs.get(p) == "output":
                    for b in _bits(v):
                        self.fanin[b] = ins     # one list per cell, shared by its outputs

    def upstream(self, b) -> str:
        """The nearest named net driving ``b`` or ``b`` itself (breadth first, a few levels): ""
        when none."""
        if b is None:
            return ""
        if readable(self.names.get(b, ("", ""))[0]):
            return self.names[b][0]
        seen, level = {b}, [b]
        for _ in range(self.UPSTREAM_LEVELS):
            nxt = []
            for x in level:
                for i in self.fanin.get(x, ()):
                    if i in seen:
                        continue
                    seen.add(i)
                    name = self.names.get(i, ("", ""))[0]
                    if readable(name):
                        return name
                    nxt.append(i)
                    if len(seen) > self.UPSTREAM_NETS:
                        return ""
            level = nxt
        return ""

    def _named_peer(self, b) -> str:
        seen, todo = {b}, list(self.peers.get(b, ()))
        while todo:                 # buffer chains are one or two cells long (IBUF -> BUFG)
            p = todo.pop(0)
            if p in seen:
                continue
            seen.add(p)
            name = self.names.get(p, ("", ""))[0]
            if readable(name):
                return name
            todo += self.peers.get(p, ())
        return ""

    def cell(self, cname: str, cell: dict) -> str:
        if readable(cname):
            return cname
        return src_location(cell.get("attributes", {}).get("src", "")) or cname

    def bit(self, b, cname: str = "", cell: "dict | None" = None) -> str:
        name, src = self.names.get(b, ("", ""))
        if readable(name):
            return name
        peer = self._named_peer(b)
        if peer:
            return peer
        loc = src_location(cell.get("attributes", {}).get("src", "")) if cell else ""
        if loc:
            return loc
        # a FF's D (or a cell's output's driver): what the register was made from
        up = self.upstream(self.d_of(cell) if cell else b)
        return f"after {up}" if up else (src_location(src) or name or cname)

    @staticmethod
    def d_of(cell: dict):
        """The bit whose logic a register's name should come from: its D (else its first input)."""
        conn, dirs = cell.get("connections", {}), cell.get("port_directions", {})
        for p in ("D",) + tuple(p for p in conn if dirs.get(p) == "input" and not CLOCK_PINS.match(p)):
            bits = _bits(conn.get(p, []))
            if bits:
                return bits[0]
        return None


def family_of(name: str) -> str:
    return re.sub(r"\[\d+\]$", "", name)


class _Graph:
    """The timing graph of one module: arcs between nodes (net bits, or DSP-internal nodes),
    start points (node -> (clock-to-out, "reg" | "in", name, BRAM?)) and end points
    ((node, setup, nets, "reg" | "out", name, family))."""

    def __init__(self, model: DelayModel, namer: Namer):
        self.m, self.namer = model, namer
        self.arcs: dict = {}        # node -> [(dst, cell delay, nets, luts, carry, dsp, muxf)]
        self.starts: dict = {}
        self.ends: list = []
        self.driver_type: dict = {}  # bit -> type of the cell driving it
        self.unknown: dict = {}

    def arc(self, src, dst, d, nets=1, luts=0, carry=0, dsp=0, muxf=0) -> None:
        if isinstance(src, str):
            return          # a constant
        self.arcs.setdefault(src, []).append((dst, d, nets, luts, carry, dsp, muxf))

    def start(self, node, d: float, name: str, bram: bool = False) -> None:
        self.starts[node] = (d, "reg", name, bram)

    def end(self, node, setup: float, nets: int, name: str, fam: str) -> None:
        self.ends.append((node, setup, nets, "reg", name, fam))


def _ports(g: _Graph, mod: dict) -> None:
    for pname, port in mod.get("ports", {}).items():
        bits = port["bits"]
        for i, b in enumerate(bits):
            if isinstance(b, str):
                continue
            label = pname if len(bits) == 1 else f"{pname}[{i}]"
            if port["direction"] == "input":
                g.starts[b] = (0.0, "in", label, False)
            else:
                g.ends.append((b, 0.0, 0, "out", label, pname))


def _ff(g: _Graph, cname: str, c: dict, ins: dict) -> None:
    q = c["connections"].get("Q", [None])[0]
    qname = g.namer.bit(q, cname, c) if q is not None else g.namer.cell(cname, c)
    if q is not None and not isinstance(q, str):
        g.start(q, g.m.ff_cko.ns, qname)
    for p, v in ins.items():
        if CLOCK_PINS.match(p) or p == "G":
            continue
        for b in _bits(v):
            g.end(b, g.m.ff_setup.ns, 1, f"{qname} ({p})", family_of(qname))


def _wires(g: _Graph, ins: dict, obits: list, d: float, nets: int, luts: int) -> None:
    """Every input to every output: LUTs (one level) and the buffers Yosys inserts (wires)."""
    for v in ins.values():
        for b in v:
            for o in obits:
                g.arc(b, o, d, nets=nets, luts=luts)


def _muxf(g: _Graph, ins: dict, obits: list) -> None:
    for p, v in ins.items():
        for b in v:
            for o in obits:     # I0/I1 come from the slice's LUTs on dedicated routing
                g.arc(b, o, g.m.muxf.ns, nets=0 if p in ("I0", "I1") else 1, muxf=1)


def _carry(g: _Graph, t: str, c: dict, ins: dict) -> None:
    m = g.m
    width = 4 if t == "CARRY4" else 8
    co, o = c["connections"].get("CO", []), c["connections"].get("O", [])
    for p, v in ins.items():
        for i, b in enumerate(v):
            if isinstance(b, str):
                continue
            chain = p in ("CI", "CI_TOP") and g.driver_type.get(b) in ("CARRY4", "CARRY8")
            nets = 0 if chain else 1
            lo = 0 if p in ("CI", "CYINIT") else (4 if p == "CI_TOP" else i)
            kind = "ci" if p in ("CI", "CYINIT", "CI_TOP") else ("s" if p == "S" else "di")
            dco = {"ci": m.carry_ci_co, "s": m.carry_s_co, "di": m.carry_di_co}[kind].ns
            dout = {"ci": m.carry_ci_o, "s": m.carry_s_o, "di": m.carry_di_o}[kind].ns
            for j in range(lo, width):
                if j < len(co) and not isinstance(co[j], str):
                    g.arc(b, co[j], dco, nets=nets, carry=1)
                if j < len(o) and not isinstance(o[j], str):
                    g.arc(b, o[j], dout, nets=nets, carry=1)


def _dsp(g: _Graph, cname: str, c: dict, ins: dict, obits: list, absorbed: "frozenset[str]" = frozenset()) -> None:
    m = g.m
    reg = {k: _param(c, k, 1) or k in absorbed for k in ("AREG", "BREG", "CREG", "MREG", "PREG", "DREG", "ADREG")}
    mnode, pnode = ("dsp", cname, "M"), ("dsp", cname, "P")
    label = g.namer.bit(obits[0], cname, c) if obits else g.namer.cell(cname, c)
    dfam = family_of(label)
    use_mult = str(c.get("parameters", {}).get("USE_MULT", "MULTIPLY")).strip().upper()
    mult = use_mult != "NONE"
    for p, v in ins.items():
        if CLOCK_PINS.match(p) or p.startswith(("CE", "RST", "OPMODE", "ALUMODE", "INMODE", "CARRYINSEL")):
            # control inputs: end points at their (registered) control pins
            for b in _bits(v):
                if not CLOCK_PINS.match(p):
                    g.end(b, m.dsp_setup.ns, 1, f"{label} ({p})", f"{dfam} (DSP)")
            continue
        if p in ("A", "B", "D", "ACIN", "BCIN"):
            r = reg["AREG" if p in ("A", "ACIN") else ("BREG" if p in ("B", "BCIN") else "DREG")]
            dst, d = (mnode, m.dsp_ab_m.ns) if mult else (pnode, m.dsp_m_p.ns)
        else:   # C, PCIN, CARRYIN, CARRYCASCIN, MULTSIGNIN
            r = reg["CREG"] if p == "C" else 0
            dst, d = pnode, m.dsp_m_p.ns
        for b in _bits(v):
            if r:
                g.end(b, m.dsp_setup.ns, 1, f"{label} ({p}REG)", f"{dfam} (DSP {p}REG)")
            else:
                g.arc(b, dst, d, dsp=1 if dst == mnode or not mult else 0)
    # the input registers as start points
    if reg["AREG"] or reg["BREG"] or reg["DREG"]:
        g.starts.setdefault(("dsp", cname, "ABREG"), (m.dsp_reg_cko.ns, "reg", f"{dfam} (DSP A/B/D register)", False))
        g.arc(("dsp", cname, "ABREG"), mnode if mult else pnode, m.dsp_ab_m.ns if mult else m.dsp_m_p.ns,
              nets=0, dsp=1)
    if reg["CREG"]:
        g.start(("dsp", cname, "CREG"), m.dsp_reg_cko.ns, f"{dfam} (DSP C register)")
        g.arc(("dsp", cname, "CREG"), pnode, m.dsp_m_p.ns, nets=0, dsp=1)
    if mult and reg["MREG"]:
        g.end(mnode, m.dsp_setup.ns, 0, f"{label} (MREG)", f"{dfam} (DSP MREG)")
        g.start(("dsp", cname, "MREG"), m.dsp_reg_cko.ns, f"{dfam} (DSP M register)")
        g.arc(("dsp", cname, "MREG"), pnode, m.dsp_m_p.ns, nets=0)
    elif mult:
        g.arc(mnode, pnode, m.dsp_m_p.ns, nets=0)
    if reg["PREG"]:
        g.end(pnode, m.dsp_setup.ns, 0, f"{label} (PREG)", dfam)
        for b in obits:
            g.start(b, m.dsp_p_cko.ns, g.namer.bit(b, cname, c))
    else:
        for b in obits:
            g.arc(pnode, b, 0.0, nets=0)


def _bram(g: _Graph, cname: str, c: dict, ins: dict, outs: dict) -> None:
    m = g.m
    # memory_libmap names the cells after the memory; a $-named cell falls back to its src
    mem = memory_name(cname) if readable(cname) else g.namer.cell(cname, c)
    for p, v in outs.items():
        port_b = p.startswith(("DOB", "DOPB", "DOUTB", "DOUTPB")) or p in ("DO", "DOP")
        regp = _param(c, "DOB_REG" if port_b else "DOA_REG", 0)
        d = m.bram_cko_reg.ns if regp else m.bram_cko.ns
        for i, b in enumerate(v):
            if not isinstance(b, str):
                name = g.namer.names.get(b, ("", ""))[0]
                g.start(b, d, name if readable(name) else f"{mem} ({p}[{i}])", bram=True)
    for p, v in ins.items():
        if CLOCK_PINS.match(p):
            continue
        for i, b in enumerate(v):
            if not isinstance(b, str):
                g.end(b, m.bram_setup.ns, 1, f"{mem} (BRAM {p}[{i}])", f"{mem} (BRAM)")


def lutram_read_ports(pin: str, outs: "list[str]") -> "list[str]":
    """The output ports a LUT-RAM's address pin reads: each port of a RAM32M/RAM64M (and the
    UltraScale+ eight-port ones) its own (ADDRA -> DOA; the write port, often ADDRH / ADDRD, reads
    nothing where its output is unconnected), a dual-port RAMnnX1D's write address the SPO port and
    DPRA the DPO port; otherwise every output.

    >>> lutram_read_ports("ADDRD", ["DOA", "DOB", "DOC", "DOD"]), lutram_read_ports("DPRA2", ["SPO", "DPO"])
    (['DOD'], ['DPO'])
    >>> lutram_read_ports("ADDRH", ["DOA", "DOB"]), lutram_read_ports("A2", ["DPO"])
    ([], [])
    """
    port = re.match(r"^ADDR([A-H])$", pin)
    if port:                                    # (a port whose output is unused reads nothing)
        return [o for o in outs if o == f"DO{port.group(1)}"]
    if "DPO" in outs or "SPO" in outs:
        return [o for o in outs if o == ("DPO" if pin.startswith("DPRA") else "SPO")]
    return list(outs)


def _lutram(g: _Graph, cname: str, c: dict, ins: dict, outs: dict, srl: bool) -> None:
    """LUT-RAM and SRL: clock-to-out starts, a combinational read from the address (to the port
    that address reads), write ends."""
    m = g.m
    obits = [b for v in outs.values() for b in _bits(v)]
    label = g.namer.bit(obits[0], cname, c) if obits else g.namer.cell(cname, c)
    what = "SRL" if srl else "LUTRAM"
    for b in obits:
        g.start(b, m.srl_cko.ns if srl else m.lutram_cko.ns, g.namer.bit(b, cname, c))
    for p, v in ins.items():
        if CLOCK_PINS.match(p):
            continue
        read = p.startswith("A") if srl else bool(LUTRAM_ADDR.match(p))
        ports = (list(outs) if srl else lutram_read_ports(p, list(outs))) if read else []
        read_bits = [o for port in ports for o in _bits(outs[port])]
        for b in _bits(v):
            for o in read_bits:
                g.arc(b, o, m.lutram_read.ns, luts=1)
            if not (srl and read):      # a LUT-RAM's address is also its write address
                g.end(b, m.ff_setup.ns, 1, f"{label} ({what} {p})", f"{family_of(label)} ({what})")


def _unknown(g: _Graph, cname: str, c: dict, ins: dict, obits: list) -> None:
    t = c["type"]
    g.unknown[t] = g.unknown.get(t, 0) + 1
    name = g.namer.cell(cname, c)
    for b in obits:
        g.start(b, 0.0, g.namer.bit(b, cname, c))
    for p, v in ins.items():
        for b in _bits(v):
            g.end(b, 0.0, 1, f"{name} ({t} {p})", f"{name} ({t})")


# Flip-flops Vivado can take into a DSP's pipeline registers: synchronous reset or none, and
# nothing but the DSP behind them (UG901, "DSP Block Inference": Vivado synthesis moves the
# registers around an inferred multiply into the DSP block; Yosys 0.23 to 0.70 pack none into a
# DSP48E2, where they pack A/B/M/P into a DSP48E1). A P register may also be the first stage of
# a shift register Yosys made of the flip-flops behind it: Vivado packs the DSP before it infers
# shift registers from the same RTL.
ABSORBABLE_FF = ("FDRE",)
P_READERS = ABSORBABLE_FF + SRL_TYPES


def absorbable_dsp_registers(cells: dict) -> "dict[str, frozenset[str]]":
    """Per DSP48E2 cell, the registers ("AREG", "BREG", "PREG") that Yosys left as flip-flops and
    Vivado would take into the DSP: every A (B) bit from a flip-flop that feeds this DSP only, or
    every P bit the DSP drives read only by flip-flops or shift registers (P is not cascaded).

    >>> ff = lambda d, q: {"type": "FDRE", "port_directions": {"D": "input", "Q": "output"},
    ...                    "connections": {"D": [d], "Q": [q]}}
    >>> dsp = {"type": "DSP48E2", "port_directions": {"A": "input", "B": "input", "P": "output"},
    ...        "connections": {"A": [10], "B": [11], "P": [20]}, "parameters": {"AREG": 0, "BREG": 0, "PREG": 0}}
    >>> lut = {"type": "LUT1", "port_directions": {"I0": "input", "O": "output"},
    ...        "connections": {"I0": [11], "O": [40]}}
    >>> cells = {"a": ff(1, 10), "b": ff(2, 11), "m": dsp, "p": ff(20, 30), "l": lut}
    >>> sorted(absorbable_dsp_registers(cells)["m"])      # b also feeds a LUT: no BREG
    ['AREG', 'PREG']
    """
    readers: dict = {}
    drivers: dict = {}
    for cname, c in cells.items():
        for p, v in c.get("connections", {}).items():
            d = c.get("port_directions", {}).get(p)
            for b in _bits(v):
                if d == "input":
                    readers.setdefault(b, []).append(cname)
                elif d == "output":
                    drivers[b] = cname
    out: dict = {}
    for cname, c in cells.items():
        if c["type"] != "DSP48E2":
            continue
        conn, regs = c["connections"], set()
        for port, reg in (("A", "AREG"), ("B", "BREG")):
            bits = _bits(conn.get(port, []))
            if _param(c, reg, 1) == 0 and bits and all(
                    cells.get(drivers.get(b), {}).get("type") in ABSORBABLE_FF
                    and set(readers.get(cells[drivers[b]]["connections"]["Q"][0], [])) == {cname} for b in bits):
                regs.add(reg)
        pbits = _bits(conn.get("P", []))
        used = [b for b in pbits if readers.get(b)]
        cascaded = any(readers.get(b) for b in _bits(conn.get("PCOUT", [])))
        if (_param(c, "PREG", 1) == 0 and used and not cascaded
                and all(cells[r]["type"] in P_READERS for b in used for r in readers[b])):
            regs.add("PREG")
        if regs:
            out[cname] = frozenset(regs)
    return out


def build_graph(mod: dict, model: DelayModel) -> _Graph:
    """The timing graph of a Yosys JSON module (one pass over its cells)."""
    g = _Graph(model, Namer(mod))
    _ports(g, mod)
    cells = mod.get("cells", {})
    absorbed = absorbable_dsp_registers(cells) if model.absorb_dsp_registers else {}
    for c in cells.values():
        for p, d in c.get("port_directions", {}).items():
            if d == "output":
                for b in _bits(c["connections"].get(p, [])):
                    g.driver_type[b] = c["type"]
    for cname, c in cells.items():
        t = c["type"]
        conn, dirs = c["connections"], c.get("port_directions", {})
        ins = {p: v for p, v in conn.items() if dirs.get(p) == "input"}
        outs = {p: v for p, v in conn.items() if dirs.get(p) == "output"}
        obits = [b for v in outs.values() for b in _bits(v)]
        if t in FF_TYPES:
            _ff(g, cname, c, ins)
        elif t in LUT_TYPES:
            _wires(g, ins, obits, model.lut.ns, nets=1, luts=1)
        elif t in BUFFER_TYPES:     # I/O and clock buffers Yosys inserts: wires here
            _wires(g, ins, obits, 0.0, nets=0, luts=0)
        elif t in ("MUXF7", "MUXF8", "MUXF9"):
            _muxf(g, ins, obits)
        elif t in ("CARRY4", "CARRY8"):
            _carry(g, t, c, ins)
        elif t in DSP_TYPES:
            _dsp(g, cname, c, ins, obits, absorbed.get(cname, frozenset()))
        elif t in BRAM_TYPES:
            _bram(g, cname, c, ins, outs)
        elif t.startswith("RAM") and ("X1" in t or t.startswith(("RAM32M", "RAM64M"))):
            _lutram(g, cname, c, ins, outs, srl=False)
        elif t in SRL_TYPES:
            _lutram(g, cname, c, ins, outs, srl=True)
        else:
            _unknown(g, cname, c, ins, obits)
    return g


# An arrival: [pessimistic ns, cell delays, nets, luts, carry, dsp, muxf, start node].
ORIGINS = ("reg", "in")


def propagate(g: _Graph, net_ns: float) -> "tuple[dict, int]":
    """Longest arrival per node, kept apart per origin (paths from registers, from input ports):
    with one arrival per node a longer port path would hide every register-to-register path
    through the same logic. One topological (Kahn) pass: linear in the graph's size (times two).
    Returns ({origin: {node: arrival}}, the nodes left on combinational loops)."""
    indeg: dict = {}
    for src, lst in g.arcs.items():
        indeg.setdefault(src, 0)
        for a in lst:
            indeg[a[0]] = indeg.get(a[0], 0) + 1
    arr: dict = {o: {} for o in ORIGINS}
    for n, (d, origin, _name, _bram) in g.starts.items():
        arr[origin][n] = [d, d, 0, 0, 0, 0, 0, n, None]
    queue = deque(n for n, k in indeg.items() if k == 0)
    done = 0
    while queue:
        n = queue.popleft()
        done += 1
        srcs = [(tbl, tbl[n]) for tbl in arr.values() if n in tbl]
        for dst, d, nets, luts, carry, dsp, muxf in g.arcs.get(n, ()):
            for tbl, a in srcs:
                t = a[0] + d + nets * net_ns
                b = tbl.get(dst)
                if b is None or t > b[0]:
                    tbl[dst] = [t, a[1] + d, a[2] + nets, a[3] + luts, a[4] + carry, a[5] + dsp, a[6] + muxf, a[7], n]
            indeg[dst] -= 1
            if indeg[dst] == 0:
                queue.append(dst)
    return arr, len(indeg) - done


def _worst_per_family(g: _Graph, arr: dict, net_ns: float) -> dict:
    """(family, path kind) -> the worst end point's (pess, arrival, setup, nets, end name)."""
    worst: dict = {}
    for node, setup, nets, kind, ename, fam in g.ends:
        for origin, tbl in arr.items():
            a = tbl.get(node)
            if a is None:
                continue
            if origin == "in" and kind == "out" and nets == 0 and a[2] == 0 and a[1] == 0:
                continue        # a port wired straight to a port
            pess = a[0] + setup + nets * net_ns
            key = (fam, f"{origin}-to-{'out' if kind == 'out' else 'reg'}")
            if key not in worst or pess > worst[key][0]:
                worst[key] = (pess, a, setup, nets, ename, tbl)
    return worst


def _through(g: _Graph, tbl: dict, a: list) -> list:
    """The named signals a path passes, from its start to its end node (predecessor links; each
    name once, Yosys-internal ones left out)."""
    names: list = []
    node = a[8]
    while node is not None and node != a[7]:
        name = g.namer.names.get(node, ("", ""))[0] if isinstance(node, int) else ""
        if readable(name) and (not names or names[-1] != name):
            names.append(name)
        node = tbl[node][8]
    return names[::-1]


def _path(g: _Graph, fam: str, kind: str, worst: tuple) -> Path_:
    pess, a, setup, nets, ename, tbl = worst
    s = g.starts[a[7]]
    n_nets = a[2] + nets
    opt = a[1] + setup + n_nets * g.m.net_opt.ns
    return Path_(kind=kind, start=s[2], end=ename, family=fam, ns_opt=round(opt, 3), ns_pess=round(pess, 3),
                 luts=a[3], carry=a[4], dsp=a[5], muxf=a[6], nets=n_nets, bram_start=s[3],
                 meets=(pess <= g.m.target_ns) if kind == "reg-to-reg" else None, through=_through(g, tbl, a))


def analyze(netlist: dict, top: str, model: DelayModel, board: str = "", worst_n: int = 10,
            design: str = "") -> Report:
    """Longest paths of ``top``'s netlist under ``model`` (linear in the netlist's size): per end
    family its worst register-to-register path (the target applies to these) and, apart, its worst
    paths from or to top-level ports."""
    t0 = time.time()
    if top not in netlist.get("modules", {}):
        raise TimingError(f"the netlist has no module {top!r}")
    mod = netlist["modules"][top]
    g = build_graph(mod, model)
    arr, loop_nodes = propagate(g, model.net_pess.ns)
    paths = [_path(g, fam, kind, w) for (fam, kind), w in _worst_per_family(g, arr, model.net_pess.ns).items()]
    paths.sort(key=lambda p: (-p.ns_pess, p.family, p.kind))
    r2r = [p for p in paths if p.kind == "reg-to-reg"]
    ports = [p for p in paths if p.kind != "reg-to-reg"]
    has_regs = any(s[1] == "reg" for s in g.starts.values())
    return Report(design=design or top, board=board, device=model.device, target_ns=model.target_ns,
                  cells=len(mod.get("cells", {})), paths=r2r[:worst_n], port_paths=ports[:worst_n],
                  reg_families=len(r2r), failing_families=sum(not p.meets for p in r2r),
                  worst_reg_to_reg=r2r[0] if r2r else None, worst_port_path=ports[0] if ports else None,
                  combinational=not has_regs, unknown_cells=g.unknown, loop_nodes=loop_nodes,
                  seconds=round(time.time() - t0, 2))


# --------------------------------------------------------------------------- designs

def get_model(board: str) -> DelayModel:
    if board not in MODELS:
        raise TimingError(f"unknown board {board!r} (known: {', '.join(MODELS)})")
    return MODELS[board]


def rtl_files() -> list:
    return sorted(p for p in RTL.glob("*.v"))


def engine_chparams(board: str) -> dict:
    from msp_pynq.boards.profiles import get_profile
    from msp_pynq.engine.geometry import engine_generics
    g = dict(engine_generics(get_profile(board)))
    g["FINGERPRINT"] = f"32'h{g['FINGERPRINT']:08X}"
    return g


def time_design(board: str, top: str, files=None, chparams=None, worst_n: int = 10,
                timeout_s: float = 1800) -> Report:
    model = get_model(board)
    files = [Path(f) for f in files] if files else [f for f in rtl_files() if f.stem != "msp_engine" or top == "msp_engine"]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise TimingError(f"no such Verilog file: {', '.join(missing)}")
    if chparams is None:
        chparams = engine_chparams(board) if top == "msp_engine" else UNIT_MODULES.get(top, {})
    netlist = synthesize(files, top, model.family, chparams, timeout_s=timeout_s)
    design = top + (" (" + ", ".join(f"{k}={v}" for k, v in chparams.items() if k != "FINGERPRINT") + ")"
                    if chparams and top != "msp_engine" else (" (board generics)" if top == "msp_engine" else ""))
    return analyze(netlist, top, model, board=board, worst_n=worst_n, design=design)


# --------------------------------------------------------------------------- report

def _path_row(p: "Path_ | None") -> str:
    if p is None:
        return "| — | — | | | | | | |"
    meets = "" if p.meets is None else (" ✓" if p.meets else " ✗")
    return (f"| `{p.start}` | `{p.end}` | {p.ns_opt:.2f} | **{p.ns_pess:.2f}**{meets} | {p.luts} | {p.carry} | "
            f"{p.dsp} | {'yes' if p.bram_start else 'no'} |")


def model_table() -> list:
    lines = ["| figure | " + " | ".join(f"{m.device} (ns)" for m in MODELS.values()) + " | sources |",
             "| --- | " + " | ".join("---:" for _ in MODELS) + " | --- |"]
    for k in XC7Z020_1.figures():
        figs = [getattr(m, k) for m in MODELS.values()]
        src = "; ".join(f"{m.device}: {f.source}" for m, f in zip(MODELS.values(), figs))
        lines.append(f"| `{k}` | " + " | ".join(f"{f.ns:g}" for f in figs) + f" | {src} |")
    lines.append("| target (reg-to-reg, pessimistic nets) | " + " | ".join(f"{m.target_ns:g}" for m in MODELS.values())
                 + " | " + "; ".join(f"{m.device}: {m.target_source}" for m in MODELS.values()) + " |")
    return lines


def render_report(reports: list, command: str) -> str:
    ver = subprocess.run(["yosys", "-V"], capture_output=True, text=True).stdout.strip() if shutil.which("yosys") else "?"
    lines = [f"<!-- generated by `{command}`; do not edit by hand, rerun the command -->", "",
             f"Generated by `{command}` with {ver} on {time.strftime('%Y-%m-%d')}. **{CAVEAT}**", "",
             "### Delay model", "", *model_table(), "",
             "### Worst path per design", "",
             "Per design: the worst register-to-register path (the target applies to it; ✓ meets, ✗ misses) "
             "and the worst path from or to a top-level port. ns at optimistic / **pessimistic** nets.", "",
             "| board | design | cells | path | start | end | ns (opt) | ns (pess) | LUT levels | carry | DSP | "
             "BRAM start | families missing target |",
             "| --- | --- | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for r in reports:
        for label, p in (("reg-to-reg", r.worst_reg_to_reg), ("port", r.worst_port_path)):
            if p is None and label == "reg-to-reg" and r.combinational:
                label = "reg-to-reg (combinational module: none)"
            if p is not None and label == "port":
                label = p.kind
            row = _path_row(p)
            miss = f"{r.failing_families} of {r.reg_families}" if label == "reg-to-reg" else ""
            lines.append(f"| {r.board} | `{r.design}` | {r.cells:,} | {label} {row} {miss} |")
    for r in reports:
        if r.paths and r.design.startswith("msp_engine"):
            lines += ["", f"### {r.board} engine: worst {len(r.paths)} end-register families", "",
                      "| kind | start | end | ns (opt) | ns (pess) | LUT levels | carry | DSP | BRAM start |",
                      "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
            for p in r.paths:
                lines.append(f"| {p.kind} {_path_row(p)}")
            lines.append(f"\n{r.failing_families} of {r.reg_families} register families miss "
                         f"{r.target_ns} ns; analysis {r.seconds} s over {r.cells:,} cells.")
    unk = {k: v for r in reports for k, v in r.unknown_cells.items()}
    if unk:
        lines += ["", f"Cells without a delay model (taken as registers with zero delay): {unk}."]
    return "\n".join(lines) + "\n"


def write_report(path: Path, body: str, section: str = "modules") -> None:
    """Replaces the generated section ``section`` of ``path`` (between its BEGIN/END markers), keeping
    the rest: the unit modules' report and the whole engine's (``--top msp_engine``) are separate."""
    BEGIN, END = f"<!-- BEGIN GENERATED REPORT: {section} -->", f"<!-- END GENERATED REPORT: {section} -->"
    text = path.read_text() if path.exists() else "# Timing estimate\n\n" + BEGIN + "\n" + END + "\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n## Generated report ({section})\n\n" + BEGIN + "\n" + END + "\n"
    pre, rest = text.split(BEGIN, 1)
    _, post = rest.split(END, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(pre + BEGIN + "\n" + body + END + post)


def print_report(r: Report, out=sys.stdout, verbose: bool = False) -> None:
    print(f"\n{r.design} on {r.board} ({r.device}, target {r.target_ns} ns reg-to-reg at pessimistic nets); "
          f"{r.cells:,} cells; ESTIMATE, not Vivado timing", file=out)
    if r.combinational:
        print("  combinational module: port-to-port paths only", file=out)
    # register-to-register first (the target applies to them), then the port paths apart
    for p in r.paths + r.port_paths:
        meets = "" if p.meets is None else ("  meets" if p.meets else "  MISSES")
        print(f"  {p.kind:10s} {p.ns_opt:6.2f} / {p.ns_pess:6.2f} ns  LUT {p.luts:2d} carry {p.carry:2d} "
              f"DSP {p.dsp} {'BRAM ' if p.bram_start else ''}{p.start} -> {p.end}{meets}", file=out)
        if p.through and verbose:
            print(f"{'':14s}through {', '.join(p.through)}", file=out)
    print(f"  {r.failing_families} of {r.reg_families} register families miss the target "
          "(register-to-register paths only)", file=out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--board", default="pynq-z2", help="pynq-z2, zcu104 or all")
    ap.add_argument("--top", action="append", help="module(s) to time (default: the unit modules)")
    ap.add_argument("--files", nargs="+", help="Verilog files (default: hw_src/rtl/*.v)")
    ap.add_argument("--engine", action="store_true", help="also the whole msp_engine at the board's generics (slow)")
    ap.add_argument("--worst", type=int, default=10,
                    help="register-to-register paths per design, one per end family, and as many port "
                         "paths (default 10)")
    ap.add_argument("--json", help="write the reports as JSON")
    ap.add_argument("--report", help="Markdown file whose generated section is rewritten")
    ap.add_argument("--timeout-s", type=float, default=3600, help="per synthesis (default 3600)")
    ap.add_argument("--through", action="store_true", help="print the named signals each path passes")
    args = ap.parse_args(argv)
    try:
        boards = list(MODELS) if args.board == "all" else [args.board]
        for b in boards:
            get_model(b)
        tops = args.top or list(UNIT_MODULES)
        jobs = [(b, t) for b in boards for t in tops]
        if args.engine:
            jobs += [(b, "msp_engine") for b in boards]
        try:
            from tqdm import tqdm
            it = tqdm(jobs, desc="yosys", file=sys.stderr)
        except ImportError:
            it = jobs
        reports = []
        for b, t in it:
            if hasattr(it, "set_postfix_str"):
                it.set_postfix_str(f"{b} {t}")
            reports.append(time_design(b, t, files=args.files, worst_n=args.worst, timeout_s=args.timeout_s))
    except TimingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for r in reports:
        print_report(r, verbose=args.through)
    parts = ["python", "-m", "msp_pynq.hw.timing", "--board", args.board]
    for t in args.top or []:
        parts += ["--top", t]
    if args.engine:
        parts.append("--engine")
    if args.report:
        parts += ["--report", args.report]
    command = " ".join(shlex.quote(p) for p in parts)
    if args.json:
        Path(args.json).write_text(json.dumps({"caveat": CAVEAT, "command": command,
                                               "reports": [r.to_json() for r in reports]}, indent=1) + "\n")
    if args.report:
        # the unit modules in one section, each board's whole engine in its own (so one board's
        # hour-long engine run does not drop the other's)
        modules = [r for r in reports if not r.design.startswith("msp_engine")]
        if modules:
            write_report(Path(args.report), render_report(modules, command), "modules")
        for b in boards:
            engine = [r for r in reports if r.design.startswith("msp_engine") and r.board == b]
            if engine:
                write_report(Path(args.report), render_report(engine, command), f"engine {b}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
