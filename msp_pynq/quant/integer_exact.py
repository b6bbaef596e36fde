"""Integer-exact QAT: a quantized model's forward pass in the contract's own arithmetic.

Float fake-quant rounds where the engine rounds, but not the way it does: the engine adds an
integer bias at the accumulator scale, requantizes with a 16-bit multiplier, rounds ties up and
saturates ``s8`` at -128. With 4-bit activations those one-step differences, compounded over
20 layers, change about 3% of CIFAR-10 predictions (docs/results/cifar10_agreement.md).

:func:`integer_exact` folds batch norm and wraps the model so that every quantized tensor holds
exactly the codes the emulator computes from the exported bundle: integer convolutions of the
codes, biases and multipliers lowered by :mod:`msp_pynq.numerics.lowering` (the compiler's
lowering) from the float32 scales the ONNX file stores, requantization by the contract's
``FloatRequant`` / ``requantize``. Gradients take the float fake-quant path (straight-through:
exact values forward, float derivatives backward), so a few epochs of fine-tuning in this mode
(``msp-pynq train --exact``) make PyTorch's accuracy the board's, as in HAWQ-V3 (Yao et al. 2021).

>>> from msp_pynq.models import build_model
>>> from msp_pynq.quant import calibrate, quantize
>>> q = quantize(build_model("resnet20")); calibrate(q, torch.rand(4, 3, 32, 32))
>>> exact = integer_exact(q).eval()
>>> exact(torch.rand(2, 3, 32, 32)).dtype         # float64 logits, as the bundle computes them
torch.float64
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import MSPError
from ..numerics.activations import U8, ActSpec
from ..numerics.bounds import gemm_dtype
from ..numerics.lowering import lower_add, lower_avg_pool, lower_weight_layer
from ..numerics.requant import FloatRequant, requantize
from .api import fold_batch_norm
from .fake_quant import fake_quant_act
from .graph import Step, trace_steps, walk
from .modules import QAct, QConv2d, QLinear

INPUT_SCALE = float(np.float32(1 / 255))      # the exported input quantizer (uint8 pixels)


def _f32(x: float) -> float:
    """A scale as the ONNX file stores it (float32): the value the compiler lowers."""
    return float(np.float32(x))


@dataclass
class _Q:
    """A quantized tensor: ``value`` carries gradients, ``codes`` are the exact integers."""
    value: torch.Tensor
    codes: torch.Tensor       # float64, no grad
    scale: float
    spec: ActSpec


@dataclass
class _Pending:
    """An integer layer's float result, waiting for the quantizer that fixes its output scale.
    ``finish(out_scale, out_spec)`` returns the exact output codes (``None, None``: logits)."""
    value: torch.Tensor
    finish: Callable


def _ste(f: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """``exact`` forward, gradient of ``f`` backward."""
    return f + (exact.to(f.device, f.dtype) - f).detach()


def _to_torch(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.asarray(a, np.float64)).to(like.device)


def _weight_layer(mod: nn.Module, x: _Q) -> _Pending:
    w = mod.quantized_weight()
    conv = isinstance(mod, QConv2d)
    value = mod._conv_forward(x.value, w, mod.bias) if conv else F.linear(x.value, w, mod.bias)

    def finish(out_scale: "float | None", spec: "ActSpec | None") -> torch.Tensor:
        q, s_w = mod.export_weights()
        bias = np.zeros(len(q), np.float32) if mod.bias is None else \
            mod.bias.detach().cpu().numpy().astype(np.float32)
        low = lower_weight_layer(x.scale, s_w, bias, out_scale)
        l1 = int(np.abs(q.reshape(len(q), -1).astype(np.int64)).sum(1).max())
        dtype = torch.float32 if gemm_dtype(max(-x.spec.lo, x.spec.hi), l1) is np.float32 else torch.float64
        qt, xc = torch.from_numpy(q).to(x.codes.device, dtype), x.codes.to(dtype)
        acc = F.conv2d(xc, qt, None, mod.stride, mod.padding) if conv else F.linear(xc, qt)
        acc = acc.movedim(1, -1).cpu().double().numpy()          # exact integers, rows last
        if spec is None:                                          # logits (contract 7.6)
            out = (acc + low.bias) * low.acc_scale
        else:
            out = FloatRequant(low.multiplier, low.shift, low.bias, spec)(acc)
        return _to_torch(out, x.codes).movedim(-1, 1).contiguous()

    return _Pending(value, finish)


def _add(a: _Q, b: _Q) -> _Pending:
    def finish(out_scale: float, spec: ActSpec) -> torch.Tensor:
        (ma, mb), s = lower_add(a.scale, b.scale, out_scale)
        total = a.codes.cpu().numpy().astype(np.int64) * ma + b.codes.cpu().numpy().astype(np.int64) * mb
        return _to_torch(requantize(total, 1, s, spec), a.codes)
    return _Pending(a.value + b.value, finish)


def _avg_pool(x: _Q) -> _Pending:
    def finish(out_scale: float, spec: ActSpec) -> torch.Tensor:
        h, w = x.codes.shape[2:]
        m, s = lower_avg_pool(x.scale, h * w, out_scale)
        total = x.codes.sum((2, 3), keepdim=True).cpu().numpy().astype(np.int64)
        return _to_torch(requantize(total, m, s, spec), x.codes)
    return _Pending(F.adaptive_avg_pool2d(x.value, 1), finish)


def _flatten(x: "_Q | _Pending", start: int) -> "_Q | _Pending":
    if isinstance(x, _Q):
        return _Q(x.value.flatten(start), x.codes.flatten(start), x.scale, x.spec)
    inner = x.finish
    return _Pending(x.value.flatten(start), lambda s, spec: inner(s, spec).flatten(start))


def _act(mod: QAct, x, name: str) -> _Q:
    if not isinstance(x, _Pending):
        raise MSPError(f"layer {name!r}: an activation quantizer needs an integer layer before it "
                       f"(conv, linear, add or average pool)")
    spec = mod.spec
    scale = _f32(abs(float(mod.alpha.detach())) / spec.hi)
    with torch.no_grad():
        codes = x.finish(scale, spec)
    fq = fake_quant_act(x.value, mod.alpha, mod.bits, mod.signed)
    return _Q(_ste(fq, codes * scale), codes, scale, spec)


class IntegerExact(nn.Module):
    """A BN-folded quantized model run with the contract's arithmetic (see the module doc).

    ``model`` is the folded QAT model (its parameters train as usual). In training mode the
    output is float32 logits for the loss; in eval mode float64 logits, exactly the bundle's.
    """

    def __init__(self, folded: nn.Module) -> None:
        super().__init__()
        self.model = folded
        self.msp_config = getattr(folded, "msp_config", {})
        self._plan = trace_steps(folded)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def handle(step: Step, vals: list):
            name = step.name
            if step.kind == "input":
                codes = torch.round(torch.clamp(x, 0, 1) / INPUT_SCALE).double()
                return _Q(x, codes, INPUT_SCALE, U8)
            if step.kind == "module":
                return self._module(step.target, vals)
            if step.kind == "add":
                return _add(*(self._quantized(v, name) for v in vals[:2]))
            if step.kind == "flatten":
                return _flatten(vals[0], vals[1] if len(vals) > 1 else 0)
            if step.kind == "output":
                return self._logits(vals[0])
            raise MSPError(f"node {name!r} ({step.op} {step.target}) has no integer-exact form")

        out = walk(self._plan, handle)
        if out is None:
            raise MSPError("the traced model has no output")
        return out

    def _module(self, target: str, vals: list):
        mod, x = self.model.get_submodule(target), vals[0]
        if isinstance(mod, (QConv2d, QLinear)):
            return _weight_layer(mod, self._quantized(x, target))
        if isinstance(mod, QAct):
            return _act(mod, x, target)
        if isinstance(mod, nn.Identity):
            return x
        if isinstance(mod, nn.MaxPool2d):
            q = self._quantized(x, target)
            return _Q(mod(q.value), mod(q.codes), q.scale, q.spec)
        if isinstance(mod, nn.AdaptiveAvgPool2d) and mod.output_size in (1, (1, 1)):
            return _avg_pool(self._quantized(x, target))
        if isinstance(mod, nn.Flatten):
            return _flatten(x, mod.start_dim)
        raise MSPError(f"layer {target!r}: {type(mod).__name__} has no integer-exact form "
                       f"(batch norm must be folded; supported: quantized conv/linear, QAct, pools, Flatten)")

    @staticmethod
    def _quantized(x, name: str) -> _Q:
        if not isinstance(x, _Q):
            raise MSPError(f"node {name!r}: its input is not quantized (an integer layer's output "
                           f"needs an activation quantizer before it is used again)")
        return x

    def _logits(self, x) -> torch.Tensor:
        if isinstance(x, _Q):
            return x.value if self.training else x.codes * x.scale
        with torch.no_grad():
            exact = x.finish(None, None)
        return _ste(x.value, exact) if self.training else exact


def integer_exact(model: nn.Module) -> IntegerExact:
    """Fold ``model``'s batch norm (a quantized model from :func:`quantize`) and wrap it in
    :class:`IntegerExact`; the original is left as it was."""
    if not hasattr(model, "msp_config"):
        raise MSPError("integer_exact takes a quantized model: run msp_pynq.quant.quantize(model) first")
    return IntegerExact(fold_batch_norm(model))
