"""ONNX (msp-pynq QDQ) to a model bundle for one board: ``msp_pynq.compile(onnx_path, board)``."""
from __future__ import annotations

from pathlib import Path

from ..emulator.network import Network
from ..fileio import check_output, show, strict_json
from .onnx_file import is_quantized, load_onnx, read_onnx
from .onnx_reader import CompileError, Program, read_program


def compile(onnx_path: "str | Path", board: str = "pynq-z2", out: "str | Path | None" = None) -> Path:
    """Compile an msp-pynq QDQ ONNX model into a bundle for ``board``; returns the bundle path.

    The bundle is written whole or not at all, and never over the ONNX file itself.

    >>> compile("resnet20_msp.onnx", board="pynq-z2")        # doctest: +SKIP
    PosixPath('resnet20_msp.pynq-z2.mspb')
    """
    from ..boards.profiles import get_profile
    from ..bundle.io import save_bundle

    onnx_path = Path(onnx_path)
    profile = get_profile(board)
    out = Path(out) if out else onnx_path.with_suffix(f".{profile.name}.mspb")
    check_output(out, [onnx_path], "bundle")             # before the work, not after
    model, digest = read_onnx(onnx_path)
    program = read_program(model)
    network = Network(program.layers, input_name=program.input.name, input_spec=program.input.spec)
    classes = program.meta.get("msp_pynq.classes", "[]")
    classes = strict_json(classes, "ONNX metadata msp_pynq.classes")
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise CompileError(f"{show(onnx_path)}: metadata msp_pynq.classes is not a list of names")
    config = strict_json(program.meta.get("msp_pynq.config", "{}"), "ONNX metadata msp_pynq.config")
    source = {"onnx": onnx_path.name, "sha256": digest, "config": config}
    save_bundle(out, network, program.logit_scale, profile.name, program.input.shape, classes, source)
    return out


__all__ = ["compile", "CompileError", "Program", "read_program", "load_onnx", "is_quantized"]
