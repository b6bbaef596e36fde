"""Prototype: run PYNQ's own Python driver stack on a PC by replacing only
the lowest level, a ``pynq.Device`` subclass.

Everything above the device (``pynq.allocate``/``PynqBuffer``, ``pynq.MMIO``,
``pynq.lib.dma.DMA``, ``pynq.DefaultIP``, ``pynq.Overlay``) is the unchanged
``pynq`` package (tested with 4.0.0 and 3.0.1).

Pieces:
  EmuDevice      the pynq.Device subclass: register routing, memory, overlay load
  RegisterModel  base class of the Python register models (read/write hooks)
  AxiDmaModel    register-level model of the Xilinx AXI DMA in simple mode (PG021)
  AxisFifo       an AXI4-Stream channel as a queue of packets (TLAST = packet end)
  wait_dma       a wait with a timeout for a pynq DMA channel
"""

import collections
import contextlib
import copy
import threading
import time
from pathlib import Path

import numpy as np
import pynq
from pynq.buffer import PynqBuffer

PYNQ_VERSION = tuple(int(p) for p in pynq.__version__.split(".")[:2])

try:  # pynq 3.0.x ships its own copy of the runtime parser
    from pynq.metadata.runtime_metadata_parser import RuntimeMetadataParser
except ImportError:  # pynq >= 3.1 / 4.0 takes it from pynqmetadata
    from pynqmetadata.views.runtime import RuntimeMetadataParser
from pynqmetadata.frontends import Metadata


class EmuBusError(RuntimeError):
    """An access to an address that no register model decodes."""


class DmaError(RuntimeError):
    """A DMA channel reported an error bit (or halted) while being waited on."""


# --------------------------------------------------------------------------
# Register models
# --------------------------------------------------------------------------
class RegisterModel:
    """32-bit register file. Subclasses override ``read``/``write`` to add
    behaviour. After every bus access the device calls ``tick(True)`` (one
    bus access is this emulator's unit of time), then ``tick(False)`` until
    no model reports progress (to let data flow between models)."""

    def __init__(self, size=0x10000):
        self.size = size
        self.regs = collections.defaultdict(int)

    def read(self, offset):
        return self.regs[offset]

    def write(self, offset, value):
        self.regs[offset] = value & 0xFFFFFFFF

    def tick(self, new_cycle):
        return False


class AxisFifo:
    """An AXI4-Stream link: a queue of packets (bytes); each packet ends in TLAST."""

    def __init__(self):
        self.packets = collections.deque()

    def push(self, data):
        self.packets.append(bytes(data))

    def pop(self):
        return self.packets.popleft() if self.packets else None

    def __len__(self):
        return len(self.packets)


# DMASR / DMACR bits (PG021)
HALTED, IDLE, SG_INCLD = 0x1, 0x2, 0x8
DMA_INT_ERR, DMA_SLV_ERR, DMA_DEC_ERR = 0x10, 0x20, 0x40
IOC_IRQ, DLY_IRQ, ERR_IRQ = 0x1000, 0x2000, 0x4000
CR_RS, CR_RESET = 0x1, 0x4
_ERRORS = {"internal": DMA_INT_ERR, "slave": DMA_SLV_ERR, "decode": DMA_DEC_ERR}


class _DmaChannel:
    def __init__(self, name, base):
        self.name, self.base = name, base  # base: 0x00 (MM2S) or 0x30 (S2MM)
        self.fault = None    # None | "hang" | "internal" | "slave" | "decode"
        self.latency = 0     # bus accesses between LENGTH write and completion
        self.reset()

    def reset(self):
        self.cr = 0x00010002  # reset value of DMACR (IRQThreshold=1)
        self.sr = HALTED      # reset value of DMASR
        self.addr_lo = self.addr_hi = self.length = 0
        self.pending = None   # [addr, nbytes, ticks_left] of the transfer in flight
        self.transfers = 0

    @property
    def addr(self):
        return (self.addr_hi << 32) | self.addr_lo


class AxiDmaModel(RegisterModel):
    """Xilinx AXI DMA v7.1, direct-register (simple) mode.

    MM2S reads memory at MM2S_SA and pushes one packet into ``self.mm2s``;
    S2MM pops one packet from ``self.s2mm`` and writes it to S2MM_DA. By
    default both are the same FIFO: a loopback.
    """

    def __init__(self, device, description=None, size=0x10000):
        super().__init__(size)
        self.device = device
        params = (description or {}).get("parameters", {})
        width = int(params.get("c_sg_length_width", 26))
        self.length_mask = (1 << width) - 1
        self.mm2s = self.s2mm = AxisFifo()
        self.ch = {"mm2s": _DmaChannel("mm2s", 0x00), "s2mm": _DmaChannel("s2mm", 0x30)}

    def _chan(self, offset):
        c = self.ch["s2mm"] if offset >= 0x30 else self.ch["mm2s"]
        return c, offset - c.base

    def read(self, offset):
        c, r = self._chan(offset)
        return {0x00: c.cr, 0x04: c.sr, 0x18: c.addr_lo, 0x1C: c.addr_hi,
                0x28: c.length}.get(r, self.regs[offset])

    def write(self, offset, value):
        c, r = self._chan(offset)
        if r == 0x00:                                  # DMACR
            if value & CR_RESET:                       # soft reset: whole core
                for ch in self.ch.values():
                    ch.reset()
                return
            c.cr = value & ~CR_RESET
            if value & CR_RS:
                # errors are sticky until reset: RS=1 does not restart the channel
                if not c.sr & (DMA_INT_ERR | DMA_SLV_ERR | DMA_DEC_ERR):
                    c.sr &= ~HALTED
            else:
                c.sr |= HALTED
                c.pending = None
        elif r == 0x04:                                # DMASR: W1C irq bits
            c.sr &= ~(value & (IOC_IRQ | DLY_IRQ | ERR_IRQ))
        elif r == 0x18:
            c.addr_lo = value
        elif r == 0x1C:
            c.addr_hi = value
        elif r == 0x28:                                # LENGTH: starts a transfer
            c.length = value & self.length_mask
            if c.sr & HALTED:
                return                                 # ignored while halted
            c.sr &= ~IDLE
            c.pending = [c.addr, c.length, c.latency]
        else:
            self.regs[offset] = value

    def _error(self, c, bit):
        c.sr = (c.sr | bit | ERR_IRQ | HALTED) & ~IDLE
        c.cr &= ~CR_RS
        c.pending = None

    def _complete(self, c, nbytes):
        c.length = nbytes
        c.sr |= IDLE | IOC_IRQ
        c.pending = None
        c.transfers += 1

    def tick(self, new_cycle):
        progress = False
        for c in self.ch.values():
            if c.pending is None or c.fault == "hang":
                continue
            addr, nbytes, left = c.pending
            if left > 0:
                if new_cycle:
                    c.pending[2] -= 1
                continue
            if c.fault in _ERRORS:
                self._error(c, _ERRORS[c.fault])
            elif nbytes == 0:
                self._error(c, DMA_INT_ERR)
            elif c.name == "mm2s":
                data = self.device.dma_read(addr, nbytes)
                if data is None:
                    self._error(c, DMA_DEC_ERR)
                else:
                    self.mm2s.push(data)
                    self._complete(c, nbytes)
            else:
                if not len(self.s2mm):
                    continue                           # wait for a packet
                pkt = self.s2mm.pop()
                if not self.device.dma_write(addr, pkt[:nbytes]):
                    self._error(c, DMA_DEC_ERR)
                elif len(pkt) > nbytes:                # no TLAST within LENGTH
                    self._error(c, DMA_INT_ERR)
                else:
                    self._complete(c, len(pkt))
            progress = True
        return progress


# --------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------
class _Alloc:
    __slots__ = ("handle", "phys", "nbytes", "host", "ddr")

    def __init__(self, handle, phys, nbytes, host, ddr):
        self.handle, self.phys, self.nbytes, self.host, self.ddr = handle, phys, nbytes, host, ddr


class EmuMemory:
    """Contiguous-memory allocator standing in for XRT/CMA.

    Each buffer has a host copy (what the PynqBuffer wraps, i.e. the CPU's
    cached view) and, unless coherent, a separate "DDR" copy that the PL
    models see; ``flush`` copies host->DDR and ``invalidate`` DDR->host, so
    a missing flush/invalidate shows up as stale data, as on the board.
    """

    def __init__(self, device, base=0x1000_0000, size=0x1000_0000, align=4096):
        self.device, self.base, self.size, self.align = device, base, size, align
        self.allocs = {}   # handle -> _Alloc
        self._next_handle = 1
        self.stats = collections.Counter()

    # pynq calls: Device.allocate -> default_memory.allocate(shape, dtype, **kw)
    def allocate(self, shape, dtype, cacheable=True, **kwargs):
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        phys = self._find_gap(max(nbytes, 1))
        host = np.zeros(max(nbytes, 1), dtype=np.uint8)
        coherent = not cacheable or self.device.coherent
        ddr = host if coherent else np.zeros_like(host)
        handle = self._next_handle
        self._next_handle += 1
        self.allocs[handle] = _Alloc(handle, phys, nbytes, host, ddr)
        buf = PynqBuffer(shape, dtype, buffer=host, device=self.device,
                         device_address=phys, bo=handle, coherent=coherent)
        # freebuffer()/__exit__/__del__ call return_to.return_pointer(pointer)
        buf.memory, buf.pointer, buf.return_to = self, handle, self
        # pynq's other free branch munmaps the virtual address once pointer
        # is 0 (a 2nd free, e.g. __del__ after `with`): mark it done already.
        buf.freed = True
        self.stats["allocated"] += 1
        return buf

    def return_pointer(self, handle):
        if self.allocs.pop(handle, None) is not None:
            self.stats["freed"] += 1

    def _find_gap(self, nbytes):
        addr = self.base
        for a in sorted(self.allocs.values(), key=lambda a: a.phys):
            if a.phys - addr >= nbytes:
                break
            addr = max(addr, -(-(a.phys + max(a.nbytes, 1)) // self.align) * self.align)
        if addr + nbytes > self.base + self.size:
            raise MemoryError("emulated contiguous memory exhausted")
        return addr

    def lookup(self, phys, nbytes):
        """(alloc, offset) of the live buffer holding [phys, phys+nbytes), or None."""
        for a in self.allocs.values():
            if a.phys <= phys and phys + nbytes <= a.phys + a.nbytes:
                return a, phys - a.phys
        return None

    @property
    def live_buffers(self):
        return len(self.allocs)

    @property
    def live_bytes(self):
        return sum(a.nbytes for a in self.allocs.values())


# --------------------------------------------------------------------------
# The device
# --------------------------------------------------------------------------
class EmuDevice(pynq.Device):
    """A pynq.Device with no hardware behind it.

    MMIO: capability REGISTER_RW makes pynq.MMIO call read_registers /
    write_registers, which are routed to RegisterModel objects by address.
    Memory: default_memory is an EmuMemory. Overlay: get_bitfile_metadata
    parses the .hwh with pynq's own parser; download() builds register
    models for the IP found in it (``model_factories``: VLNV -> factory).
    """

    def __init__(self, tag="emu0", coherent=False, model_factories=None, on_download=None):
        super().__init__(tag)
        self.name = tag
        self.capabilities = {"REGISTER_RW": True, "MEMORY_MAPPED": False, "CALLABLE": False}
        self.arch = "emulated"      # pynq 4 Clocks checks device.arch
        self.coherent = coherent
        self.bitfile_name = None
        self.timestamp = ""
        self.memory = EmuMemory(self)
        self.regions = []           # (base, size, model)
        self.model_factories = {"xilinx.com:ip:axi_dma:7.1": AxiDmaModel}
        self.model_factories.update(model_factories or {})
        self.on_download = on_download
        self.models = {}            # ip name -> model, after download()
        self.pl_clocks = {}
        self.stats = collections.Counter()
        self._lock = threading.RLock()

    # ---- activation -----------------------------------------------------
    @contextlib.contextmanager
    def activate(self):
        """Make this the pynq active device for the duration of the block."""
        had = "_active_device" in pynq.Device.__dict__
        old = pynq.Device.__dict__.get("_active_device")
        pynq.Device.active_device = self
        try:
            yield self
        finally:
            if had:
                pynq.Device.active_device = old
            else:
                del pynq.Device._active_device

    # ---- MMIO -----------------------------------------------------------
    def map(self, base, size, model):
        for b, s, _ in self.regions:
            if base < b + s and b < base + size:
                raise ValueError("region 0x%x overlaps 0x%x" % (base, b))
        self.regions.append((base, size, model))
        return model

    def _decode(self, address):
        for base, size, model in self.regions:
            if base <= address < base + size:
                return model, address - base
        raise EmuBusError("no register model at 0x%08x" % address)

    def read_registers(self, address, length):
        with self._lock:
            out = bytearray()
            for a in range(address & ~3, address + length, 4):
                model, off = self._decode(a)
                out += int(model.read(off) & 0xFFFFFFFF).to_bytes(4, "little")
                self.stats["reads"] += 1
                self.tick()
            skip = address & 3
            return bytes(out[skip:skip + length])

    def write_registers(self, address, data):
        with self._lock:
            data = bytes(data)
            if address & 3 or len(data) % 4:
                raise EmuBusError("unaligned write at 0x%08x (%d bytes)" % (address, len(data)))
            for i in range(0, len(data), 4):
                model, off = self._decode(address + i)
                model.write(off, int.from_bytes(data[i:i + 4], "little"))
                self.stats["writes"] += 1
                self.tick()

    def tick(self):
        """One time step for every model, then let data settle."""
        progress = any([m.tick(True) for _, _, m in self.regions])
        for _ in range(1000):
            if not progress:
                return
            progress = any([m.tick(False) for _, _, m in self.regions])

    # ---- memory ---------------------------------------------------------
    @property
    def default_memory(self):
        return self.memory

    def get_memory(self, description):
        return self.memory

    def _live(self, bo):
        a = self.memory.allocs.get(bo)
        if a is None:
            raise RuntimeError("cache operation on a freed buffer (bo=%r)" % bo)
        return a

    # PynqBuffer.flush()/invalidate() call these (skipped for coherent buffers)
    def flush(self, bo, offset, ptr, size):
        a = self._live(bo)
        a.ddr[offset:offset + size] = a.host[offset:offset + size]
        self.memory.stats["flush"] += 1

    def invalidate(self, bo, offset, ptr, size):
        a = self._live(bo)
        a.host[offset:offset + size] = a.ddr[offset:offset + size]
        self.memory.stats["invalidate"] += 1

    def dma_read(self, phys, nbytes):
        """Bytes a PL bus master reads at ``phys``; None if no live buffer there."""
        hit = self.memory.lookup(phys, nbytes)
        if hit is None:
            return None
        a, off = hit
        return a.ddr[off:off + nbytes].tobytes()

    def dma_write(self, phys, data):
        hit = self.memory.lookup(phys, len(data))
        if hit is None:
            return False
        a, off = hit
        a.ddr[off:off + len(data)] = np.frombuffer(data, dtype=np.uint8)
        return True

    # ---- bitstreams / overlays -----------------------------------------
    def get_bitfile_metadata(self, bitfile_name, partial=False):
        hwh = Path(bitfile_name).with_suffix(".hwh")
        if partial or not hwh.exists():
            raise RuntimeError("EmuDevice needs a full-design %s" % hwh)
        parser = RuntimeMetadataParser(Metadata(input=hwh))
        # Programming PS clocks (pynq.ps.Clocks -> SLCR / CRL_APB registers)
        # is a board-only path; keep the request for inspection instead.
        self.pl_clocks = copy.deepcopy(parser.clock_dict)
        parser.clock_dict = {}
        return parser

    def download(self, bitstream, parser=None):
        """'Program' the PL: rebuild the register models from the metadata."""
        self.regions = [r for r in self.regions if not getattr(r[2], "_from_hwh", False)]
        self.models = {}
        for name, desc in (parser.ip_dict if parser else {}).items():
            factory = self.model_factories.get(desc.get("type"))
            if factory is None or "phys_addr" not in desc:
                continue
            model = factory(self, desc)
            model._from_hwh = True
            self.map(desc["phys_addr"], desc["addr_range"], model)
            self.models[name] = model
        if self.on_download:
            self.on_download(self, self.models)
        self.stats["downloads"] += 1
        self.post_download(bitstream, parser, self.name)  # sets timestamps


# --------------------------------------------------------------------------
# DMA helpers
# --------------------------------------------------------------------------
def dma_description(device, phys_addr=0x40400000, addr_range=0x10000, sg=False,
                    length_width=26, data_width=32, mm2s=True, s2mm=True):
    """The ip_dict entry pynq.lib.dma.DMA needs (normally built from the .hwh)."""
    return {
        "phys_addr": phys_addr, "addr_range": addr_range, "device": device,
        "type": "xilinx.com:ip:axi_dma:7.1", "interrupts": {}, "gpio": {},
        "parameters": {
            "c_include_sg": str(int(sg)), "c_micro_dma": "0",
            "c_sg_length_width": str(length_width),
            "c_include_mm2s": str(int(mm2s)), "c_include_s2mm": str(int(s2mm)),
            "c_m_axi_mm2s_data_width": str(data_width),
            "c_m_axi_s2mm_data_width": str(data_width),
            "c_include_mm2s_dre": "0", "c_include_s2mm_dre": "0",
        },
    }


_SR_OFFSET = {"send": 0x04, "recv": 0x34}
_ERR_TEXT = {DMA_INT_ERR: "DMAIntErr", DMA_SLV_ERR: "DMASlvErr", DMA_DEC_ERR: "DMADecErr"}


def wait_dma(dma, which, timeout_s, poll_s=0.0):
    """pynq's _SDMAChannel.wait() has no timeout and spins forever; this polls
    DMASR through the DMA's public MMIO with a deadline, decodes the error
    bits itself (pynq's wait() reports "DMA channel not started" when the
    core has already halted on an error), then calls the real wait() for its
    bookkeeping (invalidate for S2MM, ``transferred``)."""
    channel = dma.sendchannel if which == "send" else dma.recvchannel
    deadline = time.monotonic() + timeout_s
    while True:
        sr = dma.read(_SR_OFFSET[which])
        errs = [t for b, t in _ERR_TEXT.items() if sr & b]
        if errs:
            raise DmaError("%s channel error: %s (DMASR=0x%08x)" % (which, "+".join(errs), sr))
        if sr & IDLE:
            break
        if sr & HALTED:
            raise DmaError("%s channel halted (DMASR=0x%08x)" % (which, sr))
        if time.monotonic() > deadline:
            raise TimeoutError("%s channel not idle after %.3fs (DMASR=0x%08x)"
                               % (which, timeout_s, sr))
        if poll_s:
            time.sleep(poll_s)
    channel.wait()
    return channel.transferred


def reset_dma(dma):
    """Soft-reset the core (clears sticky errors) and restart both channels."""
    dma.write(0x00, CR_RESET)
    for ch in (dma.sendchannel, dma.recvchannel):
        if ch is not None:
            ch.start()   # RS=1, spins until not halted; re-arms _first_transfer


# --------------------------------------------------------------------------
# A minimal .hwh (what Vivado's hardware handoff must contain for pynq)
# --------------------------------------------------------------------------
_HWH = """<?xml version="1.0" encoding="UTF-8" standalone="no" ?>
<EDKSYSTEM EDWVERSION="1.2" TIMESTAMP="Thu Jan  1 00:00:00 2026" VIVADOVERSION="2022.1">
  <SYSTEMINFO ARCH="zynq" DEVICE="7z020" NAME="{name}" PACKAGE="clg400" SPEEDGRADE="-1"/>
  <EXTERNALPORTS/>
  <EXTERNALINTERFACES/>
  <MODULES>
    <MODULE FULLNAME="/axi_dma_0" HWVERSION="7.1" INSTANCE="axi_dma_0" IPTYPE="PERIPHERAL" IS_ENABLE="1" MODCLASS="PERIPHERAL" MODTYPE="axi_dma" VLNV="xilinx.com:ip:axi_dma:7.1">
      <PARAMETERS>
{dma_params}
      </PARAMETERS>
      <PORTS/>
      <BUSINTERFACES>
        <BUSINTERFACE BUSNAME="gp0_dma" DATAWIDTH="32" NAME="S_AXI_LITE" TYPE="SLAVE" VLNV="xilinx.com:interface:aximm:1.0"/>
      </BUSINTERFACES>
    </MODULE>
    <MODULE FULLNAME="/{ip_name}" HWVERSION="1.0" INSTANCE="{ip_name}" IPTYPE="PERIPHERAL" IS_ENABLE="1" MODCLASS="PERIPHERAL" MODTYPE="{ip_modtype}" VLNV="{ip_vlnv}">
      <ADDRESSBLOCKS>
        <ADDRESSBLOCK ACCESS="read-write" INTERFACE="S_AXI" NAME="reg0" RANGE="4096" USAGE="register">
          <REGISTERS>
{ip_regs}
          </REGISTERS>
        </ADDRESSBLOCK>
      </ADDRESSBLOCKS>
      <PARAMETERS/>
      <PORTS/>
      <BUSINTERFACES>
        <BUSINTERFACE BUSNAME="gp0_ip" DATAWIDTH="32" NAME="S_AXI" TYPE="SLAVE" VLNV="xilinx.com:interface:aximm:1.0"/>
      </BUSINTERFACES>
    </MODULE>
    <MODULE FULLNAME="/processing_system7_0" HWVERSION="5.5" INSTANCE="processing_system7_0" IPTYPE="PERIPHERAL" IS_ENABLE="1" IS_PL="FALSE" MODTYPE="processing_system7" VLNV="xilinx.com:ip:processing_system7:5.5">
      <PARAMETERS>
{ps_params}
      </PARAMETERS>
      <PORTS/>
      <BUSINTERFACES>
        <BUSINTERFACE BUSNAME="gp0" DATAWIDTH="32" NAME="M_AXI_GP0" TYPE="MASTER" VLNV="xilinx.com:interface:aximm:1.0"/>
      </BUSINTERFACES>
      <MEMORYMAP>
        <MEMRANGE ADDRESSBLOCK="Reg" BASENAME="C_BASEADDR" BASEVALUE="0x{dma_base:08X}" HIGHNAME="C_HIGHADDR" HIGHVALUE="0x{dma_high:08X}" INSTANCE="axi_dma_0" IS_DATA="TRUE" IS_INSTRUCTION="TRUE" MASTERBUSINTERFACE="M_AXI_GP0" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="S_AXI_LITE"/>
        <MEMRANGE ADDRESSBLOCK="reg0" BASENAME="C_S_AXI_BASEADDR" BASEVALUE="0x{ip_base:08X}" HIGHNAME="C_S_AXI_HIGHADDR" HIGHVALUE="0x{ip_high:08X}" INSTANCE="{ip_name}" IS_DATA="TRUE" IS_INSTRUCTION="TRUE" MASTERBUSINTERFACE="M_AXI_GP0" MEMTYPE="REGISTER" SLAVEBUSINTERFACE="S_AXI"/>
      </MEMORYMAP>
    </MODULE>
  </MODULES>
</EDKSYSTEM>
"""


def make_hwh(name="msp_emu", dma_base=0x40400000, ip_base=0x43C00000, size=0x10000,
             ip_name="msp_engine_0", ip_vlnv="vendor:user:msp_engine:1.0",
             ip_registers=None, length_width=14, data_width=32, fclk0_div=(5, 2)):
    """Text of a minimal Zynq-7000 .hwh: PS7 + axi_dma_0 (simple mode, both
    channels) + one AXI4-Lite IP. ``ip_registers``: {name: offset}."""
    p = {"c_include_sg": 0, "c_sg_length_width": length_width, "c_micro_dma": 0,
         "c_include_mm2s": 1, "c_include_s2mm": 1, "c_include_mm2s_dre": 0,
         "c_include_s2mm_dre": 0, "c_m_axi_mm2s_data_width": data_width,
         "c_m_axi_s2mm_data_width": data_width}
    # Vivado writes both spellings: HDL generics (C_...) and IP-XACT user
    # parameters (c_...); pynq's DMA driver reads only the lowercase ones.
    items = list(p.items()) + [(k.upper(), v) for k, v in p.items()]
    dma_params = "\n".join('        <PARAMETER NAME="%s" VALUE="%s"/>' % kv for kv in items)
    ps = {"PCW_FCLK0_PERIPHERAL_DIVISOR0": fclk0_div[0],
          "PCW_FCLK0_PERIPHERAL_DIVISOR1": fclk0_div[1]}
    for i in range(4):
        ps["PCW_FPGA_FCLK%d_ENABLE" % i] = int(i == 0)
        ps["PCW_FCLK%d_PERIPHERAL_CLKSRC" % i] = "IO PLL"
        for d in range(2):
            ps.setdefault("PCW_FCLK%d_PERIPHERAL_DIVISOR%d" % (i, d), 1)
    ps_params = "\n".join('        <PARAMETER NAME="%s" VALUE="%s"/>' % kv for kv in ps.items())
    reg = ('            <REGISTER NAME="{0}"><PROPERTY NAME="DESCRIPTION" VALUE="{0}"/>'
           '<PROPERTY NAME="ADDRESS_OFFSET" VALUE="0x{1:X}"/><PROPERTY NAME="SIZE" VALUE="32"/>'
           '<PROPERTY NAME="ACCESS" VALUE="read-write"/><PROPERTY NAME="IS_ENABLED" VALUE="true"/>'
           '</REGISTER>')
    ip_regs = "\n".join(reg.format(n, o) for n, o in (ip_registers or {}).items())
    return _HWH.format(name=name, dma_params=dma_params, ps_params=ps_params, ip_regs=ip_regs,
                       ip_name=ip_name, ip_vlnv=ip_vlnv, ip_modtype=ip_vlnv.split(":")[2],
                       dma_base=dma_base, dma_high=dma_base + size - 1,
                       ip_base=ip_base, ip_high=ip_base + size - 1)
