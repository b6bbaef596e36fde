"""cocotb testbench of msp_act_writer: packets of random geometry (pixel sizes around 1, 3, VW,
VW + 1, ..., images that end mid-beat), random TVALID gaps and random delays before `resume`;
every byte written to the buffer is compared with the layout of docs/design/engine.md (pixel p,
channel c at word p * groups + c // VW, byte c % VW), word by word, image by image, and the
BAD_DATA check with the first out-of-range byte's index. Also: a dense stream at one beat per
cycle (the registered in_ready keeps the pace)."""
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge


def expected_image(img: bytes, pix: int, vw: int) -> "dict[tuple[int, int], int]":
    """(word, byte) -> value for one image in the buffer."""
    groups = -(-pix // vw)
    return {((j // pix) * groups + (j % pix) // vw, (j % pix) % vw): v for j, v in enumerate(img)}


async def start(dut, pix: int, img: int, max_byte: int) -> None:
    dut.pix_bytes.value, dut.img_bytes.value, dut.max_byte.value = pix, img, max_byte
    await ClockCycles(dut.clk, 2)               # the geometry is set two cycles before start
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0


async def send(dut, packet: bytes, rng: random.Random, gaps: float) -> None:
    beats = [packet[i:i + 8] for i in range(0, len(packet), 8)]
    for beat in beats:
        while gaps and rng.random() < gaps:
            dut.in_valid.value = 0
            await RisingEdge(dut.clk)
        dut.in_valid.value = 1
        dut.in_data.value = int.from_bytes(beat.ljust(8, b"\0"), "little")
        dut.in_keep.value = (1 << len(beat)) - 1
        dut.in_nbytes.value = len(beat)
        while True:
            await ReadOnly()
            ready = int(dut.in_ready.value)
            await RisingEdge(dut.clk)
            if ready:
                break
    dut.in_valid.value = 0


async def collect(dut, vw: int, n_images: int, rng: random.Random, resume_delay: int) -> "list[dict]":
    """The writes of each image (until img_done), resuming after a random delay."""
    images, writes = [], {}
    while len(images) < n_images:
        await RisingEdge(dut.clk)
        await ReadOnly()
        if int(dut.wr_en.value):
            addr, data, be = int(dut.wr_addr.value), int(dut.wr_data.value), int(dut.wr_be.value)
            for b in range(vw):
                if be >> b & 1:
                    assert (addr, b) not in writes, f"byte ({addr}, {b}) written twice in image {len(images)}"
                    writes[(addr, b)] = data >> (8 * b) & 0xFF
        if int(dut.img_done.value):
            images.append(writes)
            writes = {}
            await RisingEdge(dut.clk)
            for _ in range(rng.randint(0, resume_delay)):
                await RisingEdge(dut.clk)
                await ReadOnly()
                assert not int(dut.wr_en.value), "a write while the buffer holds an image"
            await RisingEdge(dut.clk)
            dut.resume.value = 1
            await RisingEdge(dut.clk)
            dut.resume.value = 0
    return images


async def run_packet(dut, vw, pix, img, batch, rng, gaps=0.3, resume_delay=6, max_byte=255, bad_at=None):
    data = bytearray(rng.randrange(max_byte + 1) for _ in range(img * batch))
    if bad_at is not None:
        data[bad_at] = max_byte + 1 + rng.randrange(255 - max_byte)
    await start(dut, pix, img, max_byte)
    sender = cocotb.start_soon(send(dut, bytes(data), rng, gaps))
    images = await collect(dut, vw, batch, rng, resume_delay)
    await sender
    await ClockCycles(dut.clk, 3)                      # the range check's two stages
    for i, got in enumerate(images):
        want = expected_image(bytes(data[i * img:(i + 1) * img]), pix, vw)
        assert got == want, f"pix {pix}, img {img}: image {i} differs ({len(got)} vs {len(want)} bytes)"
    assert int(dut.bad.value) == (bad_at is not None), (pix, img, bad_at)
    if bad_at is not None:
        assert int(dut.bad_index.value) == bad_at, (int(dut.bad_index.value), bad_at)


async def setup(dut):
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for name in ("rst", "start", "resume", "in_valid", "in_data", "in_keep", "in_nbytes", "pix_bytes", "img_bytes", "max_byte"):
        getattr(dut, name).value = 0
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


@cocotb.test()
async def tb_act_writer(dut):
    vw = int(dut.VW.value)
    await setup(dut)
    rng = random.Random(11)
    pixels = sorted({1, 2, 3, 5, 7, 8, 9, vw - 1, vw, vw + 1, 2 * vw + 3, 3 * vw, 4 * vw + 9})
    for pix in pixels:
        for n_pix in (1, 3, 7):
            await run_packet(dut, vw, pix, pix * n_pix, rng.randint(1, 3), rng)
    # add's input a: pix = VW, images of any length (beats straddle images)
    for img in (75, 8, 9, 3 * vw + 5):
        await run_packet(dut, vw, vw, img, 3, rng, gaps=0.2)
    # BAD_DATA: u4 and u5 maxima, the bad byte anywhere, in the first beat or a later image
    for max_byte in (15, 31):
        for bad_at in (0, 7, 8, 45, 3 * 20 + 13):
            await run_packet(dut, vw, 20, 40, 2, rng, max_byte=max_byte, bad_at=bad_at)
        await run_packet(dut, vw, 20, 40, 2, rng, max_byte=max_byte)


@cocotb.test()
async def dense_stream_one_beat_per_cycle(dut):
    """64-byte pixels, no gaps: one beat a cycle once the stream runs."""
    vw = int(dut.VW.value)
    await setup(dut)
    beats = 64
    await start(dut, 64, 8 * beats, 255)
    dut.in_valid.value = 1
    dut.in_keep.value = 0xFF
    dut.in_nbytes.value = 8
    taken, cycles = 0, 0
    while taken < beats:
        dut.in_data.value = taken
        await ReadOnly()
        taken += int(dut.in_ready.value)
        cycles += 1
        await RisingEdge(dut.clk)
    dut.in_valid.value = 0
    assert cycles <= beats + 1, f"{beats} beats took {cycles} cycles"
    await ClockCycles(dut.clk, 4)
    assert int(dut.img_done.value)
