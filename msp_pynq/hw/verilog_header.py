"""Write ``hw_src/rtl/msp_contract.vh``, the register map and stream protocol for the RTL.

The Verilog engine names every register offset, bit, field, code and limit of the contract
(docs/registers.md) through this header's macros; the values come from
:mod:`msp_pynq.engine.registers` (and the few limits of :mod:`msp_pynq.engine.geometry` and
:mod:`msp_pynq.numerics` the RTL checks), so the Python map and the RTL cannot drift apart.
``tests/hdl/test_contract_header.py`` fails while the committed header is not what this writes.

    python -m msp_pynq.hw.verilog_header            # (re)write the header
    python -m msp_pynq.hw.verilog_header --check    # exit 1 if it is out of date

>>> text = render()
>>> "`define MSP_REG_CONTROL 12'h040" in text, "`define MSP_ERR_STREAM_LENGTH 4'd2" in text
(True, True)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..engine import registers as r
from ..engine.geometry import INFO_STAGING, INFO_WEIGHT_BUFFER, MAX_ROWS
from ..numerics.bounds import BIAS_MAX, MAX_K
from ..numerics.requant import SHIFT_MAX
from ..numerics.schemes import Scheme

ROOT = Path(__file__).resolve().parents[2]
HEADER = ROOT / "hw_src" / "rtl" / "msp_contract.vh"
COMMAND = "python -m msp_pynq.hw.verilog_header"

#: Why macros (the header's own comment says the same to a reader of the RTL).
WHY_DEFINE = """\
// Why `define and not localparam: a file of localparams must be included inside every module
// body (a localparam outside a module is SystemVerilog's compilation-unit scope, which Yosys'
// read_verilog without -sv and Verilog-2001 tools refuse), once per module, with no include
// guard; macros are included once at the top of each file, before `module`, and every tool
// here accepts them the same way: Icarus Verilog (-I hw_src/rtl), Yosys 0.23 read_verilog (finds
// the header next to the including file; -I works too) and Vivado (the header is in the IP's
// sources as a Verilog Header). The guard makes a second include a no-op where the macros carry
// from one file to the next (one compilation unit), and every name starts with MSP_ since macros
// are global. Values are sized where the RTL compares or assigns them (12-bit offsets, 4-bit
// codes, 8-bit type bytes); bit positions and widths are plain integers."""


def _bit(mask: int) -> int:
    assert mask and mask & (mask - 1) == 0, f"0x{mask:X} is not one bit"
    return mask.bit_length() - 1


def _width(mask: int) -> int:
    assert mask & (mask + 1) == 0, f"0x{mask:X} is not a right-aligned field mask"
    return mask.bit_length()


class _Writer:
    def __init__(self) -> None:
        self.lines: "list[str]" = []
        self.names: "set[str]" = set()

    def section(self, title: str) -> None:
        self.lines += ["", f"// ---- {title} " + "-" * max(4, 92 - len(title))]

    def comment(self, text: str) -> None:
        self.lines.append(f"// {text}")

    def define(self, name: str, value: str, note: str = "") -> None:
        assert name not in self.names, name
        self.names.add(name)
        if note:                    # (a comment line of its own: never part of a macro's text)
            self.lines.append(f"// {note}")
        self.lines.append(f"`define {name} {value}")


def render() -> str:
    """The header's text, from the Python register map."""
    w = _Writer()
    addr_bits = _width(r.WINDOW_BYTES - 1)
    code_bits = _width(r.ST_ERR_CODE_MASK)
    op_field = next(f for f in r.DESCRIPTOR_FIELDS if f.reg == r.Reg.OP)

    def offset(reg: r.Reg) -> str:
        return f"{addr_bits}'h{int(reg):03X}"

    w.section("identification")
    w.define("MSP_ENGINE_ID", f"32'h{r.ENGINE_ID:08X}", "ID: 'MSPE'")
    w.define("MSP_VERSION_MAJOR", f"16'd{r.VERSION_MAJOR}")
    w.define("MSP_VERSION_MINOR", f"16'd{r.VERSION_MINOR}")
    w.define("MSP_ENGINE_VERSION", f"32'h{r.ENGINE_VERSION:08X}", "VERSION: major << 16 | minor")
    w.define("MSP_WINDOW_BYTES", str(r.WINDOW_BYTES), "the AXI4-Lite address window")
    w.define("MSP_ADDR_BITS", str(addr_bits), "AXI4-Lite address bits")
    w.define("MSP_STREAM_BYTES", str(r.STREAM_BYTES), "AXI4-Stream bytes per beat (TKEEP bits)")
    w.define("MSP_STREAM_BITS", str(8 * r.STREAM_BYTES), "AXI4-Stream TDATA bits")

    w.section("register offsets")
    for reg in r.Reg:
        w.define(f"MSP_REG_{reg.name}", offset(reg))

    w.section("CONTROL, STATUS, IRQ_STATUS bits")
    for name, mask in (("START", r.CTRL_START), ("SOFT_RESET", r.CTRL_SOFT_RESET),
                       ("IRQ_ENABLE", r.CTRL_IRQ_ENABLE)):
        w.define(f"MSP_CONTROL_{name}_BIT", str(_bit(mask)))
    for name, mask in (("BUSY", r.ST_BUSY), ("DONE", r.ST_DONE), ("ERROR", r.ST_ERROR)):
        w.define(f"MSP_STATUS_{name}_BIT", str(_bit(mask)))
    for name, shift, mask in (("ERR_CODE", r.ST_ERR_CODE_SHIFT, r.ST_ERR_CODE_MASK),
                              ("ERR_PACKET", r.ST_ERR_PACKET_SHIFT, r.ST_ERR_PACKET_MASK),
                              ("PACKETS", r.ST_PACKETS_SHIFT, r.ST_PACKETS_MASK)):
        w.define(f"MSP_STATUS_{name}_LSB", str(shift))
        w.define(f"MSP_STATUS_{name}_WIDTH", str(_width(mask)))
    for name, mask in (("DONE", r.IRQ_DONE), ("ERROR", r.IRQ_ERROR)):
        w.define(f"MSP_IRQ_{name}_BIT", str(_bit(mask)))

    w.section("descriptor registers")
    regs = r.DESCRIPTOR_REGS
    base = int(regs[0])
    assert [int(reg) for reg in regs] == list(range(base, base + 4 * len(regs), 4)), "not contiguous"
    assert len(regs) & (len(regs) - 1) == 0 and base % (4 * len(regs)) == 0, "not an aligned block"
    w.comment("A block of MSP_DESC_COUNT registers from MSP_DESC_BASE: register i is bits")
    w.comment("[32*i +: 32] of the RTL's descriptor bus, MSP_DESC_MASK_* its writable bits.")
    w.define("MSP_DESC_BASE", offset(regs[0]))
    w.define("MSP_DESC_COUNT", str(len(regs)))
    w.define("MSP_DESC_INDEX_BITS", str(_width(len(regs) - 1)), "offset bits [INDEX_BITS+1:2] pick the register")
    for i, reg in enumerate(regs):
        w.define(f"MSP_DESC_INDEX_{reg.name}", str(i))
    for reg in regs:
        w.define(f"MSP_DESC_MASK_{reg.name}", f"32'h{r.DESCRIPTOR_MASKS[reg]:08X}")

    w.section("descriptor fields")
    w.comment("MSP_FIELD_<name>_LSB, _WIDTH: bits in its register; _BIT: its LSB in the descriptor bus.")
    for f in r.DESCRIPTOR_FIELDS:
        w.comment(f"{f.name}: {f.reg.name}[{f.lsb + f.width - 1}:{f.lsb}]" if f.width > 1
                  else f"{f.name}: {f.reg.name}[{f.lsb}]")
        w.define(f"MSP_FIELD_{f.name}_LSB", str(f.lsb))
        w.define(f"MSP_FIELD_{f.name}_WIDTH", str(f.width))
        w.define(f"MSP_FIELD_{f.name}_BIT", str(32 * regs.index(f.reg) + f.lsb))

    w.section("OP values")
    ops = sorted(int(op) for op in r.Op)
    for op in r.Op:
        w.define(f"MSP_OP_{op.name}", f"{op_field.width}'d{int(op)}")
    if ops == list(range(ops[0], ops[-1] + 1)):
        legal = f"((o) >= {op_field.width}'d{ops[0]} && (o) <= {op_field.width}'d{ops[-1]})"
    else:
        legal = "(" + " || ".join(f"(o) == `MSP_OP_{op.name}" for op in r.Op) + ")"
    w.define("MSP_OP_LEGAL(o)", legal, "a known operation")

    w.section("STATUS.ERROR_CODE values")
    for code in r.ErrorCode:
        w.define(f"MSP_ERR_{code.name}", f"{code_bits}'d{int(code)}")
    w.comment("ERROR_INFO of BUFFER_OVERFLOW: flag bits above the rows, channels or words")
    w.define("MSP_INFO_WEIGHT_BUFFER", f"32'h{INFO_WEIGHT_BUFFER:08X}", "the weight banks")
    w.define("MSP_INFO_STAGING", f"32'h{INFO_STAGING:08X}", "the row or channel staging")

    w.section("activation type bytes (ACT_TYPES fields)")
    type_bits = next(f for f in r.DESCRIPTOR_FIELDS if f.name == "IN_TYPE").width
    for name, code in r._ACT_CODES.items():
        w.define(f"MSP_ACT_{name.upper()}", f"{type_bits}'h{code:02X}")
    w.define("MSP_ACT_SIGNED_BIT", str(_bit(r.ACT_SIGNED)))
    w.define("MSP_ACT_BITS_LSB", "0", "the activation bits: [BITS_LSB +: BITS_WIDTH]")
    w.define("MSP_ACT_BITS_WIDTH", str(_width(r.ACT_BITS_MASK)))
    w.define("MSP_ACT_LEGAL(t)", "(" + " || ".join(f"(t) == `MSP_ACT_{name.upper()}" for name in r._ACT_CODES) + ")",
             "a legal type byte")

    w.section("row parameters (the first packet of conv2d and linear)")
    w.comment("One little-endian record of MSP_ROW_PARAM_BYTES per row; _OFFSET: its first byte,")
    w.comment("_LSB, _WIDTH: its bits in the record read as one 64-bit stream beat.")
    assert r.ROW_PARAM_BYTES == r.STREAM_BYTES, "the RTL takes one row per beat"
    w.define("MSP_ROW_PARAM_BYTES", str(r.ROW_PARAM_BYTES))
    for name in r.ROW_PARAM_DTYPE.names:
        dtype, byte = r.ROW_PARAM_DTYPE.fields[name][:2]
        w.define(f"MSP_ROW_{name.upper()}_OFFSET", str(byte))
        w.define(f"MSP_ROW_{name.upper()}_LSB", str(8 * byte))
        w.define(f"MSP_ROW_{name.upper()}_WIDTH", str(8 * dtype.itemsize))
    for scheme in Scheme:
        w.define(f"MSP_SCHEME_{scheme.name}", f"8'd{int(scheme)}")

    w.section("limits the START and data checks apply")
    w.define("MSP_MAX_ROWS", str(MAX_ROWS), "rows (conv2d, linear) or channels (pools) staged")
    w.define("MSP_MAX_K", str(MAX_K), "reduction length")
    w.define("MSP_SHIFT_MAX", str(SHIFT_MAX), "requantization shift")
    w.define("MSP_BIAS_MAX", f"32'sd{BIAS_MAX}", "|bias| of a row")

    head = [
        f"// msp_contract.vh: generated by `{COMMAND}` from msp_pynq/engine/registers.py",
        "// (docs/registers.md). DO NOT EDIT: change the Python and rerun the command;",
        "// tests/hdl/test_contract_header.py fails while this file differs from what it writes.",
        "//",
        WHY_DEFINE,
        "`ifndef MSP_CONTRACT_VH",
        "`define MSP_CONTRACT_VH",
    ]
    return "\n".join(head + w.lines + ["", "`endif  // MSP_CONTRACT_VH", ""])


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the header differs from the register map")
    parser.add_argument("--output", type=Path, default=HEADER, help=f"default: {HEADER.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    text = render()
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != text:
            print(f"{args.output} is out of date with msp_pynq/engine/registers.py: run `{COMMAND}`",
                  file=sys.stderr)
            return 1
        print(f"{args.output}: up to date")
        return 0
    if current != text:
        args.output.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {args.output}")
    else:
        print(f"{args.output}: unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
