"""Runtime benchmark: the host overhead of the runtime itself and the modelled board speed.

On the emulated device every run reports ``emulator_s``, the host time inside the engine
emulator, and ``device_model_s``, the host time inside all the device models (register, AXI DMA
and engine models, the emulator included): what MMIO on a board would not cost this PC.
``wall_s - device_model_s`` is what the runtime itself costs on the host: image checks, pynq's
MMIO and DMA driver calls, register programming, copies into and out of the DMA buffers, polling,
post-processing. ``wall_s - emulator_s`` is reported too (emulated register models included).
The modelled board time is the engine's CYCLES over its clock: the cycle model of the Verilog
engine (:mod:`msp_pynq.engine.cycles`, checked against its simulation) at the board profile's clock.

>>> rows = bench_bundles(["models/resnet20-msp8-exact.pynq-z2.mspb"], batches=(1,), seconds=0.1)  # doctest: +SKIP
>>> print(markdown(rows))                                                                         # doctest: +SKIP
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..bundle.container import read_container
from ..runtime import Runtime


def time_runs(rt: Runtime, images: np.ndarray, seconds: float = 3.0, min_runs: int = 3) -> "list[dict]":
    """Run ``images`` on a loaded runtime once to warm up (layer caches, buffers), then again until
    ``seconds`` have passed and at least ``min_runs`` runs are done: each timed run's
    ``rt.report()["last_run"]``. Every run's own waits are bounded by the runtime's timeout.
    """
    if min_runs < 1:
        raise ValueError(f"min_runs must be at least 1, got {min_runs}")
    rt.run(images)
    runs, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(runs) < min_runs:
        rt.run(images)
        runs.append(rt.report()["last_run"])
    return runs


def bench_bundle(path: "str | Path", batch: int, seconds: float = 3.0, threads: int = 1) -> dict:
    """Run ``path`` on its board's emulated overlay, ``batch`` images per call, for ``seconds``."""
    from threadpoolctl import threadpool_limits
    board = read_container(path)[0].get("board")
    with threadpool_limits(threads), Runtime.open(board, emulate=True, log=None) as rt:
        bundle = rt.load(path)
        x = np.random.default_rng(0).integers(0, 256, (batch,) + bundle.input_shape, dtype=np.uint8)
        runs = time_runs(rt, x, seconds)
    total = {k: sum(r[k] for r in runs) for k in runs[0] if k.endswith("_s")}
    images = batch * len(runs)
    per_image_ms = {k: 1e3 * v / images for k, v in total.items()}
    return {"bundle": Path(path).name, "board": board, "batch": batch, "images": images, "threads": threads,
            "host_overhead_ms": per_image_ms["wall_s"] - per_image_ms["device_model_s"],
            "host_with_models_ms": per_image_ms["wall_s"] - per_image_ms["emulator_s"],
            "stages_ms": per_image_ms, "modelled_engine_ms": per_image_ms["engine_s"],
            "modelled_fps": images / total["engine_s"], "emulated_fps": images / total["wall_s"]}


def bench_bundles(paths: "list[str | Path]", batches: "tuple[int, ...]" = (1, 16), seconds: float = 3.0,
                  threads: int = 1, progress: bool = False) -> "list[dict]":
    """:func:`bench_bundle` for every bundle and batch size."""
    from tqdm import tqdm
    jobs = [(p, b) for p in paths for b in batches]
    return [bench_bundle(p, b, seconds, threads) for p, b in tqdm(jobs, desc="bench", disable=not progress)]


def markdown(rows: "list[dict]") -> str:
    """The results as Markdown tables, with the peers' published figures beside them."""
    lines = ["| bundle | board | batch | runtime host ms/image | + emulated register/DMA models | "
             "modelled engine ms/image | modelled board fps | emulated end-to-end img/s (this PC) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['bundle']} | {r['board']} | {r['batch']} | {r['host_overhead_ms']:.2f} | "
                     f"{r['host_with_models_ms']:.2f} | {r['modelled_engine_ms']:.3f} | "
                     f"{r['modelled_fps']:,.0f} | {r['emulated_fps']:,.0f} |")
    return "\n".join(lines + ["", *peers_markdown()])


def peers_markdown() -> "list[str]":
    """The peers' published figures (``docs/peers.json``) as Markdown lines; one line saying where
    it was looked for when the file is not there (an installed package without the docs)."""
    from ..datafiles import find_file
    from ..perf.files import load_peers, percent_text
    try:
        peers = load_peers(find_file("docs/peers.json"))
    except FileNotFoundError as exc:
        return [f"(No peers' figures: {exc}.)"]
    lines = ["Published figures of the projects users compare us with (quoted from the project brief "
             "via `docs/peers.json`, not measured here):", "",
             "| system | board | model | dataset | figure | accuracy | note |", "|---|---|---|---|---:|---:|---|"]
    for p in peers:
        lines.append(f"| {p.system} | {p.board} | {p.model or ''} | {p.dataset or ''} | {p.figure_text} | "
                     f"{'' if p.accuracy_pct is None else percent_text(p.accuracy_pct)} | {p.note} |")
    return lines
