"""Model names for the CLI: ``build_model('resnet20')``."""
from __future__ import annotations

from ..errors import MSPError

MODELS = ("resnet20", "resnet32", "cnv", "resnet18")


def build_model(name: str, num_classes: "int | None" = None):
    """A fresh float model by name (torch needed)."""
    from .cnv import CNV
    from .resnet import CifarResNet, ResNet18
    builders = {
        "resnet20": lambda: CifarResNet(20, num_classes or 10),
        "resnet32": lambda: CifarResNet(32, num_classes or 10),
        "cnv": lambda: CNV(num_classes or 10),
        "resnet18": lambda: ResNet18(num_classes or 1000),
    }
    if name not in builders:
        raise MSPError(f"unknown model {name!r}; known models: {', '.join(MODELS)}")
    return builders[name]()
