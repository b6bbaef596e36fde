"""Checks that PYNQ's own stack runs unchanged on EmuDevice (pynq 4.0.0 and 3.0.1)."""
import asyncio
import collections
import inspect
import threading
import time

import numpy as np
import pytest
import pynq
from pynq.buffer import PynqBuffer
from pynq.lib.dma import DMA

from emu_pynq import (PYNQ_VERSION, AxiDmaModel, AxisFifo, DmaError, EmuBusError, EmuDevice,
                      RegisterModel, dma_description, make_hwh, reset_dma, wait_dma,
                      HALTED, IDLE, IOC_IRQ, DMA_SLV_ERR)

DMA_BASE = 0x40400000


@pytest.fixture
def dev():
    d = EmuDevice()
    with d.activate():
        yield d


@pytest.fixture
def dma(dev):
    dev.map(DMA_BASE, 0x10000, AxiDmaModel(dev, dma_description(dev, length_width=14)))
    return DMA(dma_description(dev, length_width=14))


def model_of(dev, base=DMA_BASE):
    return dev._decode(base)[0]


# 1 -------------------------------------------------------------------------
def test_device_can_be_made_active():
    before = pynq.Device.__dict__.get("_active_device")
    d = EmuDevice("emuX")
    with d.activate():
        assert pynq.Device.active_device is d
        assert pynq.MMIO(0, 4).device is d                 # default device of MMIO
        assert d.has_capability("REGISTER_RW") and not d.has_capability("MEMORY_MAPPED")
    assert pynq.Device.__dict__.get("_active_device") is before


# 2 -------------------------------------------------------------------------
def test_allocate_returns_pynqbuffer_with_physical_address(dev):
    a = pynq.allocate((4, 256), np.uint32)
    b = pynq.allocate(100, "u1")
    assert type(a) is PynqBuffer and a.shape == (4, 256) and a.dtype == np.uint32
    assert a.physical_address == a.device_address == 0x1000_0000
    assert b.physical_address == 0x1000_1000                # next 4 KiB page
    assert a[1].physical_address == 0x1000_0000 + 1024      # views keep offsets
    assert a.physical_address == 0x1000_0000                # stable
    hit, off = dev.memory.lookup(0x1000_0000 + 1030, 8)
    assert hit.handle == a.bo and off == 1030
    assert dev.memory.lookup(0x1000_0000 + 4090, 16) is None  # crosses the end
    assert dev.memory.lookup(0x0800_0000, 4) is None


def test_flush_and_invalidate_model_a_noncoherent_cache(dev):
    a = pynq.allocate(16, np.uint8)
    pa = a.physical_address
    a[:] = 7
    assert dev.dma_read(pa, 4) == b"\0\0\0\0"       # CPU write still "in cache"
    a.flush()
    assert dev.dma_read(pa, 4) == b"\7\7\7\7"
    dev.dma_write(pa + 8, b"\xAA\xBB")               # PL writes DDR
    assert a[8] == 7                                 # stale until invalidate
    a[8:].invalidate()                               # a view flushes/invalidates its range
    assert list(a[8:10]) == [0xAA, 0xBB]
    assert dev.memory.stats["flush"] == 1 and dev.memory.stats["invalidate"] == 1
    c = pynq.allocate(4, np.uint8, cacheable=False)  # coherent: no cache ops needed
    c[:] = 3
    assert c.coherent and dev.dma_read(c.physical_address, 4) == b"\3\3\3\3"


def test_freeing_releases_buffers(dev):
    mem = dev.memory
    a = pynq.allocate(1000, np.uint8)
    b = pynq.allocate(1000, np.uint8)
    assert mem.live_buffers == 2 and mem.live_bytes == 2000
    addr_a = a.physical_address
    a.freebuffer()
    assert mem.live_buffers == 1
    a.freebuffer()                                   # double free is harmless
    del a                                            # __del__ frees again: harmless
    with pynq.allocate(10, np.uint8) as c:
        assert c.physical_address == addr_a          # first-fit reuses the hole
        assert mem.live_buffers == 2
    assert mem.live_buffers == 1
    del b                                            # garbage collection frees too
    assert mem.live_buffers == 0
    assert mem.stats["allocated"] == mem.stats["freed"] == 3


# 3 -------------------------------------------------------------------------
class Adder(RegisterModel):
    """0x00 CTRL: write bit0 -> RESULT = A + B and set bit1 (done)."""

    def write(self, offset, value):
        super().write(offset, value)
        if offset == 0x00 and value & 1:
            self.regs[0x18] = (self.regs[0x10] + self.regs[0x14]) & 0xFFFFFFFF
            self.regs[0x00] = 0x2


def test_mmio_is_routed_to_register_models(dev):
    adder = dev.map(0x43C0_0000, 0x1000, Adder())
    other = dev.map(0x43C1_0000, 0x1000, RegisterModel(0x1000))
    m = pynq.MMIO(0x43C0_0000, 0x1000)
    m.write(0x10, 5)
    m.write(0x14, 7)
    m.write(0x00, 1)                                 # triggers behaviour
    assert m.read(0x18) == 12 and m.read(0x00) == 2
    assert m.array[0x18 // 4] == 12                  # .array goes through the model too
    m.array[0x10 // 4] = 40
    assert adder.regs[0x10] == 40
    m.write(0x20, bytes(range(8)))                   # bytes: split into 32-bit words
    assert adder.regs[0x20] == 0x03020100 and adder.regs[0x24] == 0x07060504
    assert m.read(0x20, 8) == 0x0706050403020100
    pynq.MMIO(0x43C1_0100, 16).write(4, 0xDEAD)      # base inside a region
    assert other.regs[0x104] == 0xDEAD and 0x104 not in adder.regs
    with pytest.raises(EmuBusError):
        pynq.MMIO(0x4000_0000, 4).read(0)


# 4 -------------------------------------------------------------------------
def test_real_dma_driver_loopback(dev, dma):
    model = model_of(dev)
    assert type(dma.sendchannel).__name__ == "_SDMAChannel"
    assert dma.buffer_max_size == (1 << 14) - 1
    assert model.ch["mm2s"].sr == 0 and model.ch["s2mm"].sr == 0   # started, not halted
    src = pynq.allocate(10000, np.uint8)
    dst = pynq.allocate(10000, np.uint8)
    src[:] = np.random.default_rng(1).integers(0, 256, 10000, dtype=np.uint8)
    dma.recvchannel.transfer(dst)                    # receive first: waits for data
    assert not dma.recvchannel.idle
    dma.sendchannel.transfer(src)
    dma.sendchannel.wait()
    dma.recvchannel.wait()
    assert np.array_equal(src, dst)                  # byte-identical
    assert dma.sendchannel.transferred == dma.recvchannel.transferred == 10000
    assert model.read(0x18) == src.physical_address  # MM2S_SA
    assert model.read(0x48) == dst.physical_address  # S2MM_DA
    assert model.ch["s2mm"].sr == IDLE | IOC_IRQ
    # second transfer (pynq now requires idle), partial, with start/nbytes
    dst[:] = 0                                       # CPU cache only, never flushed
    dma.sendchannel.transfer(src, start=64, nbytes=128)
    dma.recvchannel.transfer(dst)
    dma.sendchannel.wait()
    dma.recvchannel.wait()
    assert dma.recvchannel.transferred == 128        # S2MM_LENGTH = bytes received
    assert np.array_equal(dst[:128], src[64:192])
    # wait() invalidated the whole buffer: the unflushed zeros are gone and
    # DDR's bytes from the first transfer are back (as on a real Zynq)
    assert np.array_equal(dst[128:], src[128:])
    with pytest.raises(ValueError):                  # pynq checks 2**14-1 itself
        dma.sendchannel.transfer(src, nbytes=20000)


def test_leak_counter_and_pynq_version_difference(dev, dma):
    src = pynq.allocate(64, np.uint8)
    dst = pynq.allocate(64, np.uint8)
    dma.sendchannel.transfer(src)
    dma.recvchannel.transfer(dst)
    dma.sendchannel.wait()
    dma.recvchannel.wait()
    del src, dst
    if PYNQ_VERSION >= (3, 1):
        assert dev.memory.live_buffers == 0
    else:   # pynq 3.0.1's wait() keeps channel._active_buffer: the buffers stay alive
        assert dev.memory.live_buffers == 2
        dma.sendchannel._active_buffer.freebuffer()
        dma.recvchannel._active_buffer.freebuffer()
        assert dev.memory.live_buffers == 0


def test_dma_description_requirements(dev):
    dev.map(DMA_BASE, 0x10000, AxiDmaModel(dev))
    d = dma_description(dev)
    with pytest.raises(RuntimeError, match="old DMA driver"):   # exactly dict/ReprDict
        DMA(collections.OrderedDict(d))
    with pytest.raises(KeyError):                                # 'interrupts' required
        DMA({k: v for k, v in d.items() if k != "interrupts"})
    no_dev = {k: v for k, v in d.items() if k != "device"}
    if PYNQ_VERSION >= (3, 1):
        with pytest.raises(RuntimeError, match="Device not specified"):
            DMA(no_dev)
    else:
        assert DMA(no_dev).mmio.device is dev                    # falls back to active device


# 5 -------------------------------------------------------------------------
def test_pynq_wait_has_no_timeout_and_spins(dev, dma):
    assert list(inspect.signature(type(dma.recvchannel).wait).parameters) == ["self"]
    model = model_of(dev)
    model.ch["s2mm"].fault = "hang"
    src = pynq.allocate(256, np.uint8)
    dst = pynq.allocate(256, np.uint8)
    src[:] = np.arange(256)
    dma.sendchannel.transfer(src)
    dma.recvchannel.transfer(dst)
    dma.sendchannel.wait()
    t = threading.Thread(target=dma.recvchannel.wait, daemon=True)
    reads0 = dev.stats["reads"]
    t.start()
    t.join(0.3)
    assert t.is_alive()                              # still spinning ...
    assert dev.stats["reads"] - reads0 > 100         # ... busy-polling DMASR, no sleep
    model.ch["s2mm"].fault = None                    # release it
    t.join(5)
    assert not t.is_alive() and np.array_equal(src, dst)


def test_wait_with_timeout_and_recovery(dev, dma):
    model = model_of(dev)
    model.ch["mm2s"].fault = "hang"
    src = pynq.allocate(256, np.uint8)
    dma.sendchannel.transfer(src)
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        wait_dma(dma, "send", timeout_s=0.05)
    assert time.monotonic() - t0 < 1
    with pytest.raises(RuntimeError, match="not idle"):
        dma.sendchannel.transfer(src)                # pynq refuses: channel busy
    # the interrupt-driven wait is no way out without an interrupt line in the .hwh
    with pytest.raises(AttributeError):
        asyncio.run(asyncio.wait_for(dma.sendchannel.wait_async(), 0.1))
    model.ch["mm2s"].fault = None
    reset_dma(dma)
    assert model.ch["mm2s"].sr == 0
    dst = pynq.allocate(256, np.uint8)
    src[:] = 9
    dma.sendchannel.transfer(src)
    dma.recvchannel.transfer(dst)
    assert wait_dma(dma, "send", 1.0) == 256
    assert wait_dma(dma, "recv", 1.0) == 256 and (dst == 9).all()


def test_error_bits(dev, dma):
    model = model_of(dev)
    src = pynq.allocate(256, np.uint8)
    # a) error reported while pynq's wait() is polling: its own message
    model.ch["mm2s"].fault, model.ch["mm2s"].latency = "slave", 5
    dma.sendchannel.transfer(src)
    with pytest.raises(RuntimeError, match="DMA Slave Error"):
        dma.sendchannel.wait()
    assert model.ch["mm2s"].sr & (DMA_SLV_ERR | HALTED) == DMA_SLV_ERR | HALTED
    # errors are sticky: RS=1 does not restart the channel (pynq's start() would spin)
    dma.write(0x00, 0x1)
    assert dma.read(0x04) & HALTED
    model.ch["mm2s"].fault, model.ch["mm2s"].latency = None, 0
    reset_dma(dma)
    # b) error before wait() is called: the core has halted, pynq's message misleads
    model.ch["mm2s"].fault = "slave"
    dma.sendchannel.transfer(src)
    with pytest.raises(RuntimeError, match="not started"):
        dma.sendchannel.wait()
    with pytest.raises(DmaError, match="DMASlvErr"):
        wait_dma(dma, "send", 1.0)                   # decodes DMASR itself
    model.ch["mm2s"].fault = None
    reset_dma(dma)
    # c) zero-length transfer -> DMAIntErr (PG021)
    dma.sendchannel.transfer(pynq.allocate(0, np.uint8))
    with pytest.raises(DmaError, match="DMAIntErr"):
        wait_dma(dma, "send", 1.0)
    reset_dma(dma)
    # d) transfer running past the buffer (pynq does not check) -> DMADecErr
    dma.sendchannel.transfer(src, nbytes=src.nbytes + 64)
    with pytest.raises(DmaError, match="DMADecErr"):
        wait_dma(dma, "send", 1.0)
    # e) S2MM packet longer than LENGTH -> DMAIntErr
    reset_dma(dma)
    small = pynq.allocate(16, np.uint8)
    dma.sendchannel.transfer(src)
    dma.recvchannel.transfer(small)
    wait_dma(dma, "send", 1.0)
    with pytest.raises(DmaError, match="DMAIntErr"):
        wait_dma(dma, "recv", 1.0)


# 6 -------------------------------------------------------------------------
class AddEngine(RegisterModel):
    """Toy msp_engine: CTRL 0x00 (bit0 start, bit1 done, bit2 idle), ID 0x08,
    ADD 0x10. When started, takes one packet from ``inp``, adds ADD to each
    byte and pushes the result to ``out``."""
    ID = 0x4D535031

    def __init__(self, device=None, description=None):
        super().__init__()
        self.inp = self.out = None
        self.busy = self.done = False

    def read(self, offset):
        if offset == 0x00:
            return int(self.busy) | int(self.done) << 1 | int(not self.busy) << 2
        return self.ID if offset == 0x08 else super().read(offset)

    def write(self, offset, value):
        if offset == 0x00:
            if value & 1 and not self.busy:
                self.busy, self.done = True, False
        else:
            super().write(offset, value)

    def tick(self, new_cycle):
        if not (self.busy and self.inp is not None and len(self.inp)):
            return False
        x = np.frombuffer(self.inp.pop(), np.uint8)
        self.out.push((x + np.uint8(self.regs[0x10] & 0xFF)).tobytes())
        self.busy, self.done = False, True
        return True


def wire(device, models):
    """The AXI4-Stream connections of the block design."""
    dma, eng = models["axi_dma_0"], models["msp_engine_0"]
    dma.mm2s = eng.inp = AxisFifo()
    dma.s2mm = eng.out = AxisFifo()


@pytest.fixture
def engine_driver():
    class MspEngine(pynq.DefaultIP):
        bindto = ["vendor:user:msp_engine:1.0"]

        def start(self, add):
            self.register_map.ADD = add
            self.write(0x00, 1)

        @property
        def done(self):
            return bool(self.read(0x00) & 2)

    yield MspEngine
    MspEngine.unregister()


def test_overlay_from_our_own_hwh(tmp_path, engine_driver):
    (tmp_path / "msp.hwh").write_text(make_hwh(ip_registers={"CTRL": 0, "ID": 8, "ADD": 0x10}))
    (tmp_path / "msp.bit").write_bytes(b"\0" * 64)   # never parsed by EmuDevice
    dev = EmuDevice(model_factories={"vendor:user:msp_engine:1.0": AddEngine}, on_download=wire)
    with dev.activate():
        ol = pynq.Overlay(str(tmp_path / "msp.bit"))
        assert ol.is_loaded() and dev.stats["downloads"] == 1
        assert set(ol.ip_dict) == {"axi_dma_0", "msp_engine_0", "processing_system7_0"}
        assert ol.ip_dict["axi_dma_0"]["phys_addr"] == 0x40400000
        assert ol.ip_dict["axi_dma_0"]["parameters"]["c_sg_length_width"] == "14"
        assert type(ol.axi_dma_0) is DMA
        assert type(ol.msp_engine_0) is engine_driver
        assert isinstance(dev.models["axi_dma_0"], AxiDmaModel)
        assert dev.models["axi_dma_0"].length_mask == 0x3FFF
        assert dev.pl_clocks[0]["enable"] == 1 and dev.pl_clocks[0]["divisor0"] == 5
        eng, dma = ol.msp_engine_0, ol.axi_dma_0
        assert eng.read(0x08) == AddEngine.ID
        src = pynq.allocate(1000, np.uint8)
        dst = pynq.allocate(1000, np.uint8)
        src[:] = np.arange(1000) % 256
        eng.start(add=3)
        assert not eng.done
        dma.sendchannel.transfer(src)
        dma.recvchannel.transfer(dst)
        assert wait_dma(dma, "send", 1.0) == 1000
        assert wait_dma(dma, "recv", 1.0) == 1000
        assert eng.done and int(eng.register_map.ADD) == 3
        assert np.array_equal(dst, (src + 3) & 0xFF)
