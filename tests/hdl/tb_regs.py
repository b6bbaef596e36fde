"""cocotb testbench of msp_regs (the AXI4-Lite register block) against docs/registers.md, through
cocotbext-axi's AXI4-Lite master. Offsets, masks and the generics come from the Python side
(msp_pynq.engine.registers, the board profile), the same values the driver uses."""
import random

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster

from msp_pynq.boards.profiles import get_profile
from msp_pynq.engine.registers import DESCRIPTOR_MASKS, DESCRIPTOR_REGS, Reg

from msp_pynq.hw.testbench.tb_common import reset, start_clock


async def _setup(dut) -> AxiLiteMaster:
    start_clock(dut, ("busy", "done_set", "error_set", "error_code", "error_packet", "error_info", "packets",
                      "cycles"))
    master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi"), dut.aclk, dut.aresetn, reset_active_level=False)
    await reset(dut, 4)
    return master


async def _pulse(dut, name: str) -> None:
    getattr(dut, name).value = 1
    await RisingEdge(dut.aclk)
    getattr(dut, name).value = 0
    await RisingEdge(dut.aclk)


class _Counter:
    """Counts the cycles a one-cycle output pulse is high."""

    def __init__(self, dut, name: str) -> None:
        self.n = 0
        cocotb.start_soon(self._watch(dut, getattr(dut, name)))

    async def _watch(self, dut, signal) -> None:
        while True:
            await RisingEdge(dut.aclk)
            self.n += int(signal.value)


@cocotb.test()
async def identity_and_geometry(dut):
    m = await _setup(dut)
    p = get_profile("pynq-z2")
    want = {Reg.ID: 0x4D535045, Reg.VERSION: 0x00010000, Reg.VECTOR_WIDTH: p.geometry.vector_width,
            Reg.LUT_ROWS: p.geometry.lut_rows, Reg.DSP_ROWS: p.geometry.dsp_rows, Reg.ACT_BUF_KIB: p.geometry.act_buffer_kib, Reg.WGT_BUF_KIB: p.geometry.weight_buffer_kib,
            Reg.FINGERPRINT: int(p.fingerprint[:8], 16), Reg.CLOCK_KHZ: int(p.clock_mhz * 1000)}
    for reg, value in want.items():
        assert await m.read_dword(reg) == value, reg.name
        await m.write_dword(reg, 0x12345678)                        # RO: writes ignored
        assert await m.read_dword(reg) == value, reg.name
    for offset in (0x024, 0x058, 0x0FC, 0x140, 0xFFC):              # unlisted: read 0, writes ignored
        await m.write_dword(offset, 0xFFFFFFFF)
        assert await m.read_dword(offset) == 0, hex(offset)


@cocotb.test()
async def descriptor_registers_keep_their_fields(dut):
    m = await _setup(dut)
    rng = random.Random(7)
    for reg in DESCRIPTOR_REGS:
        await m.write_dword(reg, 0xFFFFFFFF)
        assert await m.read_dword(reg) == DESCRIPTOR_MASKS[reg], reg.name
    values = {reg: rng.getrandbits(32) for reg in DESCRIPTOR_REGS}
    for reg, value in values.items():
        await m.write_dword(reg, value)
    desc = dut.desc.value.to_unsigned()
    for i, reg in enumerate(DESCRIPTOR_REGS):
        want = values[reg] & DESCRIPTOR_MASKS[reg]
        assert await m.read_dword(reg) == want, reg.name
        assert (desc >> (32 * i)) & 0xFFFFFFFF == want, f"desc output of {reg.name}"


@cocotb.test()
async def control_status_irq_and_soft_reset(dut):
    m = await _setup(dut)
    starts, resets = _Counter(dut, "start"), _Counter(dut, "soft_reset")
    await m.write_dword(Reg.CONTROL, 0x1 | 0x4)                     # START, IRQ_ENABLE
    await ClockCycles(dut.aclk, 2)
    assert (starts.n, resets.n) == (1, 0)
    assert await m.read_dword(Reg.CONTROL) == 0x4                   # START reads 0
    dut.busy.value, dut.packets.value, dut.cycles.value = 1, 2, (5 << 32) | 1234
    await RisingEdge(dut.aclk)
    assert await m.read_dword(Reg.STATUS) == 0x1 | (2 << 16)
    await m.write_dword(Reg.CONTROL, 0x1 | 0x4)                     # ignored while BUSY
    dut.busy.value = 0
    await _pulse(dut, "done_set")
    assert starts.n == 1
    assert await m.read_dword(Reg.STATUS) == 0x2 | (2 << 16)
    assert (await m.read_dword(Reg.CYCLES_LO), await m.read_dword(Reg.CYCLES_HI)) == (1234, 5)
    assert await m.read_dword(Reg.IRQ_STATUS) == 0x1 and dut.irq.value == 1
    await m.write_dword(Reg.IRQ_STATUS, 0x1)                        # W1C
    assert await m.read_dword(Reg.IRQ_STATUS) == 0 and dut.irq.value == 0
    # an error: code, packet and info latched; ERROR sticky, START ignored until soft reset
    dut.error_code.value, dut.error_packet.value, dut.error_info.value = 3, 1, 0xDEADBEEF
    await _pulse(dut, "error_set")
    assert await m.read_dword(Reg.STATUS) == 0x4 | (3 << 8) | (1 << 12) | (2 << 16)
    assert await m.read_dword(Reg.ERROR_INFO) == 0xDEADBEEF
    await m.write_dword(Reg.CONTROL, 0x1)
    await ClockCycles(dut.aclk, 2)
    assert starts.n == 1
    await m.write_dword(Reg.CONTROL, 0x3)                           # SOFT_RESET wins over START
    await ClockCycles(dut.aclk, 2)
    assert (starts.n, resets.n) == (1, 1)
    dut.packets.value = 0
    assert await m.read_dword(Reg.STATUS) == 0
    assert await m.read_dword(Reg.ERROR_INFO) == 0 and await m.read_dword(Reg.IRQ_STATUS) == 0
    await m.write_dword(Reg.CONTROL, 0x1)
    await ClockCycles(dut.aclk, 2)
    assert starts.n == 2
