"""The static timing estimator (msp_pynq.hw.timing) on tiny designs and two real RTL modules.

A synthesis costs seconds whatever the design's size (Yosys reads its techmap libraries each time),
so the tiny designs are instances of one wrapper (``t_zoo``), synthesized once per board for the
whole test module, and each test reads its own end families (``add.s``, ``chain.y``, ...)."""
import shutil

import pytest

from msp_pynq.hw import timing
from msp_pynq.hw.timing import TimingError, time_design

pytestmark = pytest.mark.skipif(shutil.which("yosys") is None,
                                reason="Yosys not installed (make test installs it)")

ADD = """
module t_add(input clk, input [31:0] a, b, output reg [31:0] s);
  reg [31:0] ra, rb;
  always @(posedge clk) begin ra <= a; rb <= b; s <= ra + rb; end
endmodule
"""

# y: N LUT levels between registers. r: one LUT level from the register q, N + 1 from the port z
# (the port path is the longer one: it must not hide r's register-to-register path).
N_CHAIN = 4
CHAIN = f"""
module t_chain #(parameter N = {N_CHAIN}) (input clk, input [N:0] x, z, input d, output reg y, r);
  reg [N:0] rx;
  reg q;
  wire [N:0] w, v;
  wire vr;
  assign w[0] = rx[N];
  assign v[0] = z[N];
  genvar k;
  generate for (k = 0; k < N; k = k + 1) begin : lv
    LUT2 #(.INIT(4'h6)) u (.O(w[k+1]), .I0(w[k]), .I1(rx[k]));
    LUT2 #(.INIT(4'h6)) p (.O(v[k+1]), .I0(v[k]), .I1(z[k]));
  end endgenerate
  LUT2 #(.INIT(4'h6)) ur (.O(vr), .I0(v[N]), .I1(q));
  always @(posedge clk) begin rx <= x; q <= d; y <= w[N]; r <= vr; end
endmodule
"""

# p: a multiplier Yosys packs into one DSP with its registers; px: LUT logic before and after one
# (own ports, so that no register is shared with p's)
MUL = """
module t_mul(input clk, input signed [24:0] a, a2, c, input signed [17:0] b, b2,
             output reg signed [42:0] p, px);
  reg signed [24:0] ra, ra2, rc; reg signed [17:0] rb, rb2;
  always @(posedge clk) begin
    ra <= a; rb <= b; p <= ra * rb;
    ra2 <= a2; rb2 <= b2; rc <= c; px <= ((ra2 ^ rc) * rb2) ^ {rc, rc[17:0]};
  end
endmodule
"""

# a BRAM read into q (a BRAM start), registered writes into the BRAM (memory_libmap's names on its
# pins) and an accumulator
BRAM = """
module t_bram(input clk, input we, input [9:0] wa, ra, input [31:0] wd, x, output reg [31:0] q, acc);
  reg [31:0] mem [0:1023]; reg [31:0] rd, wd_r; reg [9:0] wa_r; reg we_r;
  always @(posedge clk) begin
    we_r <= we; wa_r <= wa; wd_r <= wd;
    if (we_r) mem[wa_r] <= wd_r;
    rd <= mem[ra]; q <= rd + 32'd1;
    acc <= acc + x;
  end
endmodule
"""

ZOO = """
module t_zoo(input clk, input [31:0] a, b, input [4:0] x, z, input d,
             input signed [24:0] ma, ma2, mc, input signed [17:0] mb, mb2,
             input we, input [9:0] wa, ra, input [31:0] wd, bx,
             output [31:0] add_s, output chain_y, chain_r, output signed [42:0] mul_p, mul_px,
             output [31:0] bram_q, bram_acc);
  t_add add(clk, a, b, add_s);
  t_chain chain(clk, x, z, d, chain_y, chain_r);
  t_mul mul(clk, ma, ma2, mc, mb, mb2, mul_p, mul_px);
  t_bram bram(clk, we, wa, ra, wd, bx, bram_q, bram_acc);
endmodule
"""

ZOO_R2R = {"add.s", "chain.y", "chain.r", "mul.p (DSP MREG)", "mul.px", "bram.q", "bram.acc", "bram.mem (BRAM)"}


def _time(tmp_path, text, top, board="pynq-z2", **kw):
    f = tmp_path / f"{top}.v"
    f.write_text(text)
    return time_design(board, top, files=[f], chparams={}, **kw)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """board -> the report of t_zoo with every end family (synthesized once per board, on first use)."""
    done = {}

    def get(board):
        if board not in done:
            d = tmp_path_factory.mktemp(board)
            files = []
            for name, text in (("t_add", ADD), ("t_chain", CHAIN), ("t_mul", MUL), ("t_bram", BRAM), ("t_zoo", ZOO)):
                files.append(d / f"{name}.v")     # one file each: src locations name the module's file
                files[-1].write_text(text)
            done[board] = time_design(board, "t_zoo", files=files, chparams={}, worst_n=10_000)
        return done[board]
    return get


def _path(report, family, kind="reg-to-reg"):
    found = [p for p in report.paths + report.port_paths if p.family == family and p.kind == kind]
    assert len(found) == 1, (family, kind, [(p.family, p.kind) for p in report.paths + report.port_paths])
    return found[0]


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_adder_between_registers(zoo, board):
    p = _path(zoo(board), "add.s")
    assert p.start.startswith(("add.ra[", "add.rb["))
    assert p.carry == 8         # 32 bits: 8 CARRY4 (Yosys 0.23 maps CARRY4 for xcup too)
    assert p.luts == 1 and p.dsp == 0 and not p.bram_start
    assert p.ns_opt < p.ns_pess
    m = timing.MODELS[board]
    # at least clock-to-Q + LUT + the carry chain + setup, plus three nets (FF->LUT, LUT->S, O->FF)
    assert p.nets == 3
    assert p.ns_pess == pytest.approx(p.ns_opt + 3 * (m.net_pess.ns - m.net_opt.ns))


def test_lut_chain_levels(zoo):
    n, m = N_CHAIN, timing.XC7Z020_1
    p = _path(zoo("pynq-z2"), "chain.y")
    assert (p.luts, p.carry, p.nets) == (n, 0, n + 1)
    want = m.ff_cko.ns + n * m.lut.ns + (n + 1) * m.net_pess.ns + m.ff_setup.ns
    assert p.ns_pess == pytest.approx(want, abs=1e-3)


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_port_path_does_not_hide_reg_to_reg(zoo, board):
    """r's worst path starts at the port z (N + 1 LUTs); its register-to-register path (q, one LUT)
    is shorter, and is the one the target applies to: both are reported, each with its own figure."""
    n, m, r = N_CHAIN, timing.MODELS[board], zoo(board)
    reg = _path(r, "chain.r", "reg-to-reg")
    port = _path(r, "chain.r", "in-to-reg")
    assert (reg.start, reg.end, reg.luts, reg.nets) == ("chain.q", "chain.r (D)", 1, 2)
    assert reg.ns_pess == pytest.approx(m.ff_cko.ns + m.lut.ns + 2 * m.net_pess.ns + m.ff_setup.ns, abs=1e-3)
    assert reg.ns_opt == pytest.approx(m.ff_cko.ns + m.lut.ns + 2 * m.net_opt.ns + m.ff_setup.ns, abs=1e-3)
    assert reg.meets is True and port.meets is None
    assert port.start.startswith("z[") and (port.luts, port.nets) == (n + 1, n + 2)
    assert port.ns_pess == pytest.approx((n + 1) * m.lut.ns + (n + 2) * m.net_pess.ns + m.ff_setup.ns, abs=1e-3)
    assert port.ns_pess > reg.ns_pess
    # the target and its miss count see register-to-register paths only: one family per path there
    assert all(p.kind == "reg-to-reg" for p in r.paths) and all(p.kind != "reg-to-reg" for p in r.port_paths)
    assert r.reg_families == len(r.paths) == len({p.family for p in r.paths})
    assert r.failing_families == sum(p.ns_pess > m.target_ns for p in r.paths)
    assert r.worst_reg_to_reg.ns_pess == max(p.ns_pess for p in r.paths)
    if board == "pynq-z2":
        assert {p.family for p in r.paths} == ZOO_R2R
        assert [p.family for p in r.paths if not p.meets] == ["mul.px"]


def test_dsp_pipeline_registers(zoo):
    r, m = zoo("pynq-z2"), timing.XC7Z020_1
    # Yosys packs ra/rb into AREG/BREG and p into MREG: the path is inside the DSP
    reg = _path(r, "mul.p (DSP MREG)")
    assert reg.dsp == 1 and reg.nets == 0 and reg.luts == 0
    assert reg.ns_pess == pytest.approx(m.dsp_reg_cko.ns + m.dsp_ab_m.ns + m.dsp_setup.ns, abs=1e-3)
    assert "DSP" in reg.start and "MREG" in reg.end
    # LUT logic before and after the multiplier: nothing to pack, the full A/B -> P arc is on the path
    comb = _path(r, "mul.px")
    assert comb.dsp >= 1 and comb.luts >= 1
    assert comb.ns_pess > reg.ns_pess + m.dsp_ab_p.ns


def test_dsp48e2_registers_vivado_would_absorb(zoo):
    """Yosys packs no register into a DSP48E2; the UltraScale+ model counts the flip-flops that feed
    only the DSP (ra, rb) and the one that only reads P (p) as its AREG/BREG/PREG, as Vivado would.
    px's A comes through LUTs and its P feeds LUTs: nothing is absorbed there."""
    r, m = zoo("zcu104"), timing.XCZU7EV_2
    core = [p for p in r.paths if p.dsp == 1 and p.end.endswith("(PREG)") and p.luts == 0]
    assert len(core) == 1 and core[0].nets == 0
    assert core[0].ns_pess == pytest.approx(m.dsp_reg_cko.ns + m.dsp_ab_p.ns + m.dsp_setup.ns, abs=1e-3)
    comb = _path(r, "mul.px")
    assert comb.dsp >= 1 and comb.luts >= 1 and comb.ns_pess > core[0].ns_pess + m.lut.ns
    assert not timing.XC7Z020_1.absorb_dsp_registers     # Yosys packs the DSP48E1's own


def test_bram_read_starts_at_clock_to_out(zoo):
    p, m = _path(zoo("pynq-z2"), "bram.q"), timing.XC7Z020_1
    assert p.bram_start and p.start.startswith("bram.rd[") and p.carry == 8
    assert p.ns_pess > m.bram_cko.ns + 8 * m.carry_ci_co.ns


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_names_fall_back_from_yosys_names(zoo, board):
    """No ``$techmap``/``$abc$``/``$auto$`` name is reported: a BRAM's pins are named after its
    memory, a cell without a named net after its source line."""
    r = zoo(board)
    for p in r.paths + r.port_paths:
        assert "$" not in p.start + p.end + p.family, p
    wr = _path(r, "bram.mem (BRAM)")
    assert wr.start.startswith(("bram.wa_r", "bram.wd_r", "bram.we_r"))
    assert wr.end.startswith("bram.mem (BRAM ") and wr.end.endswith("])")   # the pin's bit
    if board == "pynq-z2":      # px's multiplier cascades DSPs whose outputs Yosys leaves unnamed
        line = next(i for i, ln in enumerate(MUL.split("\n"), 1) if "px <=" in ln)
        assert any(p.end.startswith(f"t_mul.v:{line} (") for p in r.port_paths)


# LUT-RAM ports: q reads DOA (address ra_r), q2 reads a RAM32X1D's DPO (DPRA = ra_r); the write
# address (ADDRD, A0..A4) is one LUT longer, and reads only DOD / SPO, which nothing uses
LRAM = """
module t_lram(input clk, input [5:0] wa, ra, input [1:0] di, input we, output reg q, q2);
  reg [5:0] wa_r, ra_r; reg [1:0] di_r; reg we_r;
  wire doa, dob, doc, dod, spo, dpo;
  wire [5:0] wx = wa_r ^ {6{we_r}};
  RAM64M u (.DOA(doa), .DOB(dob), .DOC(doc), .DOD(dod), .ADDRA(ra_r), .ADDRB(ra_r), .ADDRC(ra_r),
            .ADDRD(wx), .DIA(di_r[0]), .DIB(di_r[1]), .DIC(1'b0), .DID(1'b0), .WCLK(clk), .WE(we_r));
  RAM32X1D v (.SPO(spo), .DPO(dpo), .A0(wx[0]), .A1(wx[1]), .A2(wx[2]), .A3(wx[3]), .A4(wx[4]),
              .DPRA0(ra_r[0]), .DPRA1(ra_r[1]), .DPRA2(ra_r[2]), .DPRA3(ra_r[3]), .DPRA4(ra_r[4]),
              .D(di_r[0]), .WCLK(clk), .WE(we_r));
  always @(posedge clk) begin wa_r <= wa; ra_r <= ra; di_r <= di; we_r <= we; q <= doa ^ dob; q2 <= dpo; end
endmodule
"""


def test_lutram_address_reads_its_own_port(tmp_path):
    r = _time(tmp_path, LRAM, "t_lram", worst_n=100)
    for fam in ("q", "q2"):
        p = _path(r, fam)
        assert p.start.startswith("ra_r["), p       # not the write address, one LUT longer
    assert timing.lutram_read_ports("ADDRB", ["DOA", "DOB"]) == ["DOB"]
    assert timing.lutram_read_ports("A3", ["SPO", "DPO"]) == ["SPO"]
    assert timing.lutram_read_ports("A", ["O"]) == ["O"]
    assert timing.lutram_read_ports("ADDRH", ["DOA", "DOG"]) == []      # the write port, its DOH unused


def test_namer_fallbacks():
    """The fallbacks on a hand-written netlist: a Q net named only by Yosys takes the port's name
    across its OBUF, a cell with no named net its src line (the innermost outside Yosys's share)."""
    lut = {"type": "LUT2", "port_directions": {"I0": "input", "I1": "input", "O": "output"}}
    mod = {"netnames": {"$abc$1$q": {"bits": [5], "hide_name": 1}, "acc": {"bits": [6], "hide_name": 0},
                        "$techmap2$x.A": {"bits": [7, 8], "hide_name": 1,
                                          "attributes": {"src": "top.v:3.1-3.9|m.v:9.2-9.8"}},
                        "$abc$3$d": {"bits": [10, 11], "hide_name": 1}, "addr": {"bits": [12, 13], "hide_name": 0}},
           "cells": {"$auto$ob": {"type": "OBUF", "connections": {"I": [5], "O": [6]}},
                     "$abc$l1": dict(lut, connections={"I0": [11], "I1": ["0"], "O": [10]}),
                     "$abc$l2": dict(lut, connections={"I0": [13], "I1": [12], "O": [11]})}}
    n = timing.Namer(mod)
    cell = {"attributes": {"src": "/w/top.v:3.1-3.9|/w/m.v:12.5-12.9|/usr/share/yosys/xilinx/ff_map.v:68.4-68.9"}}
    assert n.bit(5, "$auto$ff$1", cell) == "acc"
    assert n.bit(7, "$auto$ff$2", cell) == "m.v:12"
    assert n.bit(8, "$auto$ff$3") == "m.v:9"            # no cell: the net's own src
    # a register Yosys made without a src: the nearest named net before its D (two LUTs back)
    ff = {"type": "FDRE", "connections": {"D": [10], "Q": [9], "C": [1]},
          "port_directions": {"D": "input", "Q": "output", "C": "input"},
          "attributes": {"src": "/usr/share/yosys/xilinx/ff_map.v:68.4-68.9"}}
    assert n.bit(9, "$auto$ff$4", ff) == "after addr[1]"
    assert n.cell("$mul$x", cell) == "m.v:12" and n.cell("u.mem.0.0", {}) == "u.mem.0.0"
    assert timing.memory_name("u.mem.0.1") == "u.mem"


@pytest.fixture(scope="module")
def mac_array():
    # the smallest array: one LUT row of one lane still has acc's feedback and its OBUF'd Q nets
    return time_design("pynq-z2", "msp_mac_array", chparams={"VW": 1, "LUT_ROWS": 1, "DSP_ROWS": 0})


def test_real_modules_report(tmp_path, mac_array):
    mac = mac_array
    rq = time_design("zcu104", "msp_requant")
    assert not mac.combinational and mac.reg_families > 0 and mac.worst_reg_to_reg is not None
    assert rq.combinational and rq.worst_reg_to_reg is None and rq.worst_port_path.kind == "in-to-out"
    assert rq.paths == [] and rq.reg_families == 0
    for r in (mac, rq):
        assert r.cells > 0 and 0 < len(r.paths + r.port_paths) <= 20 and r.loop_nodes == 0
        for p in r.paths + r.port_paths:
            assert p.start and p.end and p.family and "$" not in p.start + p.end
            assert isinstance(p.luts, int) and isinstance(p.carry, int)
            assert 0 < p.ns_opt <= p.ns_pess
        for p in [r.worst_reg_to_reg, r.worst_port_path]:     # (a delay line's FF to FF has no logic)
            assert p is None or p.luts + p.carry + p.dsp > 0
        assert len({p.family for p in r.paths}) == len(r.paths)      # one path per end-register family
    body = timing.render_report([mac, rq], "python -m msp_pynq.hw.timing --board all")
    assert "not Vivado timing" in body and "msp_mac_array" in body and "XCZU7EV-2" in body
    doc = tmp_path / "t.md"
    doc.write_text("# x\n\nkept\n")
    timing.write_report(doc, body)
    timing.write_report(doc, body)
    assert doc.read_text().count("BEGIN GENERATED REPORT: modules") == 1 and "kept" in doc.read_text()


def test_real_accumulator_feedback_is_timed(mac_array):
    """msp_mac_array's accumulator banks (select, add, write) are reg-to-reg paths of their own,
    reported beside the input registers' port paths."""
    banks = [p for p in mac_array.paths if p.family.endswith(("bank0", "bank1"))]
    assert len(banks) == 2 and all(p.carry > 0 and p.luts > 0 for p in banks)
    assert all(p.kind == "in-to-reg" for p in mac_array.port_paths if p.kind.startswith("in"))


def test_bad_input(tmp_path):
    with pytest.raises(TimingError, match="unknown board"):
        time_design("zedboard", "msp_requant")
    with pytest.raises(TimingError, match="yosys failed"):
        _time(tmp_path, ADD, "t_missing")
    with pytest.raises(TimingError, match="yosys failed"):
        _time(tmp_path, "module broken(input a; endmodule\n", "broken")
    with pytest.raises(TimingError, match="no module"):
        timing.analyze({"modules": {}}, "t_add", timing.XC7Z020_1)
    assert timing.main(["--board", "zedboard"]) == 2


# The pipelined modules: each must stay within both boards' targets (the module-level estimate in
# CI, a regression guard; `python -m msp_pynq.hw.timing --board all` reports every module,
# docs/timing.md). None: the report's generics; the output stage at a small array (its paths do not
# lengthen with the unit count; minutes at full). The mac array holds the row units and trees.
PIPELINED = {"msp_mac_array": None, "msp_window_gen": None, "msp_requant_pipe": None, "msp_add_unit": None,
             "msp_stream_rx": None, "msp_stream_tx": None, "msp_act_writer": None,
             "msp_weight_loader": None, "msp_layer_check": None,
             "msp_output_stage": {"VW": 4, "LUT_ROWS": 3, "DSP_ROWS": 4, "MAX_ROWS": 64}}
TARGETS = {"pynq-z2": (timing.XC7Z020_1, 6.5), "zcu104": (timing.XCZU7EV_2, 3.3)}


# Known misses, open in the engine's timing work: strict, so a fix shows up as XPASS.
KNOWN_MISSES: dict = {}


@pytest.mark.parametrize("top, board", [
    pytest.param(t, b, marks=[pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[(t, b)])] if (t, b) in KNOWN_MISSES else [])
    for t in PIPELINED for b in TARGETS])
def test_pipelined_modules_meet_the_target(top, board):
    model, target = TARGETS[board]
    r = time_design(board, top, chparams=PIPELINED[top])
    assert r.reg_families > 0 and r.failing_families == 0, (top, r.worst_reg_to_reg)
    assert r.worst_reg_to_reg.ns_pess <= model.target_ns == target
