"""CNV: the CIFAR-10 topology of the FINN / BNN-PYNQ demos (Umuroglu et al. 2017), in float.

Six 3x3 convolutions without padding (64, 64, pool, 128, 128, pool, 256, 256) and three
fully connected layers (512, 512, 10), each followed by batch norm; ReLU activations here
(the FINN originals binarise or use 2-bit activations).
"""
from __future__ import annotations

import torch
from torch import nn


def _conv(cin: int, cout: int) -> list:
    return [nn.Conv2d(cin, cout, 3, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class CNV(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv(3, 64), *_conv(64, 64), nn.MaxPool2d(2),
            *_conv(64, 128), *_conv(128, 128), nn.MaxPool2d(2),
            *_conv(128, 256), *_conv(256, 256))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(256, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(),
            nn.Linear(512, 512, bias=False), nn.BatchNorm1d(512), nn.ReLU(),
            nn.Linear(512, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))
