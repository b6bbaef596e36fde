"""cocotb testbench of msp_window_gen: the windows it forms, multiplied by the weights in the
same order, give the emulator's convolution accumulators (msp_pynq.emulator.reference)."""
import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from msp_pynq.emulator import Conv2d, Network
from msp_pynq.numerics.activations import U4

VW = 4


async def _run(dut, rng, h, w, c, kh, kw, stride, pad) -> None:
    groups = -(-c // VW)
    pt, pl, pb, pr = pad
    ho, wo = (h + pt + pb - kh) // stride[0] + 1, (w + pl + pr - kw) // stride[1] + 1
    image = rng.integers(0, 16, (h, w, c))
    weights = rng.integers(-127, 128, (3, kh, kw, c)).astype(np.int8)
    words = np.zeros((h, w, groups * VW), np.int64)               # channels padded to whole words
    words[..., :c] = image
    words = words.reshape(h * w * groups, VW)
    wpad = np.zeros((3, kh, kw, groups * VW), np.int64)
    wpad[..., :c] = weights
    wpad = wpad.reshape(3, kh * kw * groups, VW)                  # step s of a window: wpad[:, s]
    conv = Conv2d(name="conv", weights=weights, schemes=[1, 1, 1], stride=stride, padding=pad,
                  in_spec=U4, out_spec=None)
    want = Network([conv]).run(image[None].astype(np.uint8))[0].astype(np.int64)   # [Ho, Wo, 3]

    for name, value in (("in_h", h), ("in_w", w), ("groups", groups), ("kh", kh), ("kw", kw),
                        ("sh", stride[0]), ("sw", stride[1]), ("pad_top", pt), ("pad_left", pl),
                        ("out_h", ho), ("out_w", wo), ("passes", 1), ("pool", 0)):
        getattr(dut, name).value = value
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    got, acc, step = [], np.zeros(3, np.int64), 0
    for _ in range(ho * wo * kh * kw * groups + 20):
        await ReadOnly()
        if dut.done.value:
            break
        if dut.valid.value:
            if dut.first.value:
                acc[:], step = 0, 0
            vec = np.zeros(VW, np.int64) if dut.pad.value else words[int(dut.addr.value)]
            acc += wpad[:, step] @ vec
            step += 1
            if dut.last.value:
                assert step == kh * kw * groups, f"a window of {step} steps"
                got.append(acc.copy())
        await RisingEdge(dut.clk)
    else:
        raise AssertionError("no done")
    assert np.array_equal(np.array(got).reshape(ho, wo, 3), want), (h, w, c, kh, kw, stride, pad)
    await RisingEdge(dut.clk)


@cocotb.test()
async def windows_reproduce_the_emulator_convolution(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value, dut.start.value, dut.stall.value = 1, 0, 0
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    rng = np.random.default_rng(12)
    for geometry in [(5, 5, 3, 3, 3, (1, 1), (1, 1, 1, 1)),     # first-layer shape: C < VW
                     (6, 7, 8, 3, 3, (2, 2), (1, 1, 1, 1)),     # stride 2
                     (6, 6, 5, 3, 3, (2, 2), (1, 0, 1, 1)),     # asymmetric padding
                     (4, 4, 9, 1, 1, (1, 1), (0, 0, 0, 0)),     # 1x1 (a shortcut projection)
                     (1, 1, 12, 1, 1, (1, 1), (0, 0, 0, 0))]:   # a linear layer
        h, w, c, kh, kw, stride, pad = geometry
        await _run(dut, rng, h, w, c, kh, kw, stride, pad)
