"""Synthetic integer networks in the MSP mix, for benchmarks and tests.

Weights are random levels of each row's scheme, rows split between SP2,
fixed-4 and fixed-8 as a board profile dictates, and requantization
multipliers calibrated on a random batch so activations use their range
(neither all zero nor all saturated).

>>> net = resnet20(seed=0)
>>> len([l for l in net.layers if hasattr(l, "schemes")])   # 19 convs + 2 shortcut convs + fc
22
"""
from __future__ import annotations

import numpy as np

from ..boards.profiles import get_profile, row_split
from ..numerics.activations import S8, U4, U8, ActSpec
from ..numerics.requant import quantize_multipliers, quantize_multipliers_shared
from ..numerics.schemes import Scheme
from . import fast
from .layers import Add, Conv2d, GlobalAvgPool, Linear
from .network import Network

_SP2_PROBS = {0: 0.22, 1: 0.14, 2: 0.12, 4: 0.1, 5: 0.06, 6: 0.04, 8: 0.02}


def random_weights(rng: np.random.Generator, schemes: np.ndarray, shape: tuple) -> np.ndarray:
    """Bell-shaped random levels of each row's scheme; ``shape[0]`` rows."""
    w = np.empty(shape, np.int8)
    per_row = int(np.prod(shape[1:]))
    levels = np.array(sorted({v for k in _SP2_PROBS for v in (k, -k)}))
    probs = np.array([_SP2_PROBS[abs(v)] for v in levels], float)
    for row, s in enumerate(schemes):
        if s == Scheme.SP2_4:
            vals = rng.choice(levels, per_row, p=probs / probs.sum())
        else:
            q = Scheme(int(s)).qmax
            vals = np.clip(np.rint(rng.normal(0, q / 2.5, per_row)), -q, q)
        w[row] = vals.reshape(shape[1:])
    return w


def random_schemes(rng: np.random.Generator, rows: int, board: str, share_8bit: float,
                   all_8bit: bool = False) -> np.ndarray:
    if all_8bit:
        return np.full(rows, Scheme.FIXED8, np.uint8)
    split = row_split(rows, get_profile(board), share_8bit)
    schemes = np.array([Scheme.SP2_4] * split.sp2 + [Scheme.FIXED4] * split.fixed4 +
                       [Scheme.FIXED8] * split.fixed8, np.uint8)
    return rng.permutation(schemes)


def _calibrated_multipliers(acc: np.ndarray, out: ActSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per-row multipliers mapping the 99.5th percentile of each row to the output maximum."""
    rows = acc.reshape(-1, acc.shape[-1]).astype(np.float64)
    spread = np.percentile(np.abs(rows) if out.signed else np.maximum(rows, 0), 99.5, axis=0)
    return quantize_multipliers(out.hi / np.maximum(spread, 1.0))


class _Builder:
    def __init__(self, seed: int, board: str, share_8bit: float, calib: np.ndarray) -> None:
        self.rng = np.random.default_rng(seed)
        self.board, self.share_8bit = board, share_8bit
        self.layers: list = []
        self.tensors = {"input": calib}

    def weight_layer(self, cls, name, src, shape, in_spec, out_spec, all_8bit=False, **kw):
        schemes = random_schemes(self.rng, shape[0], self.board, self.share_8bit, all_8bit)
        weights = random_weights(self.rng, schemes, shape)
        bias = self.rng.integers(-64, 65, shape[0])
        common = dict(name=name, inputs=(src,), weights=weights, schemes=schemes, bias=bias,
                      in_spec=in_spec, **kw)
        raw = fast.run_layer(cls(out_spec=None, **common), self.tensors[src])
        if out_spec is None:
            return self._add(cls(out_spec=None, **common), raw)
        m, s = _calibrated_multipliers(raw, out_spec)
        return self._add(cls(out_spec=out_spec, multiplier=m, shift=s, **common), None)

    def add(self, name, a, b, specs, out_spec):
        xa, xb = (self.tensors[t].astype(np.float64) for t in (a, b))
        na = 1.0 / max(np.percentile(np.abs(xa), 99.5), 1.0)
        nb = 1.0 / max(np.percentile(np.abs(xb), 99.5), 1.0)
        total = np.maximum(xa * na + xb * nb, 0)
        gain = out_spec.hi / max(np.percentile(total, 99.5), 1e-9)
        (ma, mb), s = quantize_multipliers_shared([na * gain, nb * gain])
        return self._add(Add(name=name, inputs=(a, b), in_specs=specs, multipliers=(ma, mb),
                             shift=s, out_spec=out_spec), None)

    def gap(self, name, src, in_spec, out_spec):
        sums = self.tensors[src].astype(np.float64).sum(axis=(1, 2))
        (m,), (s,) = quantize_multipliers(np.array([out_spec.hi / max(np.percentile(sums, 99.5), 1.0)]))
        return self._add(GlobalAvgPool(name=name, inputs=(src,), multiplier=m, shift=s,
                                       in_spec=in_spec, out_spec=out_spec), None)

    def _add(self, layer, value):
        self.layers.append(layer)
        self.tensors[layer.output] = value if value is not None else fast.run_layer(
            layer, *(self.tensors[t] for t in layer.inputs))
        return layer.output


def resnet20(seed: int = 0, board: str = "pynq-z2", share_8bit: float = 0.05, act: ActSpec = U4,
             image_size: int = 32, classes: int = 10, calib_batch: int = 16) -> Network:
    """A ResNet-20-shaped (CIFAR) integer network with random weights in the MSP mix.

    First and last layers are all fixed-8; 1x1 convolutions downsample the shortcut
    where the stage changes width (ResNet "option B"). Output: int32 logits.
    """
    rng = np.random.default_rng(seed + 1)
    calib = rng.integers(0, 256, (calib_batch, image_size, image_size, 3), dtype=np.uint8)
    b = _Builder(seed, board, share_8bit, calib)
    x = b.weight_layer(Conv2d, "conv1", "input", (16, 3, 3, 3), U8, act, all_8bit=True, padding=1)
    cin = 16
    for stage, width in enumerate((16, 32, 64)):
        for block in range(3):
            stride = 2 if stage > 0 and block == 0 else 1
            p = f"s{stage + 1}b{block + 1}"
            h = b.weight_layer(Conv2d, f"{p}.conv1", x, (width, 3, 3, cin), act, act,
                               stride=stride, padding=1)
            h = b.weight_layer(Conv2d, f"{p}.conv2", h, (width, 3, 3, width), act, S8, padding=1)
            skip, skip_spec = x, act
            if stride != 1 or cin != width:
                skip = b.weight_layer(Conv2d, f"{p}.down", x, (width, 1, 1, cin), act, S8,
                                      stride=stride)
                skip_spec = S8
            x = b.add(f"{p}.add", h, skip, (S8, skip_spec), act)
            cin = width
    x = b.gap("gap", x, act, U8)
    b.weight_layer(Linear, "fc", x, (classes, cin), U8, None, all_8bit=True)
    return Network(b.layers)


def layer_macs(net: Network, image_size: int = 32) -> int:
    """Multiply-accumulates of one image through the network's weight layers."""
    x = np.zeros((1, image_size, image_size, 3), np.uint8)
    outs = net.run(x, keep=[l.output for l in net.layers])
    total = 0
    for layer in net.layers:
        if hasattr(layer, "schemes"):
            total += int(np.prod(outs[layer.output].shape[1:-1], dtype=np.int64)) * layer.rows * layer.k
    return total
