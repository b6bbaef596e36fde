"""Model bundles: write a compiled integer program, load it back as an emulator Network.

Numpy only: this is what the board loads. Weights travel packed in the contract's wire layout,
rows in the engine's order for the bundle's board (LUT-core SP2 rows first, then the DSP core's
fixed-4 and fixed-8 rows); ``row_order`` maps that order back to output channels.

>>> bundle = load_bundle("models/resnet20_msp8_pynq-z2.mspb")     # doctest: +SKIP
>>> logits, classes = bundle.predict(images)                       # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..boards.profiles import BoardProfile, get_profile
from ..emulator.layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d
from ..emulator.network import Network
from ..errors import MSPError
from ..numerics.activations import parse_act
from ..numerics.packing import pack_rows, unpack_rows
from ..numerics.schemes import Scheme
from .container import BundleError, read_container, write_container

CONTRACT = "msp-numerics/1"
FORMAT = "msp-pynq-bundle"


def engine_fingerprint(profile: BoardProfile) -> str:
    """What a bundle must match to run on a board's engine: contract and geometry."""
    geometry = {"contract": CONTRACT, "board": profile.name, "vector_width": profile.vector_width,
                "lut_rows": profile.lut_rows, "dsp_rows": profile.dsp_rows,
                "act_buffer_kib": profile.act_buffer_kib, "weight_buffer_kib": profile.weight_buffer_kib}
    return hashlib.sha256(json.dumps(geometry, sort_keys=True).encode()).hexdigest()[:16]


def engine_row_order(schemes: np.ndarray) -> np.ndarray:
    """Output channels in engine order: SP2 rows (LUT core), then fixed-4, then fixed-8 (DSP core)."""
    order = [np.flatnonzero(schemes == s) for s in (Scheme.SP2_4, Scheme.FIXED4, Scheme.FIXED8)]
    return np.concatenate(order).astype(np.int32)


def _spec_name(spec) -> "str | None":
    return None if spec is None else str(spec)


def _layer_entry(layer, arrays: dict) -> dict:
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
        "board": profile.name, "engine": {"fingerprint": engine_fingerprint(profile),
                                          "vector_width": profile.vector_width,
                                          "lut_rows": profile.lut_rows, "dsp_rows": profile.dsp_rows},
        "input": {"name": network.input_name, "height": h, "width": w, "channels": c, "dtype": "uint8",
                  "layout": "NHWC", "preprocessing": "RGB uint8 pixels; normalisation is folded into "
                                                     "the first layer"},
        "output": {"name": network.output, "logits": "float64(acc) * logit_scale[row]"},
        "classes": list(classes), "source": source, "layers": layers,
    }
    return write_container(path, manifest, arrays)


@dataclass
class BundleModel:
    """A loaded bundle: the emulator network plus what is needed around it."""

    manifest: dict
    network: Network
    logit_scale: np.ndarray
    path: str = ""
    classes: list = field(default_factory=list)

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


def _layer_from(entry: dict, arrays: dict):
    op, name = entry.get("op"), entry.get("name")
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
    if op == "max_pool":
        return MaxPool2d(kernel=tuple(entry["kernel"]), stride=tuple(entry["stride"]),
                         padding=tuple(entry["padding"]), spec=parse_act(entry["spec"]), **common)
    raise BundleError(f"layer {name!r}: operation {op!r} is unknown to this msp-pynq")


def load_bundle(path: "str | Path", board: "str | None" = None) -> BundleModel:
    """Load a bundle; with ``board``, refuse one compiled for another board or engine."""
    manifest, arrays = read_container(path)
    where = str(path)
    if manifest.get("format") != FORMAT or manifest.get("contract") != CONTRACT:
        raise BundleError(f"{where}: not an {FORMAT} of contract {CONTRACT} "
                          f"(found {manifest.get('format')!r}, {manifest.get('contract')!r})")
    if board is not None:
        profile = get_profile(board)
        if manifest.get("board") != profile.name:
            raise BundleError(f"{where}: compiled for board {manifest.get('board')!r}, not {profile.name!r}; "
                              f"recompile with `msp-pynq compile --board {profile.name}`")
        want = engine_fingerprint(profile)
        if manifest.get("engine", {}).get("fingerprint") != want:
            raise BundleError(f"{where}: compiled for engine {manifest.get('engine', {}).get('fingerprint')}, "
                              f"this msp-pynq's {profile.name} engine is {want}; recompile the model")
    try:
        layers = [_layer_from(entry, arrays) for entry in manifest["layers"]]
        inp, out = manifest["input"], manifest["output"]
        network = Network(layers, input_name=inp["name"], output=out["name"])
        logit_scale = arrays["logit_scale"]
    except BundleError:
        raise
    except MSPError as exc:
        raise BundleError(f"{where}: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise BundleError(f"{where}: malformed manifest ({type(exc).__name__}: {exc})") from None
    return BundleModel(manifest, network, logit_scale, where, list(manifest.get("classes", [])))


