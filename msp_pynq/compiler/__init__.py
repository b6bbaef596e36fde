"""ONNX (msp-pynq QDQ) to a model bundle for one board: ``msp_pynq.compile(onnx_path, board)``."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..emulator.network import Network
from .onnx_reader import CompileError, Program, read_program


def compile(onnx_path: "str | Path", board: str = "pynq-z2", out: "str | Path | None" = None) -> Path:
    """Compile an msp-pynq QDQ ONNX model into a bundle for ``board``; returns the bundle path.

    >>> compile("resnet20_msp.onnx", board="pynq-z2")        # doctest: +SKIP
    PosixPath('resnet20_msp.pynq-z2.mspb')
    """
    import onnx
    from ..boards.profiles import get_profile
    from ..bundle.model import save_bundle

    onnx_path = Path(onnx_path)
    profile = get_profile(board)
    try:
        model = onnx.load(str(onnx_path))
    except Exception as exc:          # onnx raises DecodeError, OSError, ...
        raise CompileError(f"{onnx_path}: cannot read ONNX ({exc})") from None
    program = read_program(model)
    network = Network(program.layers, input_name=program.input.name, input_spec=program.input.spec)
    out = Path(out) if out else onnx_path.with_suffix(f".{profile.name}.mspb")
    classes = json.loads(program.meta.get("msp_pynq.classes", "[]"))
    source = {"onnx": onnx_path.name, "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
              "config": json.loads(program.meta.get("msp_pynq.config", "{}"))}
    save_bundle(out, network, program.logit_scale, profile.name, program.input.shape, classes, source)
    return out


__all__ = ["compile", "CompileError", "Program", "read_program"]
