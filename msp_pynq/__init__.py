"""msp-pynq: MSP mixed-scheme, multi-precision CNNs on PYNQ boards.

The board side needs only numpy (and pynq on the board); torch, onnx and onnxruntime are
host-side extras, imported only when a function that needs them is first used:

>>> import msp_pynq
>>> callable(msp_pynq.quantize) and callable(msp_pynq.compile)   # torch / onnx load lazily here
True
"""
from __future__ import annotations

from .errors import ContractError, LayerError, MSPError

__version__ = "0.1.0"

_LAZY = {  # public name -> (module, attribute); host-side, so not imported with the package
    "quantize": ("msp_pynq.quant.api", "quantize"),
    "compile": ("msp_pynq.compiler", "compile"),
    "to_onnx": ("msp_pynq.export.onnx_export", "to_onnx"),
    "load_bundle": ("msp_pynq.bundle.io", "load_bundle"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'msp_pynq' has no attribute {name!r}")


__all__ = ["MSPError", "ContractError", "LayerError", "__version__", *_LAZY]
