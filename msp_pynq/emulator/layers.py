"""The layers the engine runs, as validated integer data (no arithmetic here).

A layer names its input tensors and its output tensor, so a list of layers is
a program (see :mod:`msp_pynq.emulator.network`). Construction checks every
field against the contract and raises :class:`LayerError` naming the layer.
The arithmetic lives in :mod:`.reference` (plain int64) and :mod:`.fast`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Tuple, Union

import numpy as np

from ..engine.limits import engine_limits
from ..errors import ContractError, LayerError
from ..numerics.activations import U4, U8, ActSpec
from ..numerics.bounds import BIAS_MAX, MAX_K
from ..numerics.requant import check_requant_params
from ..numerics.schemes import Scheme, invalid_values, parse_schemes
from ..numerics.windows import window_out_len

Pair = Tuple[int, int]
Quad = Tuple[int, int, int, int]


def _check_limit(layer: str, what: str, values, limit: int) -> None:
    if max(values) > limit:
        raise LayerError(layer, f"{what} {tuple(values) if len(values) > 1 else values[0]} exceeds "
                                f"the engine's limit of {limit}")


def _check_window(layer: str, kernel: Pair, stride: Pair, padding: Quad) -> None:
    lim = engine_limits()
    _check_limit(layer, "kernel", kernel, lim.kernel)
    _check_limit(layer, "stride", stride, lim.stride)
    _check_limit(layer, "padding", padding, lim.padding)


def _pair(value: "int | Pair", what: str, layer: str, minimum: int) -> Pair:
    v = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(v) != 2 or any(not isinstance(x, (int, np.integer)) or x < minimum for x in v):
        raise LayerError(layer, f"{what} must be an int or a pair of ints >= {minimum}, got {value!r}")
    return int(v[0]), int(v[1])


def _padding(value: "int | Pair | Quad", layer: str) -> Quad:
    """int, (vertical, horizontal) or (top, left, bottom, right)."""
    v = (value,) * 4 if isinstance(value, (int, np.integer)) else tuple(value)
    if len(v) == 2:
        v = (v[0], v[1], v[0], v[1])
    if len(v) != 4 or any(not isinstance(x, (int, np.integer)) or x < 0 for x in v):
        raise LayerError(layer, f"padding must be int, (v, h) or (top, left, bottom, right) >= 0, "
                                f"got {value!r}")
    return tuple(int(x) for x in v)  # type: ignore[return-value]


def output_size(size: int, kernel: int, stride: int, pad_a: int, pad_b: int, layer: str) -> int:
    """Output length of a window op along one axis (:func:`~msp_pynq.numerics.windows.window_out_len`);
    raises if the window does not fit."""
    n = window_out_len(size, kernel, stride, pad_a, pad_b)
    if n == 0:
        raise LayerError(layer, f"kernel {kernel} is larger than the padded input ({size} + "
                                f"{pad_a} + {pad_b})")
    return n


def _check_specs(layer: str, *specs) -> None:
    for spec in specs:
        if not isinstance(spec, ActSpec):
            raise LayerError(layer, f"activation types must be ActSpec (U4, U5, U8, S8), got {spec!r}")


def _int_param(value, name: str, layer: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise LayerError(layer, f"{name} must be an integer, got {value!r}")
    return int(value)


def _int_array(value, name: str, layer: str, shape: tuple, dtype) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise LayerError(layer, f"{name} must hold integers, found dtype {arr.dtype}")
    if arr.shape != shape:
        if arr.ndim == 0:
            arr = np.full(shape, arr)
        else:
            raise LayerError(layer, f"{name} has shape {arr.shape}, expected {shape}")
    return arr.astype(dtype)


@dataclass(eq=False, kw_only=True)
class WeightLayer:
    """Fields shared by Conv2d and Linear: integer weights with a scheme per output row.

    weights: integer values q (not codes), output row first.
    schemes: per-row :class:`Scheme` numbers or labels.
    bias: per-row int32, |bias| <= 2^30.
    multiplier, shift: per-row requantization (ignored when ``out_spec`` is None).
    out_spec: output activation type; None keeps the raw int32 accumulators (logits).
    """

    name: str
    weights: np.ndarray
    schemes: np.ndarray
    bias: "np.ndarray | int" = 0
    multiplier: "np.ndarray | int" = 1
    shift: "np.ndarray | int" = 0
    in_spec: ActSpec = U8
    out_spec: "ActSpec | None" = U4
    inputs: Tuple[str, ...] = ("input",)
    output: str = ""
    row_l1_max: int = field(init=False, repr=False)
    cache: dict = field(init=False, repr=False, default_factory=dict)  # fast-path data

    weight_ndim = 2

    def __post_init__(self) -> None:
        if not self.output:
            self.output = self.name
        self.inputs = tuple(self.inputs)
        if len(self.inputs) != 1:
            raise LayerError(self.name, f"takes one input, {len(self.inputs)} named")
        w = np.asarray(self.weights)
        if w.dtype.kind not in "iu":
            raise LayerError(self.name, f"weights must be integer values, found dtype {w.dtype}")
        if w.ndim != self.weight_ndim or 0 in w.shape:
            raise LayerError(self.name, f"weights have shape {w.shape}, expected "
                                        f"{self.weight_ndim} non-empty axes")
        rows, k = w.shape[0], int(np.prod(w.shape[1:]))
        _check_limit(self.name, "rows", (rows,), engine_limits().rows)
        if k > MAX_K:
            raise LayerError(self.name, f"reduction length K={k} exceeds the contract's {MAX_K}")
        try:
            self.schemes = parse_schemes(self.schemes, "schemes")
        except ContractError as exc:
            raise LayerError(self.name, str(exc)) from None
        if self.schemes.size != rows:
            raise LayerError(self.name, f"{self.schemes.size} row schemes for {rows} weight rows")
        flat = w.reshape(rows, k)
        for scheme in Scheme:
            sel = self.schemes == scheme.value
            if sel.any():
                bad = invalid_values(flat[sel], scheme)
                if bad.any():
                    r, c = np.argwhere(bad)[0]
                    row = int(np.flatnonzero(sel)[r])
                    raise LayerError(self.name, f"row {row} ({scheme.label}) holds weight "
                                                f"{int(flat[row, c])}, not a {scheme.label} level")
        self.weights = w.astype(np.int8)
        self.bias = _int_array(self.bias, "bias", self.name, (rows,), np.int64)
        if np.abs(self.bias).max() > BIAS_MAX:
            raise LayerError(self.name, f"bias {int(np.abs(self.bias).max())} exceeds +-2^30")
        self.bias = self.bias.astype(np.int32)
        if not isinstance(self.in_spec, ActSpec) or (
                self.out_spec is not None and not isinstance(self.out_spec, ActSpec)):
            raise LayerError(self.name, "in_spec and out_spec must be ActSpec (out_spec may be None)")
        self.multiplier = _int_array(self.multiplier, "multiplier", self.name, (rows,), np.int64)
        self.shift = _int_array(self.shift, "shift", self.name, (rows,), np.int64)
        if self.out_spec is not None:
            try:
                check_requant_params(self.multiplier, self.shift, "requant")
            except ContractError as exc:
                raise LayerError(self.name, str(exc)) from None
        self.row_l1_max = int(np.abs(flat.astype(np.int64)).sum(axis=1).max())

    @property
    def rows(self) -> int:
        return self.weights.shape[0]

    @property
    def k(self) -> int:
        return int(np.prod(self.weights.shape[1:]))

    def matrix(self, dtype) -> np.ndarray:
        """Weights as a ``[K, rows]`` matrix of ``dtype``, K in (kh, kw, cin) order; cached."""
        key = np.dtype(dtype).str
        if key not in self.cache:
            self.cache[key] = np.ascontiguousarray(self.weights.reshape(self.rows, -1).T, dtype=dtype)
        return self.cache[key]

    def scheme_counts(self) -> dict:
        """Rows per scheme label, e.g. ``{'fixed4': 10, 'fixed8': 1, 'sp2_4': 5}``."""
        return {s.label: int((self.schemes == s.value).sum()) for s in Scheme}


@dataclass(eq=False, kw_only=True)
class Conv2d(WeightLayer):
    """2-D convolution on NHWC input; weights ``[cout, kh, kw, cin]``, zero padding.

    >>> import numpy as np
    >>> conv = Conv2d(name="c", weights=np.ones((2, 3, 3, 4), np.int8), schemes=["fixed4", "sp2_4"],
    ...               padding=1, multiplier=1, shift=0)
    >>> conv.k, conv.scheme_counts()["sp2_4"]
    (36, 1)
    """

    stride: "int | Pair" = 1
    padding: "int | Pair | Quad" = 0

    weight_ndim = 4

    def __post_init__(self) -> None:
        self.stride = _pair(self.stride, "stride", self.name, 1)
        self.padding = _padding(self.padding, self.name)
        w = np.asarray(self.weights)
        if w.ndim == 4:         # sizes first: the weight checks below are as slow as the weights
            _check_window(self.name, w.shape[1:3], self.stride, self.padding)
            _check_limit(self.name, "input channels", (w.shape[3],), engine_limits().channels)
        super().__post_init__()

    @property
    def kernel(self) -> Pair:
        return self.weights.shape[1], self.weights.shape[2]

    @property
    def in_channels(self) -> int:
        return self.weights.shape[3]


@dataclass(eq=False, kw_only=True)
class Linear(WeightLayer):
    """Fully connected layer; weights ``[rows, K]``; an NHWC input is flattened in NHWC order."""

    @property
    def in_channels(self) -> int:
        return self.weights.shape[1]


@dataclass(eq=False, kw_only=True)
class Add:
    """Residual add: ``y = sat((a * m_a + b * m_b + 2^(s-1)) >> s)``, both inputs the same shape."""

    name: str
    inputs: Tuple[str, str]
    in_specs: Tuple[ActSpec, ActSpec] = (U4, U4)
    multipliers: Tuple[int, int] = (1, 1)
    shift: int = 0
    out_spec: ActSpec = U4
    output: str = ""
    cache: dict = field(init=False, repr=False, default_factory=dict)  # fast-path data

    def __post_init__(self) -> None:
        self.output = self.output or self.name
        self.inputs = tuple(self.inputs)
        if len(self.inputs) != 2 or len(tuple(self.in_specs)) != 2 or len(tuple(self.multipliers)) != 2:
            raise LayerError(self.name, "Add takes exactly two inputs, in_specs and multipliers")
        self.in_specs = tuple(self.in_specs)
        _check_specs(self.name, *self.in_specs, self.out_spec)
        self.multipliers = tuple(_int_param(m, "multiplier", self.name) for m in self.multipliers)
        self.shift = _int_param(self.shift, "shift", self.name)
        try:
            check_requant_params(np.array(self.multipliers), np.array([self.shift]), "requant")
        except ContractError as exc:
            raise LayerError(self.name, str(exc)) from None


@dataclass(eq=False, kw_only=True)
class MaxPool2d:
    """Max pooling on NHWC; padded positions never win (padding <= kernel // 2)."""

    name: str
    kernel: "int | Pair" = 2
    stride: "int | Pair | None" = None
    padding: "int | Pair | Quad" = 0
    spec: ActSpec = U4
    inputs: Tuple[str, ...] = ("input",)
    output: str = ""

    def __post_init__(self) -> None:
        self.output = self.output or self.name
        self.inputs = tuple(self.inputs)
        self.kernel = _pair(self.kernel, "kernel", self.name, 1)
        self.stride = _pair(self.kernel if self.stride is None else self.stride, "stride", self.name, 1)
        self.padding = _padding(self.padding, self.name)
        _check_window(self.name, self.kernel, self.stride, self.padding)
        _check_specs(self.name, self.spec)
        pt, pl, pb, pr = self.padding
        if max(pt, pb) > self.kernel[0] // 2 or max(pl, pr) > self.kernel[1] // 2:
            raise LayerError(self.name, f"padding {self.padding} exceeds half the kernel {self.kernel}")


@dataclass(eq=False, kw_only=True)
class GlobalAvgPool:
    """Mean over H and W: ``y = sat((sum * m + 2^(s-1)) >> s)``, NHWC in, ``[N, C]`` out.

    ``m / 2^s`` approximates ``in_scale / (out_scale * H * W)``.
    """

    name: str
    multiplier: int = 1
    shift: int = 0
    in_spec: ActSpec = U4
    out_spec: ActSpec = U8
    inputs: Tuple[str, ...] = ("input",)
    output: str = ""

    def __post_init__(self) -> None:
        self.output = self.output or self.name
        self.inputs = tuple(self.inputs)
        _check_specs(self.name, self.in_spec, self.out_spec)
        self.multiplier = _int_param(self.multiplier, "multiplier", self.name)
        self.shift = _int_param(self.shift, "shift", self.name)
        try:
            check_requant_params(np.array([self.multiplier]), np.array([self.shift]), "requant")
        except ContractError as exc:
            raise LayerError(self.name, str(exc)) from None


Layer = Union[Conv2d, Linear, Add, MaxPool2d, GlobalAvgPool]


def check_input(layer_name: str, x: np.ndarray, spec: ActSpec, ndim: "int | None" = 4,
                channels: "int | None" = None, what: str = "input") -> None:
    """Raise LayerError unless ``x`` is a ``spec`` tensor of ``ndim`` axes and ``channels`` last."""
    try:
        spec.check(x, what)
    except ContractError as exc:
        raise LayerError(layer_name, str(exc)) from None
    if ndim is not None and x.ndim != ndim:
        raise LayerError(layer_name, f"{what} has shape {x.shape}, expected {ndim} axes"
                                     f"{' (N, H, W, C)' if ndim == 4 else ''}")
    lim = engine_limits()
    if x.ndim == 4 and (max(x.shape[1:3]) > lim.size or x.shape[3] > lim.channels):
        raise LayerError(layer_name, f"{what} has shape {x.shape}: images of at most {lim.size} x "
                                     f"{lim.size} pixels of {lim.channels} channels run on the engine")
    if channels is not None and x.shape[-1] != channels:
        raise LayerError(layer_name, f"{what} has shape {x.shape}: {x.shape[-1]} channels, "
                                     f"expected {channels}")
