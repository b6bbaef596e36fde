"""The board runtime under misuse (issue 13): bad timeouts, Ctrl-C in the middle of a run, two
threads on one Runtime, odd image arrays, Runtimes never closed, hostile overlay manifests and
recorder files. Everything runs on the emulated device (pynq's own drivers above it).
"""
from __future__ import annotations

import ctypes
import gc
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msp_pynq.bundle.container import BundleError
from msp_pynq.bundle.io import load_bundle
from msp_pynq.camera import PanSource, Pipeline
from msp_pynq.errors import MSPError
from msp_pynq.runtime import OverlayMismatch, Runtime, RuntimeBusy
from msp_pynq.runtime import dma as dmaops
from msp_pynq.runtime.overlays import load_overlay_manifest
from msp_pynq.emulation.recorder import Recorder
from .bounded import assert_own_error, run_bounded
from runtime.runtime_helpers import images, pool_fc_network, tiny_network, write_bundle

ROOT = Path(__file__).resolve().parents[2]
BAD_TIMEOUTS = [math.nan, math.inf, -math.inf, 0, 0.0, -1, -1e-9, 3601, 1e300, True, False,
                "2", None, [1], 2j]


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """tempfile's folder moved to this test's own, so the overlay folders it makes can be counted."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def overlay_dirs(folder: Path) -> "list[Path]":
    return sorted(folder.glob("msp-pynq-overlay-*"))


@pytest.fixture
def loaded(tmp_path):
    """An emulated pynq-z2 Runtime with the 7-layer tiny bundle, its images and their logits."""
    path = write_bundle(tmp_path / "tiny.mspb", tiny_network(0), "pynq-z2", (6, 6, 3))
    rt = Runtime.open("pynq-z2", emulate=True, log=None)
    rt.load(path)
    x = images(3, (6, 6, 3))
    yield rt, x, load_bundle(path).logits(x)
    rt.close()


# ---- 1. timeouts -----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", BAD_TIMEOUTS, ids=repr)
def test_open_refuses_a_timeout_that_is_not_a_number_of_seconds(bad, private_tmp):
    with pytest.raises(MSPError) as err:
        Runtime.open("pynq-z2", emulate=True, timeout_s=bad, log=None)
    assert type(err.value) is MSPError
    assert str(err.value) == f"timeout_s must be a finite number in (0, 3600], not {bad!r}"
    assert overlay_dirs(private_tmp) == []                  # refused before anything was made


@pytest.mark.parametrize("bad", BAD_TIMEOUTS, ids=repr)
def test_every_dma_and_engine_wait_refuses_a_bad_timeout_before_touching_the_hardware(bad, loaded):
    rt, x, want = loaded
    rec = rt.device.recorder
    rec.enabled = True
    mark = rec.mark()
    waits = [lambda: dmaops.poll(lambda: 0, lambda v: True, bad),
             lambda: dmaops.wait_channel(rt.dma, dmaops.MM2S, bad),
             lambda: dmaops.reset_dma(rt.dma, bad),
             lambda: rt.engine.soft_reset(bad),
             lambda: rt.engine.wait("conv1", bad, rt.dma)]
    for wait in waits:
        with pytest.raises(MSPError, match=r"^timeout_s must be a finite number in \(0, 3600\], not "):
            wait()
    assert rec.writes(since=mark) == []                     # no register was written
    rt.timeout_s = bad                                      # the attribute changed after open()
    with pytest.raises(MSPError, match="timeout_s must be"):
        rt.run(x)
    assert rec.writes(since=mark) == [] and rt.report()["runs"] == 0
    rt.timeout_s = 2.0
    assert np.array_equal(rt.run(x), want)


@settings(max_examples=50, deadline=None)
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6)))
def test_check_timeout_accepts_exactly_the_seconds_in_0_to_3600(value):
    if 0 < value <= 3600:
        assert dmaops.check_timeout(value) == float(value)
    else:
        with pytest.raises(MSPError, match="timeout_s"):
            dmaops.check_timeout(value)


@pytest.mark.parametrize("kw, text", [
    ({"timeout_s": math.nan}, "timeout_s must be a finite number in (0, 3600], not nan"),
    ({"timeout_s": math.inf}, "timeout_s must be a finite number in (0, 3600], not inf"),
    ({"timeout_s": 0}, "timeout_s must be a finite number in (0, 3600], not 0"),
    ({"timeout_s": -5}, "timeout_s must be a finite number in (0, 3600], not -5"),
    ({"timeout_s": True}, "timeout_s must be a finite number in (0, 3600], not True"),
    ({"timeout_s": "10"}, "timeout_s must be a finite number in (0, 3600], not '10'"),
    ({"max_seconds": math.nan}, "max_seconds must be a finite number in (0, 1e+09], not nan"),
    ({"max_seconds": -1.0}, "max_seconds must be a finite number"),
    ({"max_frames": 0}, "max_frames must be a whole number >= 1 (or None), not 0"),
    ({"max_frames": 2.5}, "max_frames must be a whole number >= 1 (or None), not 2.5"),
    ({"max_frames": True}, "max_frames must be a whole number >= 1 (or None), not True"),
])
def test_the_camera_pipeline_refuses_waits_without_an_end(kw, text):
    fake = lambda x: np.eye(3)[[0]]                          # noqa: E731
    with pytest.raises(MSPError) as err:
        Pipeline(PanSource(frames=2), infer=fake, input_shape=(8, 8, 3), classes="abc", **kw)
    assert str(err.value).startswith(text)


@pytest.mark.parametrize("kw, text", [
    ({"max_batch": 0}, "max_batch must be a whole number >= 1, not 0"),
    ({"max_batch": 2.0}, "max_batch must be a whole number >= 1, not 2.0"),
    ({"max_batch": True}, "max_batch must be a whole number >= 1, not True"),
    ({"emulate": "yes"}, "emulate must be True, False or None, not 'yes'"),
])
def test_open_refuses_other_bad_arguments(kw, text, private_tmp):
    kw.setdefault("emulate", True)
    with pytest.raises(MSPError) as err:
        Runtime.open("pynq-z2", log=None, **kw)
    assert str(err.value) == text and overlay_dirs(private_tmp) == []


# ---- 2. Ctrl-C -------------------------------------------------------------------------------
def _interrupt_at(device, points: "list[int]", thread_id: int) -> dict:
    """Make the emulated device deliver an asynchronous KeyboardInterrupt (what Ctrl-C does) to
    ``thread_id`` on each bus access numbered in ``points``; returns the access counter."""
    count = {"n": 0}
    read, write = device.read_registers, device.write_registers

    def hit() -> None:
        count["n"] += 1
        if count["n"] in points:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                                       ctypes.py_object(KeyboardInterrupt))

    def read_hook(address, length):
        try:
            return read(address, length)
        finally:
            hit()

    def write_hook(address, data):
        try:
            return write(address, data)
        finally:
            hit()
    device.read_registers, device.write_registers = read_hook, write_hook
    return count


def _unhook(device) -> None:
    del device.read_registers, device.write_registers        # back to the class's methods


def _accesses_of_one_run(rt, x) -> int:
    count = _interrupt_at(rt.device, [], threading.get_ident())
    rt.run(x)
    _unhook(rt.device)
    return count["n"]


def _interrupted_then_rerun(rt, x, points: "list[int]") -> dict:
    """In a fresh thread: a run interrupted at ``points``, then (hooks off) a second run."""
    out: dict = {}

    def work() -> None:
        _interrupt_at(rt.device, points, threading.get_ident())
        try:
            try:
                rt.run(x)
                out["first"] = "completed"
            except KeyboardInterrupt:
                out["first"] = "interrupted"
            finally:
                _unhook(rt.device)
            for _ in range(100):       # an interrupt still pending lands here, not in the rerun
                time.sleep(0)
        except KeyboardInterrupt:
            out["first"] = "interrupted late"
        try:
            out["logits"] = rt.run(x)
        except BaseException as exc:       # reported by the assertion
            out["error"] = f"{type(exc).__name__}: {exc}"
    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(120)
    assert not t.is_alive(), "the run after an interrupted one hangs"
    return out


def test_ctrl_c_anywhere_in_a_run_leaves_the_next_run_exact(loaded):
    rt, x, want = loaded
    n = _accesses_of_one_run(rt, x)
    assert n > 200                                        # 7 layers of register traffic
    points = sorted({int(p) for p in np.linspace(1, n - 1, 40)} | {1, 2, 3, n // 2})
    interrupted = 0
    for k in points:
        out = _interrupted_then_rerun(rt, x, [k])
        assert "error" not in out, f"interrupt at access {k}: the next run failed: {out['error']}"
        assert np.array_equal(out["logits"], want), f"interrupt at access {k}: wrong logits next run"
        interrupted += out["first"] == "interrupted"
    assert interrupted >= len(points) * 3 // 4            # the interrupts did land inside the runs
    assert rt.device.memory.live_buffers == 3             # and no buffer was lost or leaked


def test_ctrl_c_twice_even_during_the_recovery_leaves_the_next_run_exact(loaded):
    rt, x, want = loaded
    n = _accesses_of_one_run(rt, x)
    for k in range(5, n - 20, max(1, n // 15)):
        for gap in (1, 3, 8):                                # the second one lands in the reset
            out = _interrupted_then_rerun(rt, x, [k, k + gap])
            assert "error" not in out, f"interrupts at {k}, {k + gap}: {out['error']}"
            assert np.array_equal(out["logits"], want), f"interrupts at {k}, {k + gap}: wrong logits"


def test_an_interrupted_run_resets_the_dma_and_the_engine_before_reraising(loaded):
    rt, x, want = loaded
    n = _accesses_of_one_run(rt, x)
    before = rt.report()["recoveries"]
    out = {}

    def work() -> None:
        _interrupt_at(rt.device, [n // 2], threading.get_ident())
        try:
            rt.run(x)
        except KeyboardInterrupt:
            out["raised"] = True
        finally:
            _unhook(rt.device)
    t = threading.Thread(target=work)
    t.start()
    t.join(60)
    assert out == {"raised": True}                        # re-raised, not swallowed
    assert rt.report()["recoveries"] == before + 1 and not rt._needs_reset
    dma = rt.device.dma_model
    assert all(not c.sr & dmaops.SR_HALTED and c.pending is None for c in dma.ch.values())
    assert np.array_equal(rt.run(x), want)


# ---- 3. threads ------------------------------------------------------------------------------
class _Gate:
    """Holds the thread that runs images at its first engine START write until ``open()``;
    records which thread made each bus access."""

    def __init__(self, device) -> None:
        self.device, self.inside, self.release = device, threading.Event(), threading.Event()
        self.threads: "list[int]" = []
        self._write, self._read = device.write_registers, device.read_registers
        engine = device.manifest.engine.base_address
        self.start_address = engine + 0x040               # CONTROL
        device.write_registers, device.read_registers = self.write, self.read
        self.held = False

    def write(self, address, data):
        self.threads.append(threading.get_ident())
        if address == self.start_address and not self.held:
            self.held = True
            self.inside.set()
            assert self.release.wait(60)
        return self._write(address, data)

    def read(self, address, length):
        self.threads.append(threading.get_ident())
        return self._read(address, length)

    def remove(self) -> None:
        del self.device.write_registers, self.device.read_registers


def _in_thread(fn, out: dict, key: str) -> threading.Thread:
    def body() -> None:
        try:
            out[key] = fn()
        except BaseException as exc:
            out[key] = exc
    t = threading.Thread(target=body, daemon=True)
    t.start()
    return t


def test_load_unload_or_close_while_another_thread_runs_are_refused(loaded, tmp_path):
    rt, x, want = loaded
    other = write_bundle(tmp_path / "poolfc.mspb", pool_fc_network(0), "pynq-z2", (4, 4, 3))
    gate, out = _Gate(rt.device), {}
    t = _in_thread(lambda: rt.run(x), out, "run")
    assert gate.inside.wait(60)                           # the run is inside a layer now
    for call, name in ((lambda: rt.load(other), "load()"), (rt.unload, "unload()"), (rt.close, "close()")):
        with pytest.raises(RuntimeBusy, match=rf"^{name.replace('(', '[(]').replace(')', '[)]')} refused: "
                                              r"another thread is running images on this Runtime"):
            call()
    assert rt.device.memory.live_buffers == 3 and rt.bundle is not None and os.path.isdir(rt._workdir)
    gate.release.set()
    t.join(60)
    gate.remove()
    assert np.array_equal(out["run"], want)
    rt.load(other)                                        # once the run is over, load works
    assert rt.device.memory.live_buffers == 3


def test_two_threads_on_one_runtime_are_serialized(loaded):
    rt, x, want = loaded
    gate, out = _Gate(rt.device), {}
    a = _in_thread(lambda: rt.run(x), out, "a")
    assert gate.inside.wait(60)
    b = _in_thread(lambda: rt.run(x[::-1]), out, "b")
    # wait (events and frames, no sleeps) until b is blocked on the run lock inside Runtime.run
    deadline = time.monotonic() + 60
    while not _waiting_in_run(b) and time.monotonic() < deadline:
        time.sleep(0.001)
    assert _waiting_in_run(b), "thread b never reached Runtime.run"
    assert b.ident not in gate.threads                    # b touches nothing while a runs
    gate.release.set()
    a.join(60)
    b.join(60)
    gate.remove()
    assert np.array_equal(out["a"], want) and np.array_equal(out["b"], want[::-1])
    first_b = gate.threads.index(b.ident)
    assert set(gate.threads[:first_b]) == {a.ident} and set(gate.threads[first_b:]) == {b.ident}


def _waiting_in_run(t: threading.Thread) -> bool:
    frame = sys._current_frames().get(t.ident)
    names = []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return bool(names) and names[0] == "run" and "body" in names


# ---- 4. images -------------------------------------------------------------------------------
def test_zero_images_give_an_empty_result_of_the_right_shape(loaded):
    rt, x, want = loaded
    for empty in (x[:0], np.zeros((0, 6, 6, 3), np.uint8)):
        logits = rt.run(empty)
        assert logits.shape == (0, 5) and logits.dtype == np.float64
    traced = rt.trace(x[:0])
    assert traced["logits"].shape == (0, 5) and traced["conv1"].shape == (0, 6, 6, 8)
    assert rt.report()["last_run"]["images"] == 0
    assert np.array_equal(rt.run(x), want)


def test_any_memory_layout_of_the_right_images_gives_the_same_logits(loaded):
    rt, x, want = loaded
    wide = np.zeros((3, 6, 12, 3), np.uint8)
    wide[:, :, ::2] = x
    fortran = np.asfortranarray(x)
    readonly = x.copy()
    readonly.setflags(write=False)
    for variant in (wide[:, :, ::2], fortran, readonly, x[::-1][::-1], x.astype(">u1")):
        assert np.array_equal(rt.run(variant), want)
    assert np.array_equal(rt.run(x[0]), want[:1])          # one [H, W, C] image


@pytest.mark.parametrize("bad, found", [
    (np.zeros((1, 6, 6, 3), np.float32), "float32 [1, 6, 6, 3]; convert float images"),
    (np.full((1, 6, 6, 3), np.nan), "float64 [1, 6, 6, 3]; convert float images"),
    (np.zeros((1, 6, 6, 3), np.int64), "int64 [1, 6, 6, 3]"),
    (np.zeros((1, 6, 6, 3), bool), "bool [1, 6, 6, 3]"),
    (np.zeros((1, 6, 6, 4), np.uint8), "uint8 [1, 6, 6, 4]"),
    (np.zeros((1, 3, 6, 6), np.uint8), "uint8 [1, 3, 6, 6]"),
    (np.zeros((6, 6), np.uint8), "uint8 [6, 6]"),
    (np.zeros((1, 1, 6, 6, 3), np.uint8), "uint8 [1, 1, 6, 6, 3]"),
    (np.zeros((), np.uint8), "uint8 []"),
    (np.zeros((1, 6, 6, 3), [("r", "u1")]), "[1, 6, 6, 3]"),
    ("not an image", "<U12 []"),
    (None, "object []"),
    ([[[1, 2, 3]] * 6] * 5 + [[[1, 2]]], "not one array"),
])
def test_wrong_images_are_refused_naming_the_shape_expected(loaded, bad, found):
    rt, x, want = loaded
    rec = rt.device.recorder
    rec.enabled = True
    mark = rec.mark()
    with pytest.raises(BundleError) as err:
        rt.run(bad)
    assert "images must be [N, 6, 6, 3] (NHWC) uint8 pixels, found " in str(err.value)
    assert found in str(err.value)
    assert rec.writes(since=mark) == []                    # refused before the hardware
    with pytest.raises(BundleError, match=r"images must be \[N, 6, 6, 3\]"):
        rt.classify(bad)
    assert np.array_equal(rt.run(x), want)


def test_classify_refuses_a_batch_with_the_projects_error(loaded):
    rt, x, _ = loaded
    for batch in (x, x[:0]):
        with pytest.raises(MSPError, match=r"classify takes one image, got a batch of \d+; use run\(\)"):
            rt.classify(batch)
    assert rt.classify(x[0])[0] == rt.classify(x[:1])[0]


# ---- 5. temporary folders --------------------------------------------------------------------
def test_a_runtime_never_closed_removes_its_folder_when_collected(private_tmp):
    rt = Runtime.open("pynq-z2", emulate=True, log=None)
    folder = Path(rt._workdir)
    assert folder.is_dir() and overlay_dirs(private_tmp) == [folder]
    del rt
    gc.collect()
    assert not folder.exists() and overlay_dirs(private_tmp) == []


def test_close_removes_the_folder_once_and_a_second_close_is_harmless(private_tmp):
    rt = Runtime.open("pynq-z2", emulate=True, log=None)
    rt.close()
    assert overlay_dirs(private_tmp) == []
    rt.close()
    assert overlay_dirs(private_tmp) == []


def test_runtimes_never_closed_leave_no_folder_after_the_interpreter_exits(tmp_path):
    script = textwrap.dedent("""
        import sys
        from msp_pynq.runtime import Runtime
        keep = [Runtime.open("pynq-z2", emulate=True, log=None) for _ in range(3)]
        print("\\n".join(rt._workdir for rt in keep))
        keep.append(keep)                       # a cycle: only the exit hook can clean these up
    """)
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    folders = proc.stdout.split()
    assert len(folders) == 3 and all(f.startswith(str(tmp_path)) for f in folders)
    assert not any(Path(f).exists() for f in folders) and overlay_dirs(tmp_path) == []


def test_a_failed_open_leaves_no_folder(private_tmp, monkeypatch):
    from msp_pynq.runtime import driver
    monkeypatch.setattr(driver.MspEngine, "check_identity",
                        lambda self: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        Runtime.open("pynq-z2", emulate=True, log=None)
    assert overlay_dirs(private_tmp) == []


# ---- 6. overlay manifests and recorder files ---------------------------------------------------
def _manifest_dir(tmp_path: Path, edit=None, text: "str | None" = None) -> Path:
    raw = json.loads((ROOT / "overlays" / "pynq-z2" / "manifest.json").read_text())
    if edit:
        edit(raw)
    (tmp_path / "pynq-z2").mkdir(exist_ok=True)
    (tmp_path / "pynq-z2" / "manifest.json").write_text(text if text is not None else json.dumps(raw))
    return tmp_path


def _set(path: str, value):
    def edit(raw):
        *keys, last = path.split(".")
        node = raw
        for k in keys:
            node = node[k]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
    return edit


@pytest.mark.parametrize("path, value, text", [
    ("format", 1, "manifest.json.format: expected a string, found int 1"),
    ("board", None, "manifest.json.board: expected a string, found NoneType None"),
    ("part", KeyError, "manifest.json: field 'part' missing (expected a string)"),
    ("systeminfo", [], "manifest.json.systeminfo: expected an object, found list []"),
    ("systeminfo.arch", 7, "manifest.json: systeminfo.arch: expected a string, found int 7"),
    ("files.bitstream", "../../etc/passwd", "files.bitstream: expected a file name in the overlay folder"),
    ("files.hwh", "/abs/x.hwh", "files.hwh: expected a file name in the overlay folder"),
    ("files.built", "yes", "files.built: expected true or false, found str 'yes'"),
    ("fabric_clock.mhz", "125", "fabric_clock.mhz: expected a number of MHz, found str '125'"),
    ("fabric_clock.mhz", True, "fabric_clock.mhz: expected a number of MHz, found bool True"),
    ("fabric_clock.mhz", 0, "fabric_clock.mhz: expected a number of MHz in (0, 1000], found 0"),
    ("fabric_clock.mhz", 1e308, "fabric_clock.mhz: expected a number of MHz in (0, 1000]"),
    ("fabric_clock.divisor0", 8.5, "fabric_clock.divisor0: expected a whole number, found float 8.5"),
    ("ip", [], "manifest.json.ip: expected an object of IP instances, found list []"),
    ("ip.axi_dma_0.base_address", 1078984704, "ip.axi_dma_0.base_address: expected a hex string"),
    ("ip.axi_dma_0.base_address", "0xZZ", "ip.axi_dma_0.base_address: expected a hex string"),
    ("ip.axi_dma_0.range", "-0x10", "ip.axi_dma_0.range: expected a hex string"),
    ("ip.axi_dma_0.vlnv", "xilinx.com:axi_dma", "ip.axi_dma_0.vlnv: expected a VLNV"),
    ("ip.axi_dma_0.interface", "S AXI\n", "ip.axi_dma_0.interface: expected an interface name"),
    ("ip.axi_dma_0.parameters", "x", "ip.axi_dma_0.parameters: expected an object, found str"),
    ("ip.axi_dma_0.parameters.c_sg_length_width", [26], "parameters.c_sg_length_width: expected a string or number"),
    ("ip.axi_dma_0", 5, "ip.axi_dma_0: expected an object, found int"),
    ("ip.bad name", {}, "is not an instance name"),
    ("processing_system.instance", {"a": 1}, "processing_system.instance: expected an instance name"),
    ("streams", {}, "manifest.json.streams: expected a list, found dict"),
    ("streams", [{"from": "axi_dma_0", "to": "msp_engine_0/S_AXIS"}], "streams[0].from: expected \"instance/PORT\""),
    ("streams", ["x"], "manifest.json: streams[0]: field 'from' missing"),
])
def test_a_manifest_with_a_wrong_field_is_refused_naming_the_file_and_field(tmp_path, path, value, text):
    folder = _manifest_dir(tmp_path, _set(path, value))
    with pytest.raises(OverlayMismatch) as err:
        load_overlay_manifest("pynq-z2", folder)
    assert str(folder / "pynq-z2" / "manifest.json") in str(err.value) and text in str(err.value)


@pytest.mark.parametrize("text, fragment", [
    ('{"format": NaN}', "JSON holds NaN"),
    ('{"format": "a", "format": "b"}', "JSON object has the key format twice"),
    ("[" * 100000, "JSON nested more than 64 deep"),
    ('"just a string"', "expected a JSON object, found str"),
    ("\xff", "not JSON"),
])
def test_a_manifest_that_is_not_strict_json_is_refused(tmp_path, text, fragment):
    folder = _manifest_dir(tmp_path, text=text)
    with pytest.raises(OverlayMismatch, match="manifest.json") as err:
        load_overlay_manifest("pynq-z2", folder)
    assert fragment in str(err.value)


def test_a_huge_or_special_manifest_is_refused_without_reading_it(tmp_path):
    folder = _manifest_dir(tmp_path)
    target = folder / "pynq-z2" / "manifest.json"
    with open(target, "wb") as fh:                            # sparse: 8 GiB declared, nothing stored
        fh.truncate(8 << 30)
    result = run_bounded(f"load_overlay_manifest('pynq-z2', {str(folder)!r})",
                         "from msp_pynq.runtime.overlays import load_overlay_manifest", mem_mib=64, cpu_s=20)
    assert_own_error(result, "manifest.json", "bytes, more than the 1,048,576 allowed")
    target.unlink()
    os.mkfifo(target)
    result = run_bounded(f"load_overlay_manifest('pynq-z2', {str(folder)!r})",
                         "from msp_pynq.runtime.overlays import load_overlay_manifest", mem_mib=64, cpu_s=20)
    assert_own_error(result, "manifest.json", "is a FIFO, not a regular file")


def _dump(tmp_path: Path) -> Path:
    rec = Recorder(enabled=True)
    rec.write("msp_engine_0", 0x100, 1)
    rec.transfer("mm2s", 0x1000_0000, 4, b"\x01\x02\x03\x04")
    rec.transfer("s2mm", 0x1000_1000, 0, b"", "hang")
    path = tmp_path / "rec.jsonl"
    assert rec.dump(path) == 3
    return path


def test_a_recorder_file_round_trips(tmp_path):
    events = Recorder.load(_dump(tmp_path))
    assert [e["kind"] for e in events] == ["write", "dma", "dma"] and events[1]["data"] == b"\x01\x02\x03\x04"


@pytest.mark.parametrize("line, text", [
    ('{"kind": "write", "ip": "e", "offset": "0x100", "value": 1, "seq": 0}',
     "line 2: field 'offset' is str '0x100', expected int"),
    ('{"kind": "write", "ip": "e", "offset": 256, "value": true, "seq": 0}', "line 2: field 'value' is bool True"),
    ('{"kind": "write", "ip": "e", "offset": 256, "value": -1, "seq": 0}', "line 2: field 'value' is -1, out of range"),
    ('{"kind": "write", "ip": "e", "offset": 256, "seq": 0}', "line 2: field 'value' missing from a 'write' event"),
    ('{"kind": "dma", "channel": "mm2s", "address": 0, "length": 1, "data": "zz", "seq": 1}',
     "line 2: field 'data' is not hex bytes"),
    ('{"kind": "dma", "channel": "xx", "address": 0, "length": 1, "data": "00", "seq": 1}',
     "line 2: field 'channel' is 'xx'"),
    ('{"kind": "dma", "channel": "mm2s", "address": 0, "length": 1, "data": "00", "seq": 1, "error": 3}',
     "line 2: field 'error' is 3"),
    ('{"kind": "boom"}', "line 2: field 'kind' is 'boom', expected 'write' or 'dma'"),
    ("[1, 2]", "line 2: expected an event object, found list"),
    ('{"kind": "write", "kind": "dma"}', "line 2: JSON object has the key kind twice"),
    ('{"kind": "write", "ip": "e", "offset": NaN, "value": 1, "seq": 0}', "line 2: JSON holds NaN"),
    ("{", "line 2: not valid JSON"),
])
def test_a_recorder_file_with_a_bad_event_is_refused_naming_the_line_and_field(tmp_path, line, text):
    path = _dump(tmp_path)
    lines = path.read_text().splitlines()
    lines.insert(1, line)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MSPError) as err:
        Recorder.load(path)
    assert str(path) in str(err.value) and text in str(err.value)


def test_a_huge_recorder_file_is_refused_before_it_is_read(tmp_path):
    path = _dump(tmp_path)
    with pytest.raises(MSPError, match=r"recorder file is \d[\d,]* bytes, more than the 10 allowed"):
        Recorder.load(path, max_bytes=10)
    with open(path, "ab") as fh:
        fh.truncate(8 << 30)
    result = run_bounded(f"Recorder.load({str(path)!r})", "from msp_pynq.emulation.recorder import Recorder",
                         mem_mib=64, cpu_s=20)
    assert_own_error(result, "rec.jsonl", "more than the 268,435,456 allowed")
    with pytest.raises(MSPError, match="is a folder, not a regular file"):
        Recorder.load(tmp_path)


def test_a_failed_dump_keeps_the_old_recorder_file(tmp_path):
    path = _dump(tmp_path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    rec = Recorder(enabled=True)
    rec.events.append({"kind": "write", "ip": "e", "offset": 1, "value": object()})   # not JSON
    with pytest.raises(TypeError):
        rec.dump(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.jsonl"]
