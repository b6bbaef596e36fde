"""cocotb testbench of msp_stream_rx: MM2S packets through cocotbext-axi's AXI4-Stream source."""
import random

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSource

from msp_pynq.hw.testbench.tb_common import reset, start_clock


class _Sink:
    """Collects the buffer writes and the done / len_error pulses."""

    def __init__(self, dut) -> None:
        self.mem, self.done, self.errors = {}, [], []
        cocotb.start_soon(self._watch(dut))

    async def _watch(self, dut) -> None:
        while True:
            await RisingEdge(dut.aclk)
            if dut.wr_en.value:
                addr, data, keep = int(dut.wr_addr.value), int(dut.wr_data.value), int(dut.wr_keep.value)
                for lane in range(8):
                    if keep >> lane & 1:
                        self.mem[addr + lane] = data >> (8 * lane) & 0xFF
            if dut.done.value:
                self.done.append(int(dut.got_bytes.value))
            if dut.len_error.value:
                self.errors.append(int(dut.got_bytes.value))


async def _setup(dut):
    start_clock(dut, ("arm", "flush", "hold", "expect_bytes"))
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.aclk, dut.aresetn,
                             reset_active_level=False)
    await reset(dut)
    return source, _Sink(dut)


async def _packet(dut, source, sink, expect: int, payload: bytes) -> None:
    """Arm for ``expect`` bytes, send ``payload`` as one packet, wait until the receiver answers."""
    before = len(sink.done) + len(sink.errors)
    dut.expect_bytes.value, dut.arm.value = expect, 1
    await RisingEdge(dut.aclk)
    dut.arm.value = 0
    await source.send(AxiStreamFrame(payload))
    for _ in range(len(payload) // 8 + 50):
        await RisingEdge(dut.aclk)
        if len(sink.done) + len(sink.errors) > before and source.empty() and source.idle():
            break
    await ClockCycles(dut.aclk, 3)


@cocotb.test()
async def packets_arrive_whole_or_are_refused(dut):
    source, sink = await _setup(dut)
    rng = random.Random(9)
    for size in (1, 7, 8, 9, 64, 1001):
        payload = bytes(rng.getrandbits(8) for _ in range(size))
        sink.mem.clear()
        await _packet(dut, source, sink, size, payload)
        assert sink.done[-1] == size and not sink.errors, (size, sink.done, sink.errors)
        assert bytes(sink.mem[i] for i in range(size)) == payload and len(sink.mem) == size
    await _packet(dut, source, sink, 100, bytes(60))                   # short: TLAST early
    assert sink.errors == [60]
    await _packet(dut, source, sink, 20, bytes(50))                    # long: past the count
    assert sink.errors == [60, 24]                                     # the beat that overran
    done = len(sink.done)
    payload = bytes(range(40))                                         # the stream is usable again
    sink.mem.clear()
    await _packet(dut, source, sink, 40, payload)
    assert len(sink.done) == done + 1 and bytes(sink.mem[i] for i in range(40)) == payload


@cocotb.test()
async def soft_reset_after_dma_reset_takes_the_next_packet(dut):
    """The documented recovery (docs/registers.md 4): the DMA's reset aborts the packet mid-way (no
    tail, no TLAST follows), then the soft reset: the next armed packet must arrive whole."""
    source, sink = await _setup(dut)
    dut.expect_bytes.value, dut.arm.value = 256, 1
    await RisingEdge(dut.aclk)
    dut.arm.value = 0
    await source.send(AxiStreamFrame(bytes(range(256))))
    await ClockCycles(dut.aclk, 6)                                     # a few beats in
    source._handle_reset(True)                                         # the DMA's reset: the packet stops
    source._handle_reset(False)
    await ClockCycles(dut.aclk, 2)
    dut.flush.value = 1
    await RisingEdge(dut.aclk)
    dut.flush.value = 0
    await ClockCycles(dut.aclk, 4)
    assert not sink.done and not sink.errors
    payload = bytes(range(100, 140))
    sink.mem.clear()
    await _packet(dut, source, sink, 40, payload)
    assert sink.done == [40] and not sink.errors, (sink.done, sink.errors)
    assert bytes(sink.mem[i] for i in range(40)) == payload
