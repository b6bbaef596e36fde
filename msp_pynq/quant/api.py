"""``quantize()``: a float model to its MSP QAT version; BN folding; reading the assignment back."""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..boards.profiles import get_profile, row_split, sp2_row_share
from ..errors import MSPError
from ..models.points import QuantPoint
from ..numerics.activations import ACT_BITS
from .assign import assign_rows
from .levels import WEIGHT_SCHEMES
from .modules import QAct, QConv2d, QLinear

SINGLE_SCHEMES = ("fixed4", "sp2_4", "pow2_4", "fixed8")


def _weight_layers(model: nn.Module) -> "list[tuple[str, nn.Module]]":
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def layer_schemes(weight: torch.Tensor, scheme: str, share_sp2: float, share_8bit: float) -> "list[str]":
    """Row schemes of one layer for ``scheme`` = ``'msp'`` or a single scheme name."""
    rows = weight.shape[0]
    if scheme != "msp":
        return [scheme] * rows
    n8 = round(rows * share_8bit)
    n_sp2 = min(round(rows * share_sp2), rows - n8)
    return assign_rows(weight, n_sp2, n8)


def quantize(model: nn.Module, board: str = "pynq-z2", scheme: str = "msp", share_8bit: float = 0.05,
             sp2_share: "float | None" = None, act_bits: int = 4, first_last_8bit: bool = True,
             inplace: bool = False) -> nn.Module:
    """The QAT version of ``model``: every conv/linear a QConv2d/QLinear with per-row schemes,
    every ReLU a QAct of ``act_bits``, every QuantPoint a QAct of its own type.

    Args:
        board: board profile whose SP2:fixed ratio sets the SP2 share (``'pynq-z2'``, ``'zcu104'``).
        scheme: ``'msp'`` (mixed, the board's ratio plus ``share_8bit`` 8-bit rows) or one
            scheme for every row (``'fixed4'``, ``'sp2_4'``, ``'pow2_4'``, ``'fixed8'``): baselines.
        share_8bit: share of 8-bit rows per layer for ``'msp'`` (default 5%).
        sp2_share: override the board's SP2 share, in [0, 1].
        act_bits: 4, 5 or 8.
        first_last_8bit: the first and last weight layers all fixed-8.

    >>> from msp_pynq.models import build_model
    >>> q = quantize(build_model("resnet20"), board="pynq-z2")
    >>> row_assignment(q)["layers.0.conv1"]["counts"]
    {'fixed4': 7, 'fixed8': 1, 'sp2_4': 8}
    """
    profile = get_profile(board)
    if scheme != "msp" and scheme not in SINGLE_SCHEMES:
        raise MSPError(f"unknown scheme {scheme!r}; expected 'msp' or one of {SINGLE_SCHEMES}")
    if not 0.0 <= share_8bit <= 1.0:
        raise MSPError(f"share_8bit must lie in [0, 1], got {share_8bit}")
    if sp2_share is not None and not 0.0 <= sp2_share <= 1.0:
        raise MSPError(f"sp2_share must lie in [0, 1], got {sp2_share}")
    if sp2_share is not None and sp2_share + share_8bit > 1.0:
        raise MSPError(f"sp2_share {sp2_share} plus share_8bit {share_8bit} exceeds 1")
    if act_bits not in ACT_BITS:
        raise MSPError(f"act_bits must be one of {ACT_BITS}, got {act_bits}")
    share_sp2 = sp2_row_share(profile, share_8bit) if sp2_share is None else sp2_share
    model = model if inplace else copy.deepcopy(model)
    layers = _weight_layers(model)
    if not layers:
        raise MSPError("the model has no Conv2d or Linear layer to quantize")
    edge = {layers[0][0], layers[-1][0]} if first_last_8bit else set()
    for name, mod in layers:
        if isinstance(mod, nn.Conv2d) and (mod.groups != 1 or mod.dilation != (1, 1)):
            raise MSPError(f"layer {name!r}: grouped or dilated convolutions are not supported")
        schemes = ["fixed8"] * mod.weight.shape[0] if name in edge else \
            layer_schemes(mod.weight, scheme, share_sp2, share_8bit)
        cls = QConv2d if isinstance(mod, nn.Conv2d) else QLinear
        _set(model, name, cls.from_float(mod, schemes))
    for name, mod in list(model.named_modules()):
        if isinstance(mod, nn.ReLU):
            _set(model, name, QAct(act_bits, signed=False))
        elif isinstance(mod, QuantPoint):
            _set(model, name, QAct(mod.bits, signed=mod.signed))
    model.msp_config = {"board": profile.name, "scheme": scheme, "share_8bit": share_8bit,
                        "sp2_share": share_sp2, "act_bits": act_bits, "first_last_8bit": first_last_8bit}
    return model


@torch.no_grad()
def calibrate(model: nn.Module, images: torch.Tensor) -> None:
    """Initialise every uninitialised QAct from one forward pass over ``images``."""
    was_training = model.training
    model.eval()
    model(images)
    model.train(was_training)


def row_assignment(model: nn.Module) -> dict:
    """Per quantized layer: its row schemes and their counts."""
    out = {}
    for name, mod in model.named_modules():
        if isinstance(mod, (QConv2d, QLinear)):
            schemes = mod.schemes
            out[name] = {"schemes": schemes,
                         "counts": {s: schemes.count(s) for s in sorted(set(schemes))}}
    return out


def _fold_quantized_rows(layer: nn.Module, factor: torch.Tensor) -> None:
    """Scale a quantized layer's rows by ``factor`` with its integer levels kept bit for bit.

    Scaling weight and scale alike and re-rounding ``(w * f) / (s * f)`` can move a weight that
    sits on a rounding boundary to the next level (float32 division is not exact), so the levels
    are taken before the fold and the weights rebuilt from them on the new scale.
    """
    shape = (-1,) + (1,) * (layer.weight.dim() - 1)
    dead = factor == 0                                # gamma = 0: the row's output is its bias
    levels = torch.where(dead.view(shape), 0.0, layer.integer_weights())
    layer.w_scale.mul_(torch.where(dead, torch.ones_like(factor), factor))
    layer.weight.copy_(levels * layer.w_scale.view(shape))


@torch.no_grad()
def fold_batch_norm(model: nn.Module) -> nn.Module:
    """A copy of a quantized model (eval mode) with every BN folded into the layer before it.

    Folding scales each row by ``gamma / sigma``; the per-row scale absorbs it, so the integer
    levels of every weight stay exactly the same, and the bias becomes
    ``beta + (b - mean) * gamma / sigma``. BNs become identities.
    """
    model = copy.deepcopy(model).eval()
    prev = None
    for name, mod in list(model.named_modules()):
        if isinstance(mod, (QConv2d, QLinear, nn.Conv2d, nn.Linear)):
            prev = mod
        elif isinstance(mod, (nn.BatchNorm2d, nn.BatchNorm1d)):
            if prev is None or prev.weight.shape[0] != mod.num_features:
                raise MSPError(f"batch norm {name!r} does not follow a conv/linear layer it can fold into")
            factor = mod.weight / torch.sqrt(mod.running_var + mod.eps)
            bias = prev.bias if prev.bias is not None else torch.zeros_like(mod.running_mean)
            shape = (-1,) + (1,) * (prev.weight.dim() - 1)
            if isinstance(prev, (QConv2d, QLinear)):
                _fold_quantized_rows(prev, factor)
            else:
                prev.weight.mul_(factor.view(shape))
            prev.bias = nn.Parameter(mod.bias + (bias - mod.running_mean) * factor)
            _set(model, name, nn.Identity())
            prev = None
    return model
