"""Model bundles: write a compiled integer program, read it back and check it.

Numpy only: this is what the board loads (the emulator network of a bundle is built only when
it is used). Weights travel packed in the contract's wire layout,
rows in the engine's order for the bundle's board (LUT-core SP2 rows first, then the DSP core's
fixed-4 and fixed-8 rows); ``row_order`` maps that order back to output channels.

>>> bundle = load_bundle("models/resnet20_msp8_pynq-z2.mspb")     # doctest: +SKIP
>>> logits, classes = bundle.predict(images)                       # doctest: +SKIP
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..boards.profiles import get_profile
from ..engine.geometry import NUMERICS_CONTRACT
from ..engine.limits import engine_limits
from ..engine.rows import engine_row_order
from ..errors import MSPError
from ..fileio import show
from ..numerics.activations import parse_act
from ..numerics.bounds import MAX_K
from ..numerics.packing import pack_rows, packed_nbytes, unpack_rows
from ..numerics.schemes import Scheme
from .container import BundleError, read_container, write_container

if TYPE_CHECKING:
    from ..emulator.network import Network

CONTRACT = NUMERICS_CONTRACT
FORMAT = "msp-pynq-bundle"


def _spec_name(spec) -> "str | None":
    return None if spec is None else str(spec)


def _layer_entry(layer, arrays: dict) -> dict:
    from ..emulator.layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d
    entry = {"name": layer.name, "inputs": list(layer.inputs), "output": layer.output}
    if isinstance(layer, (Conv2d, Linear)):
        order = engine_row_order(layer.schemes)
        flat = layer.weights.reshape(layer.rows, -1)
        key = layer.name
        arrays[f"{key}/weights"] = pack_rows(flat[order], layer.schemes[order])
        arrays[f"{key}/schemes"] = layer.schemes.astype(np.uint8)
        arrays[f"{key}/row_order"] = order
        arrays[f"{key}/bias"] = layer.bias.astype(np.int32)
        arrays[f"{key}/multiplier"] = layer.multiplier.astype(np.int32)
        arrays[f"{key}/shift"] = layer.shift.astype(np.int32)
        entry.update(op="conv2d" if isinstance(layer, Conv2d) else "linear", rows=layer.rows,
                     k=layer.k, in_spec=_spec_name(layer.in_spec), out_spec=_spec_name(layer.out_spec),
                     rows_per_scheme=layer.scheme_counts())
        if isinstance(layer, Conv2d):
            entry.update(kernel=list(layer.kernel), in_channels=layer.in_channels,
                         stride=list(layer.stride), padding=list(layer.padding))
    elif isinstance(layer, Add):
        entry.update(op="add", in_specs=[str(s) for s in layer.in_specs],
                     multipliers=list(layer.multipliers), shift=layer.shift, out_spec=str(layer.out_spec))
    elif isinstance(layer, GlobalAvgPool):
        entry.update(op="global_avg_pool", multiplier=layer.multiplier, shift=layer.shift,
                     in_spec=str(layer.in_spec), out_spec=str(layer.out_spec))
    elif isinstance(layer, MaxPool2d):
        entry.update(op="max_pool", kernel=list(layer.kernel), stride=list(layer.stride),
                     padding=list(layer.padding), spec=str(layer.spec))
    else:
        raise MSPError(f"layer {layer.name!r}: {type(layer).__name__} cannot be stored in a bundle")
    return entry


def save_bundle(path: "str | Path", network: Network, logit_scale: np.ndarray, board: str,
                input_shape: "tuple[int, int, int]", classes: "list[str]", source: dict) -> int:
    """Write ``network`` for ``board`` to ``path``; returns the file size in bytes."""
    profile = get_profile(board)
    arrays: dict = {"logit_scale": np.asarray(logit_scale, np.float64)}
    layers = [_layer_entry(layer, arrays) for layer in network.layers]
    h, w, c = input_shape
    manifest = {
        "format": FORMAT, "format_version": 1, "contract": CONTRACT,
        "board": profile.name, "engine": {"fingerprint": profile.fingerprint,
                                          "vector_width": profile.geometry.vector_width,
                                          "lut_rows": profile.geometry.lut_rows,
                                          "dsp_rows": profile.geometry.dsp_rows},
        "input": {"name": network.input_name, "height": h, "width": w, "channels": c, "dtype": "uint8",
                  "layout": "NHWC", "preprocessing": "RGB uint8 pixels; normalisation is folded into "
                                                     "the first layer"},
        "output": {"name": network.output, "logits": "float64(acc) * logit_scale[row]"},
        "classes": list(classes), "source": source, "layers": layers,
    }
    return write_container(path, manifest, arrays)


class Bundle:
    """A loaded, checked bundle: its manifest and arrays (as :func:`read_container` gave them),
    and its layers as an emulator :class:`~msp_pynq.emulator.network.Network`, built when first used
    (the board runtime runs the bundle on the engine and never needs it)."""

    def __init__(self, manifest: dict, arrays: dict, path: str = "") -> None:
        self.manifest, self.arrays, self.path = manifest, arrays, path
        self.logit_scale: np.ndarray = arrays["logit_scale"]
        self.classes: list = list(manifest["classes"])

    def __repr__(self) -> str:
        return f"Bundle({self.path!r}, board={self.manifest.get('board')!r}, {len(self.manifest['layers'])} layers)"

    @functools.cached_property
    def network(self) -> "Network":
        """The bundle's layers as a bit-exact emulator network."""
        from ..emulator.network import Network
        try:
            layers = [_layer_from(entry, self.arrays) for entry in self.manifest["layers"]]
            return Network(layers, input_name=self.manifest["input"]["name"], output=self.manifest["output"]["name"])
        except MSPError as exc:          # BundleError included
            raise BundleError(f"{self.path}: {exc}") from None

    @property
    def input_shape(self) -> "tuple[int, int, int]":
        i = self.manifest["input"]
        return i["height"], i["width"], i["channels"]

    def check_images(self, images: np.ndarray) -> np.ndarray:
        """Accept ``uint8 [N, H, W, C]`` (or one ``[H, W, C]`` image) of the bundle's size."""
        x = np.asarray(images)
        if x.ndim == 3:
            x = x[None]
        h, w, c = self.input_shape
        if x.dtype != np.uint8:
            raise BundleError(f"{self.path}: images must be uint8 pixels, found {x.dtype}")
        if x.ndim != 4 or x.shape[1:] != (h, w, c):
            raise BundleError(f"{self.path}: images must be [N, {h}, {w}, {c}] (NHWC), found {x.shape}")
        return x

    def logits(self, images: np.ndarray, threads: int = 1) -> np.ndarray:
        """float64 logits ``[N, classes]`` (contract section 7.6)."""
        acc = self.network.run(self.check_images(images), threads=threads)
        return acc.astype(np.float64) * self.logit_scale

    def predict(self, images: np.ndarray, threads: int = 1) -> "tuple[np.ndarray, np.ndarray]":
        """``(logits, class indices)``; ties go to the first class."""
        logits = self.logits(images, threads)
        return logits, logits.argmax(axis=1)


ACT_NAMES = ("u4", "u5", "u8", "s8")
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
OPS = ("conv2d", "linear", "add", "global_avg_pool", "max_pool")


def _bad(where: str, field: str, value, expected: str) -> BundleError:
    text = repr(value)
    return BundleError(f"{where}: {field} is {show(text[:80] + ('...' if len(text) > 80 else ''))}, "
                       f"expected {expected}")


def _get(where: str, obj: dict, key: str, kind: str):
    """``obj[key]`` checked to be of JSON ``kind``: str, int (not bool), list, object, number."""
    value = obj.get(key) if isinstance(obj, dict) else None
    types = {"str": str, "int": int, "list": list, "object": dict, "number": (int, float)}[kind]
    if not isinstance(value, types) or isinstance(value, bool):
        raise _bad(where, key, value, f"{'an' if kind[0] in 'io' else 'a'} {kind}")
    return value


def _int(where: str, obj: dict, key: str, low: int, high: int) -> int:
    value = _get(where, obj, key, "int")
    if not low <= value <= high:
        raise _bad(where, key, value, f"an integer in [{low}, {high}]")
    return value


def _ints(where: str, obj: dict, key: str, n: int, low: int, high: int) -> list:
    value = obj.get(key)
    if not isinstance(value, list) or len(value) != n or not all(
            isinstance(v, int) and not isinstance(v, bool) and low <= v <= high for v in value):
        raise _bad(where, key, value, f"a list of {n} integers in [{low}, {high}]")
    return value


def _act(where: str, obj: dict, key: str, optional: bool = False) -> "str | None":
    value = obj.get(key)
    if (value is None and optional) or (isinstance(value, str) and value in ACT_NAMES):
        return value
    raise _bad(where, key, value, f"one of {', '.join(ACT_NAMES)}{' or null' if optional else ''}")


def _names(where: str, obj: dict, key: str, n: "int | None" = None) -> list:
    value = obj.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) \
            or (n is not None and len(value) != n):
        raise _bad(where, key, value, f"a list of {n if n is not None else ''} tensor names".replace("  ", " "))
    return value


def _array_of(where: str, arrays: dict, key: str, dtype: str, shape: "tuple | None") -> np.ndarray:
    if key not in arrays:
        raise BundleError(f"{where}: array {key!r} is missing")
    a = arrays[key]
    if a.dtype.name != dtype or (shape is not None and a.shape != shape) or (shape is None and a.ndim != 1):
        raise BundleError(f"{where}: array {key!r} is {a.dtype.name} {list(a.shape)}, expected {dtype} "
                          f"{list(shape) if shape is not None else '[n]'}")
    return a


def _check_weight_entry(where: str, entry: dict, arrays: dict) -> None:
    lim = engine_limits()
    name = entry["name"]
    rows = _int(where, entry, "rows", 1, lim.rows)
    k = _int(where, entry, "k", 1, MAX_K)
    _act(where, entry, "in_spec")
    _act(where, entry, "out_spec", optional=True)
    schemes = _array_of(where, arrays, f"{name}/schemes", "uint8", (rows,))
    for part in ("row_order", "bias", "multiplier", "shift"):
        _array_of(where, arrays, f"{name}/{part}", "int32", (rows,))
    weights = _array_of(where, arrays, f"{name}/weights", "uint8", None)
    if entry["op"] == "conv2d":
        kh, kw = _ints(where, entry, "kernel", 2, 1, lim.kernel)
        cin = _int(where, entry, "in_channels", 1, lim.channels)
        _ints(where, entry, "stride", 2, 1, lim.stride)
        _ints(where, entry, "padding", 4, 0, lim.padding)
        if kh * kw * cin != k:
            raise BundleError(f"{where}: k is {k}, expected kernel {kh} x {kw} x {cin} in_channels = {kh * kw * cin}")
    if np.any(schemes > max(int(s) for s in Scheme)):
        raise BundleError(f"{where}: array {name + '/schemes'!r} holds scheme {int(schemes.max())}, "
                          f"expected one of {sorted(int(s) for s in Scheme)}")
    need = packed_nbytes(schemes, k)                  # before the weights are unpacked
    if weights.size != need:
        raise BundleError(f"{where}: array {name + '/weights'!r} holds {weights.size} bytes, "
                          f"its {rows} rows of K={k} need {need}")


def _check_layer_entry(name: str, index: int, entry, arrays: dict) -> str:
    """Every field of one layer entry type-checked, every size bounded; returns its op."""
    if not isinstance(entry, dict):
        raise _bad(f"{name}: layers[{index}]", "the entry", entry, "an object")
    lname = _get(f"{name}: layers[{index}]", entry, "name", "str")
    where = f"{name}: layer {show(repr(lname))}"
    op = _get(where, entry, "op", "str")
    if op not in OPS:
        raise BundleError(f"{where}: operation {show(repr(op))} is unknown to this msp-pynq "
                          f"(known: {', '.join(OPS)})")
    _names(where, entry, "inputs", 2 if op == "add" else 1)
    _get(where, entry, "output", "str")
    if op in ("conv2d", "linear"):
        _check_weight_entry(where, entry, arrays)
    elif op == "add":
        if not isinstance(entry.get("in_specs"), list) or len(entry["in_specs"]) != 2:
            raise _bad(where, "in_specs", entry.get("in_specs"), "a list of two activation types")
        for i in range(2):
            _act(where, {f"in_specs[{i}]": entry["in_specs"][i]}, f"in_specs[{i}]")
        _ints(where, entry, "multipliers", 2, INT32_MIN, INT32_MAX)   # the layer checks the contract
        _int(where, entry, "shift", INT32_MIN, INT32_MAX)
        _act(where, entry, "out_spec")
    elif op == "global_avg_pool":
        _int(where, entry, "multiplier", INT32_MIN, INT32_MAX)
        _int(where, entry, "shift", INT32_MIN, INT32_MAX)
        _act(where, entry, "in_spec")
        _act(where, entry, "out_spec")
    else:
        lim = engine_limits()
        _ints(where, entry, "kernel", 2, 1, lim.kernel)
        _ints(where, entry, "stride", 2, 1, lim.stride)
        _ints(where, entry, "padding", 4, 0, lim.padding)
        _act(where, entry, "spec")
    return op


def _check_manifest(name: str, manifest: dict, arrays: dict) -> None:
    """The manifest's structure, before any of it is used: JSON types, sizes within the engine's
    limits, arrays of the dtypes and shapes the layers need (docs/formats.md)."""
    _get(name, manifest, "engine", "object")
    classes = _get(name, manifest, "classes", "list")
    if not all(isinstance(c, str) for c in classes):
        bad = next(c for c in classes if not isinstance(c, str))
        raise _bad(name, "a class name", bad, "a string")
    lim = engine_limits()
    inp = _get(name, manifest, "input", "object")
    _get(f"{name}: input", inp, "name", "str")
    for key, high in (("height", lim.size), ("width", lim.size), ("channels", lim.channels)):
        _int(f"{name}: input", inp, key, 1, high)
    out = _get(name, manifest, "output", "object")
    out_name = _get(f"{name}: output", out, "name", "str")
    layers = _get(name, manifest, "layers", "list")
    if not layers:
        raise BundleError(f"{name}: layers is an empty list, expected at least one layer")
    ops = [_check_layer_entry(name, i, entry, arrays) for i, entry in enumerate(layers)]
    last = layers[-1]
    if out_name != last["output"]:
        raise BundleError(f"{name}: output {show(repr(out_name))} is not the last layer's output "
                          f"{show(repr(last['output']))}")
    if ops[-1] not in ("conv2d", "linear"):
        raise BundleError(f"{name}: the last layer {show(repr(last['name']))} is a {ops[-1]}, "
                          f"expected the logits layer: a conv2d or linear")
    _array_of(f"{name}: output", arrays, "logit_scale", "float64", (last["rows"],))
    if classes and len(classes) != last["rows"]:
        raise BundleError(f"{name}: {len(classes)} class names for {last['rows']} logits")


def _layer_from(entry: dict, arrays: dict):
    """The emulator layer of a checked entry (:func:`_check_manifest`)."""
    from ..emulator.layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d
    op, name = entry["op"], entry["name"]
    common = dict(name=name, inputs=tuple(entry["inputs"]), output=entry["output"])
    if op in ("conv2d", "linear"):
        schemes = arrays[f"{name}/schemes"]
        order = arrays[f"{name}/row_order"]
        if sorted(order.tolist()) != list(range(len(schemes))):
            raise BundleError(f"layer {name!r}: row_order is not a permutation of its rows")
        flat = np.empty((len(schemes), entry["k"]), np.int8)
        flat[order] = unpack_rows(arrays[f"{name}/weights"], schemes[order], entry["k"])
        out_spec = entry.get("out_spec")
        kw = dict(schemes=schemes, bias=arrays[f"{name}/bias"], multiplier=arrays[f"{name}/multiplier"],
                  shift=arrays[f"{name}/shift"], in_spec=parse_act(entry["in_spec"]),
                  out_spec=None if out_spec is None else parse_act(out_spec), **common)
        if op == "linear":
            return Linear(weights=flat, **kw)
        kh, kwid = entry["kernel"]
        return Conv2d(weights=flat.reshape(len(schemes), kh, kwid, entry["in_channels"]),
                      stride=tuple(entry["stride"]), padding=tuple(entry["padding"]), **kw)
    if op == "add":
        return Add(in_specs=tuple(parse_act(s) for s in entry["in_specs"]),
                   multipliers=tuple(entry["multipliers"]), shift=entry["shift"],
                   out_spec=parse_act(entry["out_spec"]), **common)
    if op == "global_avg_pool":
        return GlobalAvgPool(multiplier=entry["multiplier"], shift=entry["shift"],
                             in_spec=parse_act(entry["in_spec"]), out_spec=parse_act(entry["out_spec"]), **common)
    return MaxPool2d(kernel=tuple(entry["kernel"]), stride=tuple(entry["stride"]),
                     padding=tuple(entry["padding"]), spec=parse_act(entry["spec"]), **common)


def load_bundle(path: "str | Path", board: "str | None" = None) -> Bundle:
    """Load a bundle; with ``board``, refuse one compiled for another board or engine.

    Every check of :func:`read_bundle`, and its layers built as an emulator network (which
    checks every value against the contract)."""
    bundle = read_bundle(path, board)
    bundle.network
    return bundle


def read_bundle(path: "str | Path", board: "str | None" = None) -> Bundle:
    """Read a bundle once and check its structure and, with ``board``, its board and engine;
    its emulator network is built only when used (what the board runtime loads)."""
    manifest, arrays = read_container(path)
    where = show(path)
    if manifest.get("format") != FORMAT or manifest.get("contract") != CONTRACT:
        raise BundleError(f"{where}: not an {FORMAT} of contract {CONTRACT} "
                          f"(found {show(repr(manifest.get('format')))}, {show(repr(manifest.get('contract')))})")
    _check_manifest(where, manifest, arrays)
    if board is not None:
        profile = get_profile(board)
        if manifest.get("board") != profile.name:
            raise BundleError(f"{where}: compiled for board {show(repr(manifest.get('board')))}, not "
                              f"{profile.name!r}; recompile with `msp-pynq compile --board {profile.name}`")
        want = profile.fingerprint
        if manifest["engine"].get("fingerprint") != want:
            raise BundleError(f"{where}: compiled for engine {show(repr(manifest['engine'].get('fingerprint')))}, "
                              f"this msp-pynq's {profile.name} engine is {want}; recompile the model")
    return Bundle(manifest, arrays, where)
