"""A minimal Vivado hardware handoff (.hwh) written from an overlay manifest.

It holds what pynq's metadata parser needs to build ``Overlay.ip_dict``: SYSTEMINFO, the
processing system (PS7 with M_AXI_GP0, or Zynq UltraScale+ with M_AXI_HPM0_FPD) with a
MEMRANGE per IP and its fabric clock parameters, and each IP with its AXI4-Lite slave
interface and parameters; the engine also lists its registers (docs/registers.md) so pynq
builds a ``register_map``. :class:`msp_pynq.emulation.device.EmulatedDevice` writes one
next to an empty .bit (which pynq requires but the emulated device never reads).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..engine.registers import Reg
from ..runtime.overlays import OverlayManifest

#: Access type of each engine register as the .hwh states it (the descriptor registers are RW).
REGISTER_ACCESS = {
    Reg.ID: "read-only", Reg.VERSION: "read-only", Reg.VECTOR_WIDTH: "read-only",
    Reg.LUT_ROWS: "read-only", Reg.DSP_ROWS: "read-only", Reg.ACT_BUF_KIB: "read-only",
    Reg.WGT_BUF_KIB: "read-only", Reg.FINGERPRINT: "read-only", Reg.CLOCK_KHZ: "read-only",
    Reg.CONTROL: "read-write", Reg.STATUS: "read-only", Reg.IRQ_STATUS: "read-write",
    Reg.CYCLES_LO: "read-only", Reg.CYCLES_HI: "read-only", Reg.ERROR_INFO: "read-only",
}


def _element(parent: ET.Element, tag: str, **attrs) -> ET.Element:
    return ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})


def _parameters(parent: ET.Element, params: dict) -> None:
    node = _element(parent, "PARAMETERS")
    for name, value in params.items():
        _element(node, "PARAMETER", NAME=name, VALUE=value)


def _ps_clock_params(manifest: OverlayManifest) -> dict:
    """PL clock 0 as Vivado states it for this PS (clocks 1..3 disabled)."""
    clk = manifest.raw["fabric_clock"]
    p: dict = {}
    if manifest.arch == "zynq":
        for i in range(4):
            p[f"PCW_FPGA_FCLK{i}_ENABLE"] = int(i == 0)
            p[f"PCW_FCLK{i}_PERIPHERAL_CLKSRC"] = clk["source"] if i == 0 else "IO PLL"
            p[f"PCW_FCLK{i}_PERIPHERAL_DIVISOR0"] = clk["divisor0"] if i == 0 else 1
            p[f"PCW_FCLK{i}_PERIPHERAL_DIVISOR1"] = clk["divisor1"] if i == 0 else 1
        p["PCW_FPGA0_PERIPHERAL_FREQMHZ"] = clk["mhz"]          # requested
        p["PCW_ACT_FPGA0_PERIPHERAL_FREQMHZ"] = clk["mhz"]      # achieved
        return p
    for i in range(4):
        p[f"PSU__FPGA_PL{i}_ENABLE"] = int(i == 0)
        p[f"PSU__CRL_APB__PL{i}_REF_CTRL__SRCSEL"] = clk["source"] if i == 0 else "IOPLL"
        p[f"PSU__CRL_APB__PL{i}_REF_CTRL__DIVISOR0"] = clk["divisor0"] if i == 0 else 1
        p[f"PSU__CRL_APB__PL{i}_REF_CTRL__DIVISOR1"] = clk["divisor1"] if i == 0 else 1
    p["PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ"] = clk["mhz"]       # requested
    p["PSU__CRL_APB__PL0_REF_CTRL__ACT_FREQMHZ"] = clk["mhz"]   # achieved
    return p


def _engine_registers(module: ET.Element, interface: str, size: int) -> None:
    blocks = _element(module, "ADDRESSBLOCKS")
    block = _element(blocks, "ADDRESSBLOCK", ACCESS="read-write", INTERFACE=interface, NAME="reg0",
                     RANGE=size, USAGE="register")
    registers = _element(block, "REGISTERS")
    for reg in Reg:
        node = _element(registers, "REGISTER", NAME=reg.name)
        for name, value in (("DESCRIPTION", f"{reg.name} (docs/registers.md)"),
                            ("ADDRESS_OFFSET", f"0x{int(reg):X}"), ("SIZE", 32),
                            ("ACCESS", REGISTER_ACCESS.get(reg, "read-write")), ("IS_ENABLED", "true")):
            _element(node, "PROPERTY", NAME=name, VALUE=value)


def hwh_text(manifest: OverlayManifest, name: str = "msp_engine") -> str:
    """The .hwh of the overlay ``manifest`` describes."""
    ps, si = manifest.raw["processing_system"], manifest.raw["systeminfo"]
    master = ps["control_master"]
    bus = f"{ps['instance']}_{master}"
    root = ET.Element("EDKSYSTEM", EDWVERSION="1.2", TIMESTAMP="Thu Jan  1 00:00:00 2026",
                      VIVADOVERSION="2022.1")
    _element(root, "SYSTEMINFO", ARCH=si["arch"], BOARD=manifest.raw.get("board_part", ""),
             DEVICE=si["device"], NAME=name, PACKAGE=si["package"], SPEEDGRADE=si["speedgrade"])
    _element(root, "EXTERNALPORTS")
    _element(root, "EXTERNALINTERFACES")
    modules = _element(root, "MODULES")
    ranges = []
    for ip in manifest.ips.values():
        modtype, version = ip.vlnv.split(":")[2:]
        module = _element(modules, "MODULE", FULLNAME="/" + ip.name, HWVERSION=version, INSTANCE=ip.name,
                          IPTYPE="PERIPHERAL", IS_ENABLE="1", MODCLASS="PERIPHERAL", MODTYPE=modtype,
                          VLNV=ip.vlnv)
        ours = ip.vlnv.startswith("msp-pynq:")
        if ours:
            _engine_registers(module, ip.interface, ip.range)
        # Vivado writes both spellings: HDL generics (C_...) and IP-XACT user parameters
        # (c_...); pynq's DMA driver reads the lowercase ones.
        _parameters(module, {**ip.parameters, **{k.upper(): v for k, v in ip.parameters.items()}})
        _element(module, "PORTS")
        interfaces = _element(module, "BUSINTERFACES")
        _element(interfaces, "BUSINTERFACE", BUSNAME=bus, DATAWIDTH="32", NAME=ip.interface, TYPE="SLAVE",
                 VLNV="xilinx.com:interface:aximm:1.0")
        base_name = "C_S_AXI_BASEADDR" if ours else "C_BASEADDR"
        ranges.append(dict(ADDRESSBLOCK="reg0" if ours else "Reg", BASENAME=base_name,
                           BASEVALUE=f"0x{ip.base_address:08X}", HIGHNAME=base_name.replace("BASE", "HIGH"),
                           HIGHVALUE=f"0x{ip.base_address + ip.range - 1:08X}", INSTANCE=ip.name,
                           IS_DATA="TRUE", IS_INSTRUCTION="TRUE", MASTERBUSINTERFACE=master,
                           MEMTYPE="REGISTER", SLAVEBUSINTERFACE=ip.interface))
    modtype, version = ps["vlnv"].split(":")[2:]
    module = _element(modules, "MODULE", FULLNAME="/" + ps["instance"], HWVERSION=version,
                      INSTANCE=ps["instance"], IPTYPE="PERIPHERAL", IS_ENABLE="1", IS_PL="FALSE",
                      MODTYPE=modtype, VLNV=ps["vlnv"])
    _parameters(module, _ps_clock_params(manifest))
    _element(module, "PORTS")
    interfaces = _element(module, "BUSINTERFACES")
    _element(interfaces, "BUSINTERFACE", BUSNAME=bus, DATAWIDTH="32", NAME=master, TYPE="MASTER",
             VLNV="xilinx.com:interface:aximm:1.0")
    memory_map = _element(module, "MEMORYMAP")
    for attrs in ranges:
        _element(memory_map, "MEMRANGE", **attrs)
    ET.indent(root, "  ")
    return '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n' + ET.tostring(root, "unicode") + "\n"


def write_overlay_files(manifest: OverlayManifest, directory: "str | Path") -> Path:
    """Write ``<bitstream>.hwh`` and an empty ``<bitstream>.bit`` into ``directory``; returns the .bit."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    bit = directory / manifest.bitstream
    bit.with_suffix(".hwh").write_text(hwh_text(manifest, bit.stem), encoding="utf-8")
    bit.write_bytes(b"")
    return bit
