"""The golden CPU emulator: exact integer layers (fast path and int64 reference)."""
from .layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d
from .network import Network

__all__ = ["Add", "Conv2d", "GlobalAvgPool", "Linear", "MaxPool2d", "Network"]
