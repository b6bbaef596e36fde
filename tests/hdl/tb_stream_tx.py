"""cocotb testbench of msp_stream_tx: output bytes to S2MM packets, read by cocotbext-axi's
AXI4-Stream sink under random backpressure, with a producer of random chunk sizes."""
import random

import cocotb
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamSink

from msp_pynq.hw.testbench.tb_common import reset, start_clock


async def _produce(dut, payload: bytes, rng: random.Random) -> None:
    pos = 0
    while pos < len(payload):
        n = min(rng.randint(1, 8), len(payload) - pos)
        if rng.random() < 0.2:                                   # the producer pauses at times
            dut.in_valid.value = 0
            await RisingEdge(dut.aclk)
            continue
        dut.in_valid.value = 1
        dut.in_data.value = int.from_bytes(payload[pos:pos + n] + bytes(rng.getrandbits(8) for _ in range(8 - n)),
                                           "little")             # lanes above n hold junk
        dut.in_nbytes.value = n
        await ReadOnly()                                         # in_ready as the edge will see it
        accepted = bool(dut.in_ready.value)
        await RisingEdge(dut.aclk)
        if accepted:
            pos += n
    dut.in_valid.value = 0


class _Beats:
    """Every accepted beat's (TKEEP, TLAST)."""

    def __init__(self, dut) -> None:
        self.seen = []
        cocotb.start_soon(self._watch(dut))

    async def _watch(self, dut) -> None:
        while True:
            await RisingEdge(dut.aclk)
            if dut.m_axis_tvalid.value and dut.m_axis_tready.value:
                self.seen.append((int(dut.m_axis_tkeep.value), int(dut.m_axis_tlast.value)))


@cocotb.test()
async def packets_follow_the_stream_protocol(dut):
    start_clock(dut, ("flush", "start", "total_bytes", "in_valid", "in_data", "in_nbytes"))
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.aclk, dut.aresetn, reset_active_level=False)
    await reset(dut)
    rng = random.Random(11)
    beats = _Beats(dut)
    for size in (1, 5, 8, 9, 16, 17, 100, 1003):
        sink.set_pause_generator(iter(lambda: rng.random() < 0.3, None))   # random backpressure
        payload = bytes(rng.getrandbits(8) for _ in range(size))
        beats.seen.clear()
        dut.total_bytes.value, dut.start.value = size, 1
        await RisingEdge(dut.aclk)
        dut.start.value = 0
        await _produce(dut, payload, rng)
        frame = await sink.recv()
        assert bytes(frame.tdata) == payload, f"{size} bytes: packet differs"
        keeps = [k for k, _ in beats.seen]
        last = size % 8 or 8
        assert keeps == [0xFF] * ((size - 1) // 8) + [(1 << last) - 1], (size, keeps)
        assert [t for _, t in beats.seen] == [0] * (len(keeps) - 1) + [1]
        await ClockCycles(dut.aclk, 2)
