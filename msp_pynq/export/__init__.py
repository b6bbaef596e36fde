"""Export of quantized models to standard ONNX (QDQ operators plus MSP metadata)."""
from .onnx_export import to_onnx

__all__ = ["to_onnx"]
