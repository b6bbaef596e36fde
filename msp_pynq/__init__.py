"""msp-pynq: MSP mixed-scheme, multi-precision CNNs on PYNQ boards.

The board side needs only numpy (and pynq on the board); torch, onnx and
onnxruntime are host-side extras imported only by the modules that need them.
"""
from .errors import ContractError, LayerError, MSPError

__version__ = "0.1.0"

__all__ = ["MSPError", "ContractError", "LayerError", "__version__"]
