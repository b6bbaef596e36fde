"""What every msp-pynq notebook does first: say where it runs, and find its files.

A notebook's first cell calls :func:`where` (or :func:`open_runtime`, which calls it), so its first
output says whether it drives a PYNQ board or the emulated overlay on a PC:

>>> info = where(log=None)
>>> info.board in ("pynq-z2", "zcu104") and info.mode in ("board", "emulated")
True

Needs numpy and pynq only (board side).
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import __version__
from .datafiles import find_file, package_root  # noqa: F401  (notebooks import find_file from here)

# PYNQ images set $BOARD; the Pynq-Z1 carries the same XC7Z020 as the Pynq-Z2, and the overlay
# uses no board pins, so it runs the pynq-z2 overlay.
PYNQ_BOARD_NAMES = {"pynq-z2": "pynq-z2", "pynq-z1": "pynq-z2", "zcu104": "zcu104"}
DEFAULT_BOARD = "pynq-z2"


@dataclass(frozen=True)
class Where:
    """Where a notebook runs: ``board`` (profile name), ``mode`` ("board" or "emulated"),
    ``reason`` (why emulated), ``message`` (the line :func:`where` printed)."""

    board: str
    mode: str
    reason: str
    message: str

    @property
    def emulated(self) -> bool:
        return self.mode == "emulated"


def detect_board(default: str = DEFAULT_BOARD) -> str:
    """The board profile for this machine: ``$MSP_PYNQ_BOARD``, else the PYNQ image's
    ``$BOARD`` (Pynq-Z2, Pynq-Z1, ZCU104), else ``default``.

    >>> detect_board() in ("pynq-z2", "zcu104")
    True
    """
    for var in ("MSP_PYNQ_BOARD", "BOARD"):
        name = os.environ.get(var, "").strip().lower()
        if name in PYNQ_BOARD_NAMES:
            return PYNQ_BOARD_NAMES[name]
    return default


def where(board: "str | None" = None, log: "Callable[[str], None] | None" = print) -> Where:
    """Detect the board and whether its overlay can run here; print one line saying so.

    The mode is what :meth:`msp_pynq.runtime.Runtime.open` with ``emulate=None`` picks
    (:func:`msp_pynq.runtime.runtime.overlay_mode`): the board when pynq finds one and the
    overlay is installed, the emulation otherwise; ``$MSP_PYNQ_EMULATE=1`` forces the emulation.
    """
    import pynq

    from .runtime.overlays import load_overlay_manifest
    from .runtime.runtime import overlay_mode
    name = board or detect_board()
    manifest = load_overlay_manifest(name)
    mode, reason = overlay_mode(manifest)
    if mode == "board":
        message = (f"msp-pynq {__version__} on a {name} board: the {manifest.bitstream} overlay "
                   f"drives the FPGA (pynq {pynq.__version__})")
    else:
        message = (f"msp-pynq {__version__} EMULATED on {platform.machine()} ({reason}): the {name} "
                   f"overlay runs on the bit-exact CPU engine, through the real pynq "
                   f"{pynq.__version__} drivers; engine times are modelled, not measured")
    if log:
        log(message)
    return Where(name, mode, reason, message)


def open_runtime(board: "str | None" = None, **kwargs):
    """:func:`where`, then :meth:`Runtime.open` in the mode it printed.

    Keyword arguments go to ``Runtime.open`` (``timeout_s``, ``max_batch``, ``log``...).
    """
    from .runtime import Runtime
    w = where(board, log=kwargs.pop("where_log", print))
    return Runtime.open(w.board, emulate=w.emulated, **kwargs)


def host_packages(log: "Callable[[str], None] | None" = print) -> bool:
    """True when the host extras a training notebook needs (torch, onnx) import here; otherwise
    says which are missing (a board image has neither) and returns False.

    >>> isinstance(host_packages(log=None), bool)
    True
    """
    import importlib.util
    missing = [name for name in ("torch", "onnx") if importlib.util.find_spec(name) is None]
    if missing and log:
        log(f"host packages missing here: {', '.join(missing)}; the training cells skip "
            f"(pip install 'msp-pynq[host]' on a PC to run them)")
    return not missing


def execute_notebook(path: "str | Path", workdir: "str | Path", cell_timeout_s: int = 900,
                     env: "dict[str, str] | None" = None):
    """Run a notebook top to bottom in a fresh ``python3`` Jupyter kernel (nbclient), in
    ``workdir``, with ``env`` added to the kernel's environment; returns ``(notebook, seconds)``.
    The kernel imports this same msp_pynq (its folder goes first on ``PYTHONPATH``). A failing
    cell raises nbclient's ``CellExecutionError`` naming the cell; ``cell_timeout_s`` only catches
    a hung cell (a loaded CI machine runs the training cells several times slower). For CI and
    ``scripts/run_notebooks.py``; needs nbclient, nbformat and ipykernel."""
    import time

    import nbclient
    import nbformat
    nb = nbformat.read(str(path), as_version=4)
    paths = [str(package_root().parent)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {**(env or {}), "PYTHONPATH": os.pathsep.join(paths)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)                            # the kernel inherits this process's environment
    try:
        t0 = time.perf_counter()
        nbclient.NotebookClient(nb, timeout=cell_timeout_s, kernel_name="python3",
                                resources={"metadata": {"path": str(workdir)}}).execute()
        return nb, time.perf_counter() - t0
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
