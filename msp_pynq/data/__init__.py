"""Datasets as uint8 NHWC arrays (numpy only; decoding needs Pillow)."""
from .cifar10 import CIFAR10_CLASSES, default_root, load_cifar10

__all__ = ["CIFAR10_CLASSES", "default_root", "load_cifar10"]
