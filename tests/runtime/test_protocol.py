"""The written contract: docs/registers.md, registers.py, the overlay manifests and the .hwh agree."""
from __future__ import annotations

import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pynq
import pytest

from msp_pynq.boards.profiles import PROFILES
from msp_pynq.engine.geometry import EngineGeometry
from msp_pynq.emulation import EmulatedDevice
from msp_pynq.runtime import OverlayMismatch
from msp_pynq.runtime.overlays import check_ip_dict, load_overlay_manifest
from msp_pynq.engine.registers import (DESCRIPTOR_REGS, ENGINE_ID, ENGINE_VLNV, Descriptor, ErrorCode,
                                        Op, Reg, decode_act, encode_act, pack_row_params,
                                        unpack_row_params, weight_nbytes)

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "registers.md").read_text(encoding="utf-8")


def test_register_table_in_the_doc_is_the_code():
    rows = re.findall(r"^\| (0x[0-9A-F]{3}) \| ([A-Z0-9_]+) \| (RO|RW|W1C|see bits) \|", DOC, re.M)
    assert [(int(off, 16), name) for off, name, _ in rows] == [(int(r), r.name) for r in Reg]
    assert "0x4D535045" in DOC and ENGINE_ID == int.from_bytes(b"MSPE", "big")
    assert ENGINE_VLNV in DOC


def test_error_codes_and_ops_in_the_doc_are_the_code():
    errors = DOC[DOC.index("## 6. Errors"):]
    codes = re.findall(r"^\| (\d) \| ([A-Z_]+) \| ", errors, re.M)
    assert [(int(c), n) for c, n in codes] == [(int(e), e.name) for e in ErrorCode]
    ops = re.findall(r"^\| (\d) \| (conv2d|linear|add|max_pool|global_avg_pool) \|", DOC, re.M)
    assert [(int(c), n) for c, n in ops] == [(int(o), o.name.lower()) for o in Op]


def test_descriptor_registers_round_trip_with_documented_bit_positions():
    d = Descriptor(op=Op.CONV2D, batch=3, in_h=17, in_w=9, in_c=300, out_c=40, kernel=(3, 5),
                   stride=(2, 1), padding=(1, 2, 3, 4), in_type=encode_act("u8"), out_type=encode_act("s8"),
                   rows_sp2=20, rows_fixed4=18, rows_fixed8=2)
    regs = dict(d.registers())
    assert list(regs) == [int(r) for r in DESCRIPTOR_REGS] == list(range(0x100, 0x140, 4))
    assert regs[Reg.KERNEL] == 0x0503 and regs[Reg.STRIDE] == 0x0102
    assert regs[Reg.PADDING] == 0x04030201                  # top, left, bottom, right from bit 0
    assert regs[Reg.ACT_TYPES] == 0x08 | 0x88 << 16
    assert Descriptor.from_registers(regs) == d
    raw = Descriptor(op=Op.LINEAR, in_c=8, out_c=5, in_type=0x08, raw_out=True, rows_fixed8=5)
    assert dict(raw.registers())[Reg.ACT_TYPES] == 0x08 | 1 << 24
    assert raw.output_nbytes == 5 * 4 and raw.output_dtype == np.dtype("<i4")
    with pytest.raises(ValueError, match="SHIFT"):
        Descriptor(op=Op.ADD, shift=64).registers()


def test_activation_type_bytes():
    assert [encode_act(s) for s in ("u4", "u5", "u8", "s8", None)] == [0x04, 0x05, 0x08, 0x88, 0]
    assert [str(decode_act(b)) for b in (0x04, 0x05, 0x08, 0x88)] == ["u4", "u5", "u8", "s8"]
    assert all(decode_act(b) is None for b in (0, 0x06, 0x84, 0x85, 0xFF))


def test_row_parameter_packet_layout():
    packet = pack_row_params(np.array([-5, 1 << 30]), np.array([0xBEEF, 1]), np.array([47, 0]),
                             np.array([2, 1]))
    assert packet.tobytes() == struct.pack("<iHBB", -5, 0xBEEF, 47, 2) + struct.pack("<iHBB", 1 << 30, 1, 0, 1)
    rec = unpack_row_params(packet)
    assert rec["bias"].tolist() == [-5, 1 << 30] and rec["scheme"].tolist() == [2, 1]
    assert weight_nbytes(27, 3, 2, 1) == 5 * 14 + 27


def test_packet_sizes_per_op():
    conv = Descriptor(op=Op.CONV2D, batch=2, in_h=5, in_w=5, in_c=3, out_c=6, kernel=(3, 3),
                      stride=(1, 1), padding=(1, 1, 1, 1), in_type=8, out_type=4, rows_sp2=3,
                      rows_fixed4=2, rows_fixed8=1)
    assert conv.packet_sizes() == [("params", 48), ("weights", 5 * 14 + 27), ("input", 150)]
    assert conv.out_hw == (5, 5) and conv.output_nbytes == 2 * 25 * 6
    add = Descriptor(op=Op.ADD, batch=2, in_h=4, in_w=4, in_c=8, in_type=4, in_b_type=0x88, out_type=4)
    assert add.packet_sizes() == [("input a", 256), ("input b", 256)] and add.output_nbytes == 256
    buffers = EngineGeometry(vector_width=16, lut_rows=41, dsp_rows=24, act_buffer_kib=128, weight_buffer_kib=64)
    assert buffers.image_words(add) == 256 // 16              # input a of every image is held, dense
    gap = Descriptor(op=Op.GLOBAL_AVG_POOL, batch=3, in_h=4, in_w=4, in_c=8, in_type=4, out_type=8)
    assert gap.output_nbytes == 24 and buffers.image_words(gap) == 16   # one word per pixel (8 of 16 bytes)
    assert buffers.passes(conv) == 1 and buffers.steps(conv) == 9 and buffers.overflow(conv) is None


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_manifest_matches_the_board_profile(board):
    m = load_overlay_manifest(board)
    p = PROFILES[board]
    assert m.clock_mhz == p.clock_mhz
    clk = m.raw["fabric_clock"]
    assert clk["source_mhz"] / clk["divisor0"] / clk["divisor1"] == p.clock_mhz
    assert m.engine.vlnv == ENGINE_VLNV and m.engine.range == 0x1000
    g = m.engine.parameters
    assert (int(g["VECTOR_WIDTH"]), int(g["LUT_ROWS"]), int(g["DSP_ROWS"]), int(g["ACT_BUF_KIB"]),
            int(g["WGT_BUF_KIB"])) == (p.geometry.vector_width, p.geometry.lut_rows, p.geometry.dsp_rows, p.geometry.act_buffer_kib,
                                       p.geometry.weight_buffer_kib)
    assert int(g["FINGERPRINT"], 16) == int(p.fingerprint[:8], 16)
    assert int(g["CLOCK_KHZ"]) == p.clock_mhz * 1000 and int(g["VERSION"], 16) == 0x00010000
    dma = m.dma.parameters
    assert (dma["c_include_sg"], dma["c_sg_length_width"], dma["c_m_axi_mm2s_data_width"],
            dma["c_m_axi_s2mm_data_width"], dma["c_include_mm2s_dre"]) == ("0", "26", "64", "64", "0")
    lo, hi = (0x4000_0000, 0x7FFF_FFFF) if board == "pynq-z2" else (0xA000_0000, 0xAFFF_FFFF)
    for ip in m.ips.values():
        assert lo <= ip.base_address and ip.base_address + ip.range - 1 <= hi
    assert not m.built and not m.bitstream_path.exists()
    assert "Not built yet" in (m.directory / "README.md").read_text()


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_pynq_overlay_opens_from_the_written_hwh(board, tmp_path):
    dev = EmulatedDevice(board)
    bit = dev.write_overlay(tmp_path)
    with dev.activate():
        ol = pynq.Overlay(str(bit), device=dev)
    m = dev.manifest
    check_ip_dict(m, ol.ip_dict)                            # addresses, VLNVs, DMA parameters
    assert ol.ip_dict["msp_engine_0"]["registers"]["STATUS"]["address_offset"] == 0x44
    assert dev.pl_clocks[0]["divisor0"] == m.raw["fabric_clock"]["divisor0"]
    assert set(dev.models) == {"axi_dma_0", "msp_engine_0"}
    assert dev.models["axi_dma_0"].mm2s is dev.models["msp_engine_0"].inp   # streams wired
    assert dev.models["axi_dma_0"].s2mm is dev.models["msp_engine_0"].out


def test_overlay_that_differs_from_the_manifest_is_refused(runtime):
    from dataclasses import replace
    m = load_overlay_manifest("pynq-z2")
    moved = replace(m.engine, base_address=0x43C1_0000)
    dev = EmulatedDevice("pynq-z2", replace(m, ips={**m.ips, "msp_engine_0": moved}))
    with pytest.raises(OverlayMismatch, match=r"msp_engine_0: base address 1136721920, expected 0x43C00000"):
        runtime("pynq-z2", device=dev)


def test_runtime_package_needs_no_torch_or_onnx():
    code = ("import sys, msp_pynq.runtime; "
            "heavy = [m for m in ('torch', 'onnx', 'onnxruntime') if m in sys.modules]; "
            "assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    sources = "\n".join(p.read_text() for p in (ROOT / "msp_pynq" / "runtime").glob("*.py"))
    assert not re.search(r"^\s*(import|from)\s+(torch|onnx)", sources, re.M)
