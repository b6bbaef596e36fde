"""Runtime on the emulated device: exact results, the documented bus traffic, faults, leaks, refusals."""
from __future__ import annotations

import dataclasses
import functools
import os
import struct
import time

import numpy as np
import pytest

import msp_pynq.runtime.runtime as runtime_module
from msp_pynq.bundle.container import BundleError, read_container
from msp_pynq.bundle.io import load_bundle
from msp_pynq.emulator import Conv2d, GlobalAvgPool, Linear, Network, reference
from msp_pynq.numerics.activations import U4, U8
from msp_pynq.emulation import EmulatedDevice
from msp_pynq.runtime import (BoardNotFound, DmaError, DmaTimeout, EngineError, EngineTimeout,
                              IncompatibleEngine, Runtime)
from msp_pynq.emulation.engine import EngineModel
from msp_pynq.emulation.recorder import Recorder
from msp_pynq.engine.registers import ENGINE_VLNV

from .runtime_helpers import images, random_weights, write_bundle


def test_tiny_network_is_bit_exact_and_deterministic(runtime, tiny_bundle):
    path = tiny_bundle()
    rt = runtime("pynq-z2", max_batch=3)                 # 8 images: batches of 3, 3, 2
    rt.load(path)
    x = images(8, (6, 6, 3))
    want = load_bundle(path).logits(x)
    got = rt.run(x)
    assert got.dtype == np.float64 and np.array_equal(got, want)
    assert rt.report()["last_run"]["batches"] == 3
    assert np.array_equal(rt.run(x), got)                 # same input, same output
    one_by_one = np.concatenate([rt.run(x[i:i + 1]) for i in range(len(x))])
    assert np.array_equal(one_by_one, got)
    assert rt.device.engine_model.stats["errors"] == 0


def test_report_and_classify(runtime, tiny_bundle):
    rt = runtime("zcu104")
    bundle = rt.load(tiny_bundle("zcu104"))
    x = images(4, (6, 6, 3), seed=5)
    rt.run(x)
    last = rt.report()["last_run"]
    assert [layer["name"] for layer in last["layers"]] == ["conv1", "conv2", "add", "pool", "conv3", "gap", "fc"]
    assert last["engine_cycles"] == sum(layer["cycles"] for layer in last["layers"]) > 0
    assert last["engine_s"] == pytest.approx(last["engine_cycles"] / 250e6)     # the zcu104's 250 MHz
    for key in ("preprocess_s", "weights_s", "dma_s", "engine_wait_s", "postprocess_s", "wall_s"):
        assert last[key] >= 0
    assert rt.report()["mode"] == "emulated" and rt.report()["load"]["batch"] == 16
    index, name, score = rt.classify(x[2])
    logits = bundle.logits(x[2:3])[0]
    assert index == int(np.argmax(logits)) and name == f"class{index}"
    assert score == pytest.approx(1 / np.exp(logits - logits.max()).sum()) and 0 < score <= 1


def _one_conv_bundle(path) -> str:
    rng = np.random.default_rng(11)
    schemes = np.array([0, 2, 1, 2, 0, 2], np.uint8)     # engine order 1, 3, 5, 0, 4, 2
    conv = Conv2d(name="conv", weights=random_weights(rng, schemes, (3, 3, 3)), schemes=schemes,
                  bias=rng.integers(-3000, 3000, 6), multiplier=rng.integers(1 << 15, 1 << 16, 6),
                  shift=rng.integers(20, 23, 6), in_spec=U8, out_spec=U4, padding=1)
    return write_bundle(path, Network([conv]), "pynq-z2", (5, 5, 3))


def test_one_conv_layer_writes_and_transfers_exactly_the_documented_sequence(runtime, tmp_path):
    path = _one_conv_bundle(tmp_path / "conv.mspb")
    rt = runtime("pynq-z2", record=True)
    rt.load(path)
    manifest, arrays = read_container(path)
    order = arrays["conv/row_order"]
    assert order.tolist() == [1, 3, 5, 0, 4, 2]
    x = images(2, (5, 5, 3), seed=3)
    rec = rt.device.recorder
    mark = rec.mark()
    rt.run(x)
    events = rec.events[mark:]
    # expected bytes, built by hand from the bundle's arrays (docs/registers.md section 5)
    params = b"".join(struct.pack("<iHBB", int(arrays["conv/bias"][r]), int(arrays["conv/multiplier"][r]),
                                  int(arrays["conv/shift"][r]), int(arrays["conv/schemes"][r])) for r in order)
    weights = arrays["conv/weights"].tobytes()
    assert len(weights) == 5 * 14 + 27                    # 5 four-bit rows of K = 27, one fixed-8 row
    natural = reference.run_layer(load_bundle(path).network.layers[0], x)
    output = natural[..., order].tobytes()                # channels in engine order
    mm2s = [e for e in events if e["kind"] == "dma" and e["channel"] == "mm2s"]
    s2mm = [e for e in events if e["kind"] == "dma" and e["channel"] == "s2mm"]
    assert [e["data"] for e in mm2s] == [params, weights, x.tobytes()]
    assert [e["data"] for e in s2mm] == [output] and all(e["error"] is None for e in mm2s + s2mm)
    assert all(e["address"] % 64 == 0 for e in mm2s + s2mm)
    e, d = "msp_engine_0", "axi_dma_0"
    descriptor = [(0x100, 1), (0x104, 2), (0x108, 5), (0x10C, 5), (0x110, 3), (0x114, 6), (0x118, 0x0303),
                  (0x11C, 0x0101), (0x120, 0x01010101), (0x124, 0x08 | 0x04 << 16), (0x128, 3), (0x12C, 2),
                  (0x130, 1), (0x134, 0), (0x138, 0), (0x13C, 0)]
    expected = [{"kind": "write", "ip": e, "offset": o, "value": v} for o, v in descriptor]
    expected += [{"kind": "write", "ip": d, "offset": o, "value": v}
                 for o, v in ((0x48, s2mm[0]["address"]), (0x4C, 0), (0x58, 2 * 5 * 5 * 6))]
    expected.append({"kind": "write", "ip": e, "offset": 0x40, "value": 1})
    for packet in mm2s:
        expected += [{"kind": "write", "ip": d, "offset": o, "value": v}
                     for o, v in ((0x18, packet["address"]), (0x1C, 0), (0x28, packet["length"]))]
        expected.append(packet)
    expected += s2mm
    assert events == expected
    rec.dump(tmp_path / "conv.jsonl", since=mark)          # a replay file for the RTL testbench
    assert Recorder.load(tmp_path / "conv.jsonl") == [dict(ev, seq=i) for i, ev in enumerate(events)]


def test_an_engine_error_names_the_layer_and_the_next_run_works(runtime, tmp_path):
    path = _one_conv_bundle(tmp_path / "conv.mspb")
    rt = runtime("pynq-z2")
    rt.load(path)
    x = images(2, (5, 5, 3), seed=3)
    job = rt.program.jobs[0]
    good = job.descriptor
    job.descriptor = dataclasses.replace(good, in_type=0x06)          # not a type byte
    with pytest.raises(EngineError, match=r"layer 'conv': msp_engine error BAD_DESCRIPTOR .*register "
                                          r"ACT_TYPES \(0x124\)") as err:
        rt.run(x)
    assert err.value.code == 1 and err.value.info == 0x124 and rt.report()["recoveries"] == 1
    job.descriptor = good
    assert np.array_equal(rt.run(x), load_bundle(path).logits(x))


@pytest.mark.parametrize("channel, error, text", [
    ("mm2s", DmaTimeout, r"layer 'gap': MM2S packet 0 \(input, 144 bytes\): MM2S transfer not complete "
                         r"after 0.05 s \(DMASR=0x00000000: running, not idle\); msp_engine STATUS: busy, 0 "
                         r"packets consumed"),
    ("s2mm", EngineTimeout, r"layer 'gap': msp_engine not done after 0.05 s \(STATUS=0x00010001: busy, 1 "
                            r"packets consumed\); MM2S DMASR=.*S2MM DMASR=0x00000000 \(running, not idle\)"),
])
def test_a_dma_that_never_completes_times_out_and_the_next_run_works(runtime, tiny_bundle, channel, error, text):
    rt = runtime("pynq-z2", timeout_s=0.05)
    path = rt.load(tiny_bundle(kind="pool_fc")).path
    x = images(3, (4, 4, 3))
    rt.device.inject_dma_fault(channel, "hang")
    t0 = time.monotonic()
    with pytest.raises(error, match=text):
        rt.run(x)
    assert time.monotonic() - t0 < 1.0 and isinstance(error("x"), TimeoutError)
    assert np.array_equal(rt.run(x), load_bundle(path).logits(x))
    assert rt.report()["recoveries"] == 1


@pytest.mark.parametrize("channel, fault, text", [
    ("mm2s", "slave", r"layer 'gap': MM2S packet 0 \(input, 144 bytes\): MM2S channel error \(DMASR=0x00004021: "
                      r"halted, not idle, DMASlvErr"),
    ("mm2s", "decode", r"layer 'gap': MM2S .*DMADecErr"),
    ("s2mm", "internal", r"layer 'gap': S2MM channel error while the engine ran \(DMASR=0x00004011: halted, "
                         r"not idle, DMAIntErr"),
])
def test_a_dma_error_bit_is_a_clear_error_and_the_next_run_works(runtime, tiny_bundle, channel, fault, text):
    rt = runtime("pynq-z2", timeout_s=0.5)
    path = rt.load(tiny_bundle(kind="pool_fc")).path
    x = images(3, (4, 4, 3))
    rt.device.inject_dma_fault(channel, fault)
    t0 = time.monotonic()
    with pytest.raises(DmaError, match=text):
        rt.run(x)
    assert time.monotonic() - t0 < 0.4                       # reported at once, not by a timeout
    assert np.array_equal(rt.run(x), load_bundle(path).logits(x))


def test_a_hung_engine_times_out_naming_the_layer(runtime, tiny_bundle):
    rt = runtime("pynq-z2", timeout_s=0.05)
    path = rt.load(tiny_bundle(kind="pool_fc")).path
    x = images(2, (4, 4, 3))
    rt.device.engine_model.hang = True
    with pytest.raises(EngineTimeout, match=r"layer 'gap': msp_engine not done .*busy, 0 packets consumed"):
        rt.run(x)
    rt.device.engine_model.hang = False
    assert np.array_equal(rt.run(x), load_bundle(path).logits(x))


def test_a_thousand_runs_leave_no_buffers_behind(runtime, tiny_bundle):
    rt = runtime("pynq-z2")
    path = rt.load(tiny_bundle(kind="pool_fc")).path
    mem = rt.device.memory
    assert mem.live_buffers == 3 and mem.stats["allocated"] == 3      # parameters, inputs, outputs
    x = images(2, (4, 4, 3))
    want = load_bundle(path).logits(x)
    for _ in range(1000):
        assert np.array_equal(rt.run(x), want)
    assert mem.live_buffers == 3 and mem.stats["allocated"] == 3      # reused, never reallocated
    rt.load(path)                                                    # a reload frees the old buffers
    assert mem.live_buffers == 3 and mem.stats["freed"] == 3
    rt.close()
    assert mem.live_buffers == 0 and mem.stats["allocated"] == mem.stats["freed"] == 6


def test_a_bundle_for_another_board_is_refused(runtime, tiny_bundle):
    rt = runtime("pynq-z2")
    with pytest.raises(BundleError, match="compiled for board 'zcu104', not 'pynq-z2'"):
        rt.load(tiny_bundle("zcu104"))
    assert rt.bundle is None and rt.device.memory.live_buffers == 0


def test_an_engine_with_another_fingerprint_is_refused(runtime, tiny_bundle):
    dev = EmulatedDevice("pynq-z2", model_factories={ENGINE_VLNV: functools.partial(EngineModel,
                                                                                  fingerprint=0x12345678)})
    rt = runtime("pynq-z2", device=dev)
    assert rt.info.fingerprint_hex == "12345678"
    with pytest.raises(BundleError, match="compiled for engine 7710d645, but the loaded overlay's engine "
                                          "reports fingerprint 12345678"):
        rt.load(tiny_bundle())
    assert dev.memory.live_buffers == 0


@pytest.mark.parametrize("override, text", [
    (dict(ident=0x12345678), r"reports ID 0x12345678, not msp_engine's 0x4d535045 \('MSPE'\)"),
    (dict(version=0x00020000), "msp_engine version 2.0; this msp_pynq drives version 1.x"),
])
def test_an_engine_with_another_id_or_version_is_refused(override, text, monkeypatch, tmp_path):
    monkeypatch.setattr(runtime_module.tempfile, "mkdtemp", lambda prefix: str(tmp_path / "overlay"))
    dev = EmulatedDevice("pynq-z2", model_factories={ENGINE_VLNV: functools.partial(EngineModel, **override)})
    with pytest.raises(IncompatibleEngine, match=text):
        Runtime.open("pynq-z2", device=dev, log=None)
    assert not (tmp_path / "overlay").exists()                       # its files are removed


def test_a_layer_that_cannot_be_split_is_refused_at_load(runtime, tmp_path):
    # a global average pool sums the whole image: it cannot run in bands
    gap = GlobalAvgPool(name="big_gap", multiplier=40000, shift=20, in_spec=U8, out_spec=U8)
    fc = Linear(name="fc", inputs=("big_gap",), weights=np.eye(3, 4, dtype=np.int8), schemes=[1, 1, 1],
                in_spec=U8, out_spec=None)
    net = Network([gap, fc])
    path = write_bundle(tmp_path / "big.mspb", net, "pynq-z2", (120, 120, 4))
    with pytest.raises(BundleError, match=r"layer 'big_gap' needs 230400 bytes of activations per image \(pixels "
                                          r"padded to 16-byte words\); the engine's activation buffer holds 131072, "
                                          "and a global_avg_pool"):
        runtime("pynq-z2").load(path)
    zcu = write_bundle(tmp_path / "z.mspb", net, "zcu104", (120, 120, 4))   # 512 KiB there
    x = images(2, (120, 120, 4))
    rt = runtime("zcu104")
    rt.load(zcu)
    assert np.array_equal(rt.run(x), load_bundle(zcu).logits(x))


def test_open_says_whether_it_runs_on_a_board(monkeypatch):
    monkeypatch.delenv("MSP_PYNQ_EMULATE", raising=False)
    lines = []
    rt = Runtime.open("pynq-z2", log=lines.append)                    # no emulate=: a PC has no board
    try:
        assert rt.mode == "emulated" and isinstance(rt.device, EmulatedDevice)
        assert lines == ["msp_pynq runtime: pynq-z2 emulated (no PYNQ board found); engine 1.0, fingerprint "
                         "7710d645, 125 MHz"]
    finally:
        rt.close()
    with pytest.raises(BoardNotFound, match="pynq-z2: no PYNQ board found"):
        Runtime.open("pynq-z2", emulate=False, log=None)
    monkeypatch.setattr(runtime_module, "board_devices", lambda: ["a board"])     # on a board, no .bit yet
    with pytest.raises(BoardNotFound, match="msp_engine.bit is not built"):
        Runtime.open("pynq-z2", emulate=False, log=None)
    lines.clear()
    Runtime.open("pynq-z2", log=lines.append).close()
    assert "emulated (overlay msp_engine.bit is not built or not installed here: looked for" in lines[0]
    monkeypatch.setenv("MSP_PYNQ_EMULATE", "1")                               # CI, off-board notebooks
    lines.clear()
    Runtime.open("pynq-z2", log=lines.append).close()
    assert lines[0].startswith("msp_pynq runtime: pynq-z2 emulated (MSP_PYNQ_EMULATE is set)")
    with pytest.raises(BoardNotFound, match="msp_engine.bit is not built"):   # emulate=False wins
        Runtime.open("pynq-z2", emulate=False, log=None)


def test_runs_without_a_bundle_or_with_bad_images_are_refused(runtime, tiny_bundle):
    rt = runtime("pynq-z2")
    with pytest.raises(RuntimeError, match="no bundle loaded"):
        rt.run(images(1, (6, 6, 3)))
    rt.load(tiny_bundle())
    with pytest.raises(BundleError, match=r"must be \[N, 6, 6, 3\]"):
        rt.run(images(1, (5, 6, 3)))
    with pytest.raises(ValueError, match="one image"):
        rt.classify(images(2, (6, 6, 3)))
    assert os.path.isdir(rt._workdir)


def test_layers_larger_than_the_weight_banks_run_in_row_tiles(runtime, tmp_path):
    from .runtime_helpers import wide_network
    for board, tiled in (("pynq-z2", True), ("zcu104", False)):
        path = write_bundle(tmp_path / f"wide.{board}.mspb", wide_network(), board, (6, 6, 64))
        rt = runtime(board)
        rt.load(path)
        x = images(5, (6, 6, 64), seed=4)
        assert np.array_equal(rt.run(x), load_bundle(path).logits(x))          # bit for bit
        names = [layer["name"] for layer in rt.report()["last_run"]["layers"]]
        buffers = rt.info.geometry
        assert all(buffers.overflow(job.descriptor.with_batch(1)) is None for job in rt.program.jobs)
        if tiled:
            assert names[0].startswith("conv[rows 0:") and len(names) > 3
            assert sum(j.descriptor.out_c for j in rt.program.jobs if j.output == "conv") == 400
        else:
            assert names == ["conv", "gap", "fc"]


def test_row_tiles_cover_every_row_once_and_a_row_too_large_is_refused(tmp_path):
    from msp_pynq.engine.geometry import EngineGeometry
    from msp_pynq.engine.planning import plan_jobs, split_rows
    from .runtime_helpers import wide_network
    path = write_bundle(tmp_path / "wide.mspb", wide_network(), "pynq-z2", (6, 6, 64))
    job = plan_jobs(*read_container(path)).jobs[0]
    small = EngineGeometry(vector_width=16, lut_rows=41, dsp_rows=24, act_buffer_kib=128, weight_buffer_kib=37)
    assert small.bank_words == 72 and small.steps(job.descriptor) == 36     # two passes per tile
    tiles = split_rows(job, small)
    assert len(tiles) > 3 and all(small.passes(t.descriptor) <= 2 for t in tiles)
    assert all(small.overflow(t.descriptor.with_batch(1)) is None for t in tiles)
    assert sorted(np.concatenate([t.row_order for t in tiles]).tolist()) == list(range(400))
    assert b"".join(t.weights.tobytes() for t in tiles) == job.weights.tobytes()
    planned = [j for j in plan_jobs(*read_container(path), buffers=small).jobs if j.output == "conv"]
    assert [j.tile for j in planned] == [(i, len(tiles)) for i in range(len(tiles))]
    assert all(j.full_out_shape == (6, 6, 400) for j in planned)
    tiny = EngineGeometry(vector_width=16, lut_rows=41, dsp_rows=24, act_buffer_kib=128, weight_buffer_kib=8)
    with pytest.raises(BundleError, match="layer 'conv': one row needs 36 words of each weight bank "
                                          r"\(passes x steps\); a bank holds 15"):
        split_rows(job, tiny)


def test_images_larger_than_the_activation_buffer_run_in_band_tiles(runtime, tmp_path):
    from .runtime_helpers import tall_network
    net = tall_network()
    for board, banded in (("pynq-z2", True), ("zcu104", False)):
        path = write_bundle(tmp_path / f"tall.{board}.mspb", net, board, (40, 40, 96))
        rt = runtime(board)
        rt.load(path)
        x = images(3, (40, 40, 96), seed=8)
        assert np.array_equal(rt.run(x), load_bundle(path).logits(x))          # bit for bit
        names = [layer["name"] for layer in rt.report()["last_run"]["layers"]]
        bands = {n.split("[")[0] for n in names if "[out rows" in n}
        assert bands == ({"conv1", "pool1", "add1", "pool2"} if banded else set())
        buffers = rt.info.geometry
        assert all(buffers.image_words(j.descriptor.with_batch(1)) <= buffers.act_words for j in rt.program.jobs)
