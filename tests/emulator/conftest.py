"""Fixtures of the emulator tests (helpers that are not fixtures live in emulator_helpers)."""
from __future__ import annotations

import numpy as np
import pytest

from msp_pynq.emulator.synthetic import resnet20


@pytest.fixture(scope="module")
def resnet():
    return resnet20(seed=3)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(42).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
