"""The board runtime: open the overlay (or its emulation), load a bundle, run images.

>>> rt = Runtime.open("pynq-z2")                       # doctest: +SKIP
msp_pynq runtime: pynq-z2 emulated (no PYNQ board found); engine 1.0, fingerprint 7710d645, 125 MHz
>>> rt.load("resnet20.pynq-z2.mspb")                   # doctest: +SKIP
>>> logits = rt.run(images_uint8_nhwc)                 # doctest: +SKIP
>>> rt.classify(images_uint8_nhwc[0])                  # doctest: +SKIP
(3, 'cat', 0.41)
>>> rt.report()["last_run"]["engine_s"]                # doctest: +SKIP

Every layer goes through the engine: its descriptor is programmed, its packets stream through
the AXI DMA (docs/registers.md) and its output comes back; the host only moves tensors between
layers, restores the channel order of conv2d/linear outputs and scales the final accumulators
into logits. Buffers are allocated once per bundle and reused; after a timeout, a DMA error, an
engine error or an interruption (Ctrl-C) the runtime resets the DMA and the engine, so the next
run works.

Threads: runs on one Runtime are serialized (a second thread's run waits for the first to
return); ``load``, ``unload`` and ``close`` while another thread runs are refused with
:class:`~.errors.RuntimeBusy` (they would free the buffers the run is using).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import pynq

from ..boards.profiles import BoardProfile, get_profile
from ..bundle.io import Bundle, read_bundle
from ..engine.planning import JobPlan, LayerJob, plan_jobs
from ..engine.registers import align
from ..errors import BundleError, MSPError
from ..numerics.softmax import softmax
from ..tensors import last_uses, release
from . import dma as dmaops
from .driver import EngineInfo, MspEngine
from .errors import BoardNotFound, IncompatibleEngine, MspRuntimeError, RuntimeBusy
from .overlays import OverlayManifest, check_ip_dict, load_overlay_manifest, missing_overlay_reason
from .report import RunReport

if TYPE_CHECKING:
    from ..emulation import EmulatedDevice

DEFAULT_TIMEOUT_S = 2.0
DEFAULT_MAX_BATCH = 16
EMULATE_ENV = "MSP_PYNQ_EMULATE"


def board_devices() -> list:
    """pynq's devices on this machine, without pynq's "no devices" warning (empty on a PC)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            emulated = getattr(sys.modules.get("msp_pynq.emulation.device"), "EmulatedDevice", ())
            return [d for d in pynq.Device.devices if not isinstance(d, emulated)]
        except Exception:        # pynq probing XRT/sysfs on an unusual machine: no board
            return []


def overlay_mode(manifest: OverlayManifest, emulate: "bool | None" = None) -> "tuple[str, str]":
    """``(mode, reason)``: "board" when pynq finds a board and ``manifest``'s overlay (.bit and
    .hwh) is installed, else "emulated" and why. ``emulate`` True forces the emulation; None
    also emulates when ``$MSP_PYNQ_EMULATE`` is set (CI, notebooks run off-board); False raises
    :class:`BoardNotFound` with the reason instead of emulating."""
    if emulate is True:
        return "emulated", "as requested"
    if emulate is None and os.environ.get(EMULATE_ENV, "") not in ("", "0"):
        return "emulated", f"{EMULATE_ENV} is set"
    found = board_devices()
    if found and manifest.installed:
        return "board", ""
    reason = missing_overlay_reason(manifest) if found else "no PYNQ board found"
    if emulate is False:
        raise BoardNotFound(f"{manifest.board}: {reason}")
    return "emulated", reason


def _check_max_batch(max_batch: int) -> int:
    """``max_batch`` if it is a whole number >= 1 (bools and floats refused)."""
    if isinstance(max_batch, bool) or not isinstance(max_batch, (int, np.integer)) or max_batch < 1:
        raise MSPError(f"max_batch must be a whole number >= 1, not {max_batch!r}")
    return int(max_batch)


class Runtime:
    """msp-pynq on a PYNQ board's overlay, or on its emulation (``mode``: "board" or "emulated").

    Use :meth:`open`; then :meth:`load` a bundle, :meth:`run` / :meth:`classify` images and
    :meth:`report` the time per stage. :meth:`close` frees every buffer; a Runtime never closed
    removes its emulated overlay's temporary folder when it is garbage-collected or, at the
    latest, when the interpreter exits.

    Thread policy: one lock per Runtime. :meth:`run`, :meth:`trace` and :meth:`classify` take
    it, so runs from several threads are serialized (each waits for the one in progress, whose
    every hardware wait is bounded by ``timeout_s``). :meth:`load`, :meth:`unload` and
    :meth:`close` do not wait: while another thread runs they raise :class:`RuntimeBusy`,
    because they free the DMA buffers that run is using.
    """

    def __init__(self, *, profile: BoardProfile, mode: str, manifest: OverlayManifest, overlay,
                 engine: MspEngine, dma, device, info: EngineInfo, timeout_s: float, max_batch: int,
                 workdir: "str | None", log: Callable[[str], None]) -> None:
        self.profile, self.board, self.mode = profile, profile.name, mode
        self.manifest, self.overlay, self.engine, self.dma, self.device = manifest, overlay, engine, dma, device
        self.info, self.timeout_s, self.max_batch = info, timeout_s, max_batch
        self._workdir, self._log = workdir, log
        self.bundle: "Bundle | None" = None
        self.program: "JobPlan | None" = None
        self.batch = 0
        self._last_use: "dict[str, int]" = {}
        self._buffers: dict = {}
        self._load_times: dict = {}
        self.last_run: "RunReport | None" = None
        self._runs = 0
        self._recoveries = 0
        self._lock = threading.Lock()
        # set while a run may have left a layer half-done on the hardware (an interruption that
        # landed anywhere, even inside the recovery itself); the next run resets first
        self._needs_reset = False
        # removes the emulated overlay's files if close() is never called (gc or exit)
        self._cleanup = weakref.finalize(self, shutil.rmtree, workdir, ignore_errors=True) if workdir else None

    # ---- opening ----------------------------------------------------------------------
    @classmethod
    def open(cls, board: str = "pynq-z2", emulate: "bool | None" = None, *,
             overlay_dir: "str | Path | None" = None, device: "EmulatedDevice | None" = None,
             timeout_s: float = DEFAULT_TIMEOUT_S, max_batch: int = DEFAULT_MAX_BATCH,
             record: bool = False, log: "Callable[[str], None] | None" = print) -> "Runtime":
        """Open the msp_engine overlay of ``board``.

        ``emulate``: True runs on an :class:`EmulatedDevice` (``device``, or a new one);
        False requires a board and its built overlay; None (default) decides by
        :func:`overlay_mode`. The choice is in ``mode`` and is
        logged (``log``, default ``print``; None silences it). ``timeout_s`` bounds every wait;
        ``max_batch`` caps the images per engine call; ``record`` turns the emulated device's
        recorder on. A ``timeout_s`` that is not a number of seconds in (0, 3600] and a
        ``max_batch`` that is not a whole number >= 1 are refused (:class:`MSPError`).
        """
        timeout_s = dmaops.check_timeout(timeout_s)
        max_batch = _check_max_batch(max_batch)
        if not (emulate is None or isinstance(emulate, bool)):
            raise MSPError(f"emulate must be True, False or None, not {emulate!r}")
        profile = get_profile(board)
        manifest = load_overlay_manifest(profile.name, overlay_dir)
        log = log or (lambda message: None)
        if device is not None and emulate is False:
            raise MSPError("device= is an emulated device; it cannot be used with emulate=False")
        mode, reason = overlay_mode(manifest, True if device is not None else emulate)
        workdir = None
        if mode == "emulated":
            if device is None:
                from ..emulation import EmulatedDevice     # loaded only when emulation is chosen
                device = EmulatedDevice(profile.name, manifest)
            dev = device
            dev.recorder.enabled |= record
            if dev.profile.name != profile.name:
                raise MSPError(f"device emulates {dev.profile.name}, not {profile.name}")
        try:
            if mode == "emulated":
                workdir = tempfile.mkdtemp(prefix="msp-pynq-overlay-")
                with dev.activate():                 # pynq 3.0.1 drivers use the active device
                    overlay = pynq.Overlay(str(dev.write_overlay(workdir)), device=dev)
            else:
                overlay = pynq.Overlay(str(manifest.bitstream_path))
                dev = overlay.device
            check_ip_dict(manifest, overlay.ip_dict)
            with dev.activate() if mode == "emulated" else contextlib.nullcontext():
                engine, dma = getattr(overlay, manifest.engine.name), getattr(overlay, manifest.dma.name)
            if not isinstance(engine, MspEngine):
                raise IncompatibleEngine(f"{manifest.engine.name} is bound to {type(engine).__name__}, "
                                         f"not MspEngine (VLNV {manifest.engine.vlnv})")
            info = engine.check_identity()
            engine.soft_reset(timeout_s)
            rt = cls(profile=profile, mode=mode, manifest=manifest, overlay=overlay, engine=engine, dma=dma,
                     device=dev, info=info, timeout_s=timeout_s, max_batch=max_batch, workdir=workdir, log=log)
        except BaseException:
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)
            raise
        log(f"msp_pynq runtime: {profile.name} {mode}" + (f" ({reason})" if reason else "")
            + f"; engine {info.version[0]}.{info.version[1]}, fingerprint {info.fingerprint_hex}, "
              f"{info.clock_mhz:g} MHz")
        return rt

    # ---- bundles ----------------------------------------------------------------------
    def load(self, bundle_path: "str | Path") -> Bundle:
        """Load a bundle for this board and engine; allocate and fill its buffers.

        Refused (BundleError): a bundle for another board or engine version
        (``load_bundle(path, board=...)``), one whose engine fingerprint differs from the
        engine's FINGERPRINT register, or one with a layer that does not fit the engine's buffers.
        Refused (:class:`RuntimeBusy`) while another thread runs images on this Runtime.
        """
        with self._exclusive("load()"):
            return self._load(bundle_path)

    def _load(self, bundle_path: "str | Path") -> Bundle:
        t0 = time.perf_counter()
        where = str(bundle_path)
        bundle = read_bundle(bundle_path, board=self.board)          # read and checked once
        stated = str(bundle.manifest.get("engine", {}).get("fingerprint", ""))
        if stated[:8] != self.info.fingerprint_hex:
            raise BundleError(f"{where}: compiled for engine {stated[:8] or '?'}, but the loaded "
                              f"overlay's engine reports fingerprint {self.info.fingerprint_hex}; "
                              f"recompile the model for this overlay or load the matching overlay")
        buffers = self.info.geometry
        program = plan_jobs(bundle.manifest, bundle.arrays, where, buffers)
        batch = program.batch_limit(buffers, self.max_batch, where)
        t1 = time.perf_counter()
        self._unload()
        in_bytes, out_bytes = program.buffer_nbytes(batch)
        bufs = {}
        try:
            for key, nbytes in (("params", program.param_nbytes), ("inputs", in_bytes), ("outputs", out_bytes)):
                bufs[key] = pynq.allocate((nbytes,), np.uint8, target=self.device)
            params = bufs["params"]
            for job in program.jobs:
                if job.params is not None:
                    params[job.param_offset:job.param_offset + job.params.size] = job.params
                    params[job.weight_offset:job.weight_offset + job.weights.size] = job.weights
            params.flush()
        except BaseException:
            for buf in bufs.values():
                buf.freebuffer()
            raise
        self._buffers, self.bundle, self.program, self.batch = bufs, bundle, program, batch
        self._last_use = last_uses(job.inputs for job in program.jobs)
        self._load_times = {"bundle_s": t1 - t0, "weights_s": time.perf_counter() - t1,
                            "param_bytes": program.param_nbytes, "input_buffer_bytes": in_bytes,
                            "output_buffer_bytes": out_bytes, "batch": batch}
        self._log(f"msp_pynq runtime: loaded {Path(where).name}: {len(program.jobs)} layers, "
                  f"{program.param_nbytes} bytes of parameters, batch {batch}")
        return bundle

    def unload(self) -> None:
        """Free the current bundle's buffers (:class:`RuntimeBusy` while another thread runs)."""
        with self._exclusive("unload()"):
            self._unload()

    def _unload(self) -> None:
        for buf in self._buffers.values():
            buf.freebuffer()
        self._buffers = {}
        self.bundle = self.program = None

    @contextlib.contextmanager
    def _exclusive(self, what: str):
        """Hold the run lock for ``what``, refusing at once (no wait) while a run holds it."""
        if not self._lock.acquire(blocking=False):
            raise RuntimeBusy(f"{what} refused: another thread is running images on this Runtime "
                              f"(it would free the buffers that run uses); call it once run() returns")
        try:
            yield
        finally:
            self._lock.release()

    # ---- running ----------------------------------------------------------------------
    def run(self, images: np.ndarray) -> np.ndarray:
        """float64 logits ``[N, classes]`` of uint8 NHWC images (bit-identical to ``Bundle.logits``).

        Zero images give an empty ``[0, classes]`` result. Images that are not uint8
        ``[N, H, W, C]`` of the bundle's input shape (or one ``[H, W, C]`` image) are refused
        with a :class:`BundleError` naming the shape expected; any memory layout is accepted.
        """
        with self._lock:
            return self._run(images, frozenset())[0]

    def trace(self, images: np.ndarray) -> "dict[str, np.ndarray]":
        """Every layer's output as the engine produced it (channel order restored), by tensor name,
        plus ``"logits"``: what :mod:`.selfcheck` compares with the emulator layer by layer."""
        with self._lock:
            self._check_loaded()
            logits, tensors = self._run(images, frozenset(job.output for job in self.program.jobs))
            return {**tensors, "logits": logits}

    def _check_loaded(self) -> None:
        if self.bundle is None:
            raise MspRuntimeError("no bundle loaded: call load() first")

    def _check_images(self, images) -> np.ndarray:
        """``images`` as a contiguous uint8 ``[N, H, W, C]`` array of the bundle's input shape."""
        h, w, c = self.bundle.input_shape
        want = f"{self.bundle.path}: images must be [N, {h}, {w}, {c}] (NHWC) uint8 pixels"
        try:
            x = np.asarray(images)
        except (TypeError, ValueError) as exc:          # ragged lists, objects numpy cannot read
            raise BundleError(f"{want}, found something that is not one array ({exc})") from None
        if x.ndim == 3:
            x = x[None]
        if x.dtype != np.uint8 or x.shape[1:] != (h, w, c) or x.ndim != 4:
            hint = "; convert float images to uint8 0..255 first" if x.dtype.kind in "fc" else ""
            raise BundleError(f"{want}, found {x.dtype} {list(x.shape)}{hint}")
        return np.ascontiguousarray(self.bundle.check_images(x))

    def _run(self, images: np.ndarray, keep: frozenset) -> "tuple[np.ndarray, dict]":
        """A run; the caller holds ``self._lock``."""
        self._check_loaded()
        dmaops.check_timeout(self.timeout_s)             # the attribute may have been changed
        t0 = time.perf_counter()
        emulated_s0, model_s0 = self._emulator_seconds(), self._device_model_seconds()
        x = self._check_images(images)
        if self._needs_reset:                            # an earlier run was interrupted mid-layer
            self.recover()
        run = RunReport(images=len(x), layers=[{"name": job.name, "op": job.op.name.lower(), "cycles": 0}
                                                for job in self.program.jobs])
        run.preprocess_s = time.perf_counter() - t0
        accs, kept = [], {name: [] for name in keep}
        self._needs_reset = True
        for start in range(0, len(x), self.batch):
            tensors = self._run_batch(x[start:start + self.batch], run, keep)
            accs.append(tensors[self.program.output_name])
            for name in keep:
                kept[name].append(tensors[name])
        self._needs_reset = False
        t = time.perf_counter()
        if not accs:                                     # no images: an empty result
            accs, kept = self._empty_outputs(keep)
        acc = np.concatenate(accs) if len(accs) > 1 else accs[0]
        logits = acc.astype(np.float64) * self.bundle.logit_scale
        run.postprocess_s += time.perf_counter() - t
        clock_hz = self.info.clock_khz * 1000.0
        for v in run.layers:
            v["engine_s"] = v["cycles"] / clock_hz
        run.batches = len(accs)
        run.engine_cycles = sum(v["cycles"] for v in run.layers)
        run.engine_s = run.engine_cycles / clock_hz
        run.wall_s = time.perf_counter() - t0
        run.emulator_s = self._emulator_seconds() - emulated_s0
        run.device_model_s = self._device_model_seconds() - model_s0
        self._runs += 1
        self.last_run = run
        return logits, {name: np.concatenate(parts) for name, parts in kept.items()}

    def _empty_outputs(self, keep: frozenset) -> "tuple[list, dict]":
        """Zero-image outputs: the network output and every kept tensor, shaped ``[0, ...]``."""
        empty = {job.output: np.zeros((0,) + (job.full_out_shape or job.out_shape), job.descriptor.output_dtype)
                 for job in self.program.jobs}
        empty[self.program.output_name] = np.zeros((0, len(self.bundle.logit_scale)), np.int32)
        return [empty[self.program.output_name]], {name: [empty[name]] for name in keep}

    def _emulator_seconds(self) -> float:
        """Host time the emulated engine has spent computing (0 on a board)."""
        return self.device.engine_model.compute_s if self.mode == "emulated" else 0.0

    def _device_model_seconds(self) -> float:
        """Host time inside the emulated device's models, engine compute included (0 on a board)."""
        return self.device.model_s if self.mode == "emulated" else 0.0

    def _run_batch(self, x: np.ndarray, run: RunReport, keep: frozenset) -> dict:
        """One engine call per layer on a batch; tensors not in ``keep`` are dropped after their
        last use. Returns the network output and the kept tensors by name."""
        tensors, kept = {self.program.input_name: x}, keep | {self.program.output_name}
        for index, job in enumerate(self.program.jobs):
            try:
                out = self._run_job(job, [tensors[n] for n in job.inputs], run, run.layers[index])
            except BaseException as exc:          # KeyboardInterrupt too: it can land mid-transfer
                try:
                    self.recover()
                except Exception as failed:
                    if not isinstance(exc, Exception):
                        raise exc                 # the interruption stays; the next run resets
                    raise MspRuntimeError(f"{exc}; resetting the DMA and the engine afterwards "
                                          f"failed too: {failed}") from exc
                raise
            if job.tile[1] == 1 and job.row_order is None:
                tensors[job.output] = out
            else:                                         # tiles, engine order -> channel order
                if job.tile[0] == 0:
                    tensors[job.output] = np.empty((len(x),) + (job.full_out_shape or job.out_shape), out.dtype)
                dest = tensors[job.output]
                if job.out_rows is not None:
                    dest = dest[:, job.out_rows[0]:job.out_rows[1]]
                if job.row_order is None:
                    dest[...] = out
                else:
                    dest[..., job.row_order] = out
            release(tensors, job.inputs, index, self._last_use, kept)
        return tensors

    def _run_job(self, job: LayerJob, inputs: "list[np.ndarray]", run: RunReport, layer_stats: dict) -> np.ndarray:
        """Copy the inputs into the DMA buffer, run the layer on the engine, fetch its output
        (channels in engine row order)."""
        n = len(inputs[0])
        if job.in_rows is not None:                       # a band tile reads its rows only
            inputs = [t[:, job.in_rows[0]:job.in_rows[1]] for t in inputs]
        desc = job.descriptor_for(n)
        t0 = time.perf_counter()
        inbuf, outbuf, params = self._buffers["inputs"], self._buffers["outputs"], self._buffers["params"]
        packets, offset = [], 0
        if job.params is not None:
            packets += [params[job.param_offset:job.param_offset + job.params.size],
                        params[job.weight_offset:job.weight_offset + job.weights.size]]
        for tensor in inputs:
            flat = np.ascontiguousarray(tensor).reshape(-1).view(np.uint8)
            inbuf[offset:offset + flat.size] = flat
            packets.append(inbuf[offset:offset + flat.size])
            offset = align(offset + flat.size)
        output = outbuf[:desc.output_nbytes]
        result = self.engine.run_layer(self.dma, job.name, desc, packets, output, self.timeout_s)
        out = np.array(output).view(desc.output_dtype).reshape((n,) + job.out_shape)
        weights_s, wait_s = result.times.get("weights_s", 0.0), result.times.get("engine_wait_s", 0.0)
        run.weights_s += weights_s
        run.engine_wait_s += wait_s
        run.dma_s += time.perf_counter() - t0 - weights_s - wait_s
        layer_stats["cycles"] += result.cycles
        return out

    def classify(self, image: np.ndarray) -> "tuple[int, str, float]":
        """``(class index, class name, score)`` of one uint8 HWC image; the score is the
        softmax of the logits at that class (probability-like, not calibrated)."""
        try:
            x = np.asarray(image)
        except (TypeError, ValueError):
            x = np.asarray(None)                          # refused below with the shape expected
        if x.ndim == 4 and len(x) != 1:
            raise MSPError(f"classify takes one image, got a batch of {len(x)}; use run()")
        with self._lock:                                  # the names of the bundle that ran
            self._check_loaded()
            logits = self._run(image if x.ndim != 3 else x[None], frozenset())[0][0]
            names = self.bundle.classes
        index = int(np.argmax(logits))
        return index, (names[index] if index < len(names) else str(index)), float(softmax(logits)[index])

    # ---- recovery and reporting -------------------------------------------------------
    def recover(self) -> None:
        """Reset the AXI DMA (both channels) and then the engine; the next run starts clean."""
        self._recoveries += 1
        dmaops.reset_dma(self.dma, self.timeout_s)
        self.engine.soft_reset(self.timeout_s)
        self._needs_reset = False

    def report(self) -> dict:
        """Time per stage of the last run and of the bundle load.

        ``last_run``: the last run's :class:`~.report.RunReport` as a dict (its stages, engine
        cycles and time, wall time, per-layer figures; {} before the first run). Host times are
        wall-clock seconds of this machine.
        """
        return {"mode": self.mode, "board": self.board,
                "bundle": self.bundle.path if self.bundle else None,
                "engine": {"version": "%d.%d" % self.info.version, "fingerprint": self.info.fingerprint_hex,
                           "clock_mhz": self.info.clock_mhz, "vector_width": self.info.geometry.vector_width,
                           "lut_rows": self.info.geometry.lut_rows, "dsp_rows": self.info.geometry.dsp_rows},
                "load": dict(self._load_times), "runs": self._runs, "recoveries": self._recoveries,
                "last_run": self.last_run.as_dict() if self.last_run else {}}

    # ---- closing ----------------------------------------------------------------------
    def close(self) -> None:
        """Free the buffers and the emulated overlay's files (:class:`RuntimeBusy` while another
        thread runs)."""
        with self._exclusive("close()"):
            self._unload()
            if self._cleanup is not None:
                self._cleanup()                          # removes the folder, once
            self._workdir = None

    def __enter__(self) -> "Runtime":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Runtime {self.board} {self.mode}, bundle {self.bundle.path if self.bundle else None}>"
