"""Float model definitions (PyTorch): ResNet-20 and CNV for CIFAR-10, ResNet-18 for ImageNet shapes.

All take ``float [N, 3, H, W]`` pixels scaled to [0, 1] (``uint8 / 255``) with no mean/std
normalisation, so that zero padding is pixel value 0 as in the integer contract.
"""
from .registry import MODELS, build_model

__all__ = ["MODELS", "build_model"]
