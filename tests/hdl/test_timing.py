"""The static timing estimator (msp_pynq.hw.timing) on tiny designs and two real RTL modules."""
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

CHAIN = """
module t_chain #(parameter N = 5) (input clk, input [N:0] x, output reg y);
  reg [N:0] rx;
  wire [N:0] w;
  assign w[0] = rx[N];
  genvar k;
  generate for (k = 0; k < N; k = k + 1) begin : lv
    LUT2 #(.INIT(4'h6)) u (.O(w[k+1]), .I0(w[k]), .I1(rx[k]));
  end endgenerate
  always @(posedge clk) begin rx <= x; y <= w[N]; end
endmodule
"""

MUL = """
module t_mulreg(input clk, input signed [24:0] a, input signed [17:0] b, output reg signed [42:0] p);
  reg signed [24:0] ra; reg signed [17:0] rb;
  always @(posedge clk) begin ra <= a; rb <= b; p <= ra * rb; end
endmodule
module t_mulxor(input clk, input signed [24:0] a, c, input signed [17:0] b, output reg signed [42:0] p);
  reg signed [24:0] ra, rc; reg signed [17:0] rb;
  always @(posedge clk) begin ra <= a; rb <= b; rc <= c; p <= ((ra ^ rc) * rb) ^ {rc, rc[17:0]}; end
endmodule
"""

BRAM = """
module t_bram(input clk, input we, input [9:0] wa, ra, input [31:0] wd, output reg [31:0] q);
  reg [31:0] mem [0:1023]; reg [31:0] rd;
  always @(posedge clk) begin if (we) mem[wa] <= wd; rd <= mem[ra]; q <= rd + 32'd1; end
endmodule
"""


def _time(tmp_path, text, top, board="pynq-z2", **kw):
    f = tmp_path / f"{top}.v"
    f.write_text(text)
    return time_design(board, top, files=[f], chparams={}, **kw)


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_adder_between_registers(tmp_path, board):
    r = _time(tmp_path, ADD, "t_add", board)
    p = r.worst_reg_to_reg
    assert p.family == "s" and p.start.startswith(("ra[", "rb["))
    assert p.carry == 8         # 32 bits: 8 CARRY4 (Yosys 0.23 maps CARRY4 for xcup too)
    assert p.luts == 1 and p.dsp == 0 and not p.bram_start
    assert p.ns_opt < p.ns_pess
    m = timing.MODELS[board]
    # at least clock-to-Q + LUT + the carry chain + setup, plus three nets (FF->LUT, LUT->S, O->FF)
    assert p.nets == 3
    assert p.ns_pess == pytest.approx(p.ns_opt + 3 * (m.net_pess.ns - m.net_opt.ns))


def test_lut_chain_levels(tmp_path):
    for n in (4,):
        r = _time(tmp_path, CHAIN.replace("N = 5", f"N = {n}"), "t_chain")
        p = r.worst_reg_to_reg
        assert (p.luts, p.carry, p.nets, p.family) == (n, 0, n + 1, "y")
        m = timing.XC7Z020_1
        want = m.ff_cko.ns + n * m.lut.ns + (n + 1) * m.net_pess.ns + m.ff_setup.ns
        assert p.ns_pess == pytest.approx(want, abs=1e-3)


def test_dsp_pipeline_registers(tmp_path):
    reg = _time(tmp_path, MUL, "t_mulreg").worst_reg_to_reg
    comb = _time(tmp_path, MUL, "t_mulxor").worst_reg_to_reg
    m = timing.XC7Z020_1
    # Yosys packs ra/rb into AREG/BREG and p into MREG: the path is inside the DSP
    assert reg.dsp == 1 and reg.nets == 0 and reg.luts == 0
    assert reg.ns_pess == pytest.approx(m.dsp_reg_cko.ns + m.dsp_ab_m.ns + m.dsp_setup.ns, abs=1e-3)
    assert "DSP" in reg.start and "MREG" in reg.end
    # LUT logic before and after the multiplier: nothing to pack, the full A/B -> P arc is on the path
    assert comb.dsp >= 1 and comb.luts >= 1 and comb.family == "p"
    assert comb.ns_pess > reg.ns_pess + m.dsp_ab_p.ns


def test_bram_read_starts_at_clock_to_out(tmp_path):
    r = _time(tmp_path, BRAM, "t_bram")
    p = r.worst_reg_to_reg
    assert p.bram_start and p.family == "q" and p.carry == 8
    m = timing.XC7Z020_1
    assert p.ns_pess > m.bram_cko.ns + 8 * m.carry_ci_co.ns


def test_real_modules_report(tmp_path):
    rx = time_design("pynq-z2", "msp_stream_rx")
    rq = time_design("zcu104", "msp_requant")
    assert not rx.combinational and rx.reg_families > 0 and rx.worst_reg_to_reg is not None
    assert rq.combinational and rq.worst_reg_to_reg is None and rq.worst_port_path.kind == "in-to-out"
    for r in (rx, rq):
        assert r.cells > 0 and 0 < len(r.paths) <= 10 and r.loop_nodes == 0
        for p in r.paths:
            assert p.start and p.end and p.family
            assert isinstance(p.luts, int) and isinstance(p.carry, int) and p.luts + p.carry + p.dsp > 0
            assert 0 < p.ns_opt <= p.ns_pess
        assert len({p.family for p in r.paths if p.kind == "reg-to-reg"}) == len(
            [p for p in r.paths if p.kind == "reg-to-reg"])      # one path per end-register family
    body = timing.render_report([rx, rq], "python -m msp_pynq.hw.timing --board all")
    assert "not Vivado timing" in body and "msp_stream_rx" in body and "XCZU7EV-2" in body
    doc = tmp_path / "t.md"
    doc.write_text("# x\n\nkept\n")
    timing.write_report(doc, body)
    timing.write_report(doc, body)
    assert doc.read_text().count("BEGIN GENERATED REPORT: modules") == 1 and "kept" in doc.read_text()


def test_bad_input(tmp_path):
    with pytest.raises(TimingError, match="unknown board"):
        time_design("zedboard", "msp_requant")
    with pytest.raises(TimingError, match="yosys failed"):
        _time(tmp_path, ADD, "t_missing")
    with pytest.raises(TimingError, match="yosys failed"):
        _time(tmp_path, "module broken(input a; endmodule\n", "broken")
    assert timing.main(["--board", "zedboard"]) == 2
