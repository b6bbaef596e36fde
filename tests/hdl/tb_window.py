"""cocotb testbench of msp_window_gen.

- The windows it forms, multiplied by the weights in the same order, give the emulator's
  convolution accumulators (msp_pynq.emulator.reference).
- Cycle by cycle, every output equals a Python model of the walk (``Walk``: the tap address
  (y * IN_W + x) * GROUPS + group computed outright, as the multiply-per-step walk did, and
  ``Model``: the module's cycle behaviour, SETUP_CYCLES after start, stalls, done), over random
  geometries: rectangular images, 1x1 / 3x3 / other kernels, strides 1-2, padding 0-2, several
  passes, pooling (max and global average), linear layers, images wide enough that the address
  wraps ADDR_W bits; with stalls at random cycles, starts while busy (ignored) and the geometry
  inputs scrambled while busy (it must be latched at start)."""
import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

from msp_pynq.emulator import Conv2d, Network
from msp_pynq.engine.cycles import WINDOW_SETUP_CYCLES as SETUP_CYCLES   # the module's localparam
from msp_pynq.numerics.activations import U4

VW = 4
GEOMETRY = ("in_h", "in_w", "groups", "kh", "kw", "sh", "sw", "pad_top", "pad_left", "out_h", "out_w",
            "passes", "pool")
WIDTHS = {"in_h": 16, "in_w": 16, "groups": 12, "kh": 16, "kw": 16, "sh": 8, "sw": 8, "pad_top": 8,
          "pad_left": 8, "out_h": 16, "out_w": 16, "passes": 16, "pool": 1}


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


async def _reset(dut) -> None:
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value, dut.start.value, dut.stall.value = 1, 0, 0
    for name in GEOMETRY:
        getattr(dut, name).value = 0
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


@cocotb.test()
async def windows_reproduce_the_emulator_convolution(dut):
    await _reset(dut)
    rng = np.random.default_rng(12)
    for geometry in [(5, 5, 3, 3, 3, (1, 1), (1, 1, 1, 1)),     # first-layer shape: C < VW
                     (6, 7, 8, 3, 3, (2, 2), (1, 1, 1, 1)),     # stride 2
                     (6, 6, 5, 3, 3, (2, 2), (1, 0, 1, 1)),     # asymmetric padding
                     (4, 4, 9, 1, 1, (1, 1), (0, 0, 0, 0)),     # 1x1 (a shortcut projection)
                     (1, 1, 12, 1, 1, (1, 1), (0, 0, 0, 0))]:   # a linear layer
        h, w, c, kh, kw, stride, pad = geometry
        await _run(dut, rng, h, w, c, kh, kw, stride, pad)


def walk(geo: dict, addr_w: int, waddr_w: int) -> list:
    """The steps of one walk, in order: (addr, waddr, pass, pad, first, last), each computed
    outright from (oy, ox, pass, i, j, g) as the multiply-per-step module did."""
    h, w, ng = geo["in_h"], geo["in_w"], geo["groups"]
    kh, kw, sh, sw, pt, pl = geo["kh"], geo["kw"], geo["sh"], geo["sw"], geo["pad_top"], geo["pad_left"]
    pool, n_g = geo["pool"], (1 if geo["pool"] else geo["groups"])
    steps = []
    for oy in range(geo["out_h"]):
        for ox in range(geo["out_w"]):
            wcount = 0
            for p in range(geo["passes"]):
                for i in range(kh):
                    for j in range(kw):
                        for g in range(n_g):
                            y, x = oy * sh - pt + i, ox * sw - pl + j
                            outside = y < 0 or x < 0 or y >= h or x >= w
                            group = (p & 0xFFF) if pool else g
                            addr = 0 if outside else ((y * w + x) * ng + group) % (1 << addr_w)
                            steps.append((addr, wcount % (1 << waddr_w), p, int(outside),
                                          int(i == 0 and j == 0 and g == 0),
                                          int(i == kh - 1 and j == kw - 1 and g == n_g - 1)))
                            wcount += 1
    return steps


class Model:
    """The module's registers, edge by edge: idle; start latches a walk; SETUP_CYCLES edges of
    setup (no step, stall ignored); then one step an edge unless stalled; done one edge after
    the final step (unless a start takes that edge)."""

    def __init__(self):
        self.steps, self.k, self.setup, self.busy = [], 0, 0, False
        self.valid = self.done = 0
        self.out = None                     # the last emitted step's outputs (held while not valid)

    @property
    def running(self) -> bool:
        return self.busy and self.setup == 0

    @property
    def next_first(self) -> int:
        return int(self.running and self.steps[self.k][4])

    def edge(self, start: int, stall: int, steps_of_start) -> bool:
        """One rising edge; returns whether a start was taken."""
        self.done = 0
        if start and not self.busy:
            self.steps, self.k, self.setup, self.busy, self.valid = steps_of_start(), 0, SETUP_CYCLES, True, 0
            return True
        if self.busy and self.setup:
            self.setup -= 1
            self.valid = 0
        elif self.running and stall:
            self.valid = 0
        elif self.running:
            self.valid, self.out = 1, self.steps[self.k]
            self.k += 1
            if self.k == len(self.steps):
                self.busy = False
        elif self.valid:
            self.valid, self.done = 0, 1
        return False


def random_geometry(rng, kind: str) -> dict:
    """A layer's window geometry (the engine's: out_h/out_w from the padding and strides)."""
    while True:
        h, w = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        ng = int(rng.integers(1, 4))
        sh, sw = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        pt, pl, pb, pr = (int(v) for v in rng.integers(0, 3, 4))
        if kind == "conv":
            kh, kw = [(1, 1), (3, 3), (3, 3), (1, 3), (3, 1), (2, 2)][int(rng.integers(0, 6))]
            passes, pool = int(rng.integers(1, 4)), 0
        elif kind == "maxpool":
            kh = kw = int(rng.integers(2, 4))
            pt, pl, pb, pr = (min(v, 1) for v in (pt, pl, pb, pr))
            passes, pool = ng, 1
        elif kind == "gap":
            kh, kw, sh, sw, pt, pl, pb, pr, passes, pool = h, w, 1, 1, 0, 0, 0, 0, ng, 1
        else:                                                           # linear: 1x1 over 1x1
            h = w = kh = kw = sh = sw = 1
            pt = pl = pb = pr = 0
            ng, passes, pool = int(rng.integers(1, 13)), int(rng.integers(1, 4)), 0
        ho, wo = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
        if ho >= 1 and wo >= 1:
            return dict(in_h=h, in_w=w, groups=ng, kh=kh, kw=kw, sh=sh, sw=sw, pad_top=pt, pad_left=pl,
                        out_h=ho, out_w=wo, passes=passes, pool=pool)


def wide_geometries() -> list:
    """Images wider than the address space: (y * IN_W + x) * GROUPS wraps ADDR_W bits (14)."""
    return [dict(in_h=2, in_w=5000, groups=3, kh=1, kw=1, sh=1, sw=200, pad_top=0, pad_left=0,
                 out_h=2, out_w=25, passes=1, pool=0),
            dict(in_h=3, in_w=3000, groups=2, kh=3, kw=3, sh=2, sw=150, pad_top=1, pad_left=2,
                 out_h=2, out_w=21, passes=2, pool=0),
            dict(in_h=2, in_w=4100, groups=4, kh=2, kw=2, sh=1, sw=255, pad_top=1, pad_left=1,
                 out_h=2, out_w=17, passes=4, pool=1)]


@cocotb.test()
async def every_output_matches_the_walk_cycle_by_cycle(dut):
    await _reset(dut)
    addr_w, waddr_w = len(dut.addr), len(dut.waddr)
    assert int(dut.SETUP_CYCLES.value) == SETUP_CYCLES, "the first step's cycle after start moved"
    rng = np.random.default_rng(2026)
    kinds = ["conv"] * 30 + ["maxpool"] * 8 + ["gap"] * 5 + ["linear"] * 8
    rng.shuffle(kinds)
    layers = [random_geometry(rng, kind) for kind in kinds] + wide_geometries()
    model, cycles, emitted, stalled = Model(), 0, 0, 0
    for n, geo in enumerate(layers):
        p_stall = [0.0, 0.1, 0.4][n % 3]
        want_steps = walk(geo, addr_w, waddr_w)
        gap = int(rng.integers(0, 3))
        started = False
        for _ in range(20 * len(want_steps) + 100):
            await FallingEdge(dut.clk)
            if model.busy:                              # latched at start: scramble the inputs
                for name in GEOMETRY:
                    getattr(dut, name).value = int(rng.integers(0, 1 << WIDTHS[name]))
            elif not started and gap == 0:
                for name in GEOMETRY:
                    getattr(dut, name).value = geo[name]
            start = int((not started and not model.busy and gap == 0)      # this walk's start
                        or (model.busy and rng.random() < 0.05))            # ignored while busy
            if not model.busy and not started:
                gap -= 1
            stall = int(rng.random() < p_stall)
            dut.start.value, dut.stall.value = start, stall
            await RisingEdge(dut.clk)
            started |= model.edge(start, stall, lambda: want_steps)
            await ReadOnly()
            cycles += 1
            where = f"layer {n} {geo} cycle {cycles}, step {model.k} of {len(model.steps)}"
            assert int(dut.valid.value) == model.valid, where
            assert int(dut.done.value) == model.done, where
            assert int(dut.next_first.value) == model.next_first, where
            if model.out is not None:
                got = tuple(int(getattr(dut, s).value)
                            for s in ("addr", "waddr", "pass", "pad", "first", "last"))
                assert got == model.out, f"{where}: got {got}, want {model.out}"
            emitted += model.valid
            stalled += int(model.running and stall)
            # the next walk may start in the final step's cycle (then no done) or after done
            if started and not model.busy and (not model.valid or rng.random() < 0.3):
                break
        else:
            raise AssertionError(f"layer {n} {geo}: the walk did not end")
        assert model.k == len(want_steps)
    dut._log.info(f"{len(layers)} walks, {emitted} steps, {stalled} stalled cycles, {cycles} cycles")
