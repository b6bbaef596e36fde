"""Fixtures of the runtime tests: bundles, and runtimes on the emulated device.

Only the device is emulated: pynq's own Overlay, MMIO, allocate and AXI DMA driver run. The
ResNet-20 bundles come from a QAT model through ONNX and the compiler (torch, onnx: host
extras); the tiny bundles are written straight from emulator layers (numpy only).
"""
from __future__ import annotations

import os

import pytest

from .runtime_helpers import pool_fc_network, tiny_network, write_bundle


@pytest.fixture
def tiny_bundle(tmp_path):
    """Factory: ``tiny_bundle(board="pynq-z2", kind="tiny" | "pool_fc")`` -> bundle path."""
    def make(board: str = "pynq-z2", kind: str = "tiny", seed: int = 0) -> str:
        if kind == "tiny":
            return write_bundle(tmp_path / f"tiny.{board}.{seed}.mspb", tiny_network(seed), board, (6, 6, 3))
        return write_bundle(tmp_path / f"poolfc.{board}.{seed}.mspb", pool_fc_network(seed), board, (4, 4, 3))
    return make


@pytest.fixture
def runtime():
    """Factory: ``runtime(board, **kw)`` -> an emulated Runtime, closed after the test."""
    from msp_pynq.runtime import Runtime
    opened = []

    def open_(board: str = "pynq-z2", **kw):
        kw.setdefault("log", None)
        rt = Runtime.open(board, emulate=kw.pop("emulate", True), **kw)
        opened.append(rt)
        return rt
    yield open_
    for rt in opened:
        rt.close()


def _qat_resnet20(seed: int = 0):
    from qat_helpers import random_qat_model
    return random_qat_model("resnet20", seed)


@pytest.fixture(scope="module")
def resnet_bundles(tmp_path_factory):
    """``{"pynq-z2": path, "zcu104": path}``: one small ResNet-20 compiled for each board.

    With ``MSP_PYNQ_TEST_BUNDLES`` set to a path with ``{board}`` in it, those bundles are used
    instead (a venv without torch, e.g. the pynq 3.0.1 one of ``make test``, uses the committed ones).
    """
    prebuilt = os.environ.get("MSP_PYNQ_TEST_BUNDLES")
    if prebuilt:
        return {board: prebuilt.format(board=board) for board in ("pynq-z2", "zcu104")}
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from msp_pynq.compiler import compile
    from msp_pynq.export import to_onnx
    tmp = tmp_path_factory.mktemp("resnet20")
    to_onnx(_qat_resnet20(), str(tmp / "r20.onnx"), class_names=[f"c{i}" for i in range(10)])
    return {board: str(compile(tmp / "r20.onnx", board=board, out=tmp / f"r20.{board}.mspb"))
            for board in ("pynq-z2", "zcu104")}
