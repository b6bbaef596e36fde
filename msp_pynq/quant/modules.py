"""Drop-in QAT modules: QConv2d / QLinear (per-row weight schemes) and QAct (activations).

They keep ``nn.Conv2d`` / ``nn.Linear`` parameters, so float checkpoints load into them, and add a
per-row learned scale ``w_scale`` and a frozen per-row ``scheme_ids`` buffer (indices into
``levels.WEIGHT_SCHEMES``).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..numerics.activations import ActSpec, act_spec
from .fake_quant import fake_quant_act, fake_quant_rows
from .levels import SCHEME_IDS, WEIGHT_SCHEMES
from .observers import best_act_clip, best_row_scales

_NAMES = list(WEIGHT_SCHEMES)


class _RowQuantMixin:
    """Shared by QConv2d and QLinear: per-row schemes and scales, fake-quantized weight."""

    def _init_quant(self, schemes: "list[str]") -> None:
        rows = self.weight.shape[0]
        if len(schemes) != rows:
            raise ValueError(f"{len(schemes)} row schemes for {rows} rows")
        ids = torch.tensor([SCHEME_IDS[s] for s in schemes], dtype=torch.long)
        self.register_buffer("scheme_ids", ids)
        flat = self.weight.detach().reshape(rows, -1)
        scale = torch.empty(rows)
        for name, idx in SCHEME_IDS.items():
            sel = ids == idx
            if sel.any():
                scale[sel], _ = best_row_scales(flat[sel], WEIGHT_SCHEMES[name].levels)
        self.w_scale = nn.Parameter(scale)

    @property
    def schemes(self) -> "list[str]":
        return [_NAMES[i] for i in self.scheme_ids.tolist()]

    def quantized_weight(self) -> torch.Tensor:
        w, out = self.weight, torch.empty_like(self.weight)
        for idx in self.scheme_ids.unique().tolist():
            sel = (self.scheme_ids == idx).nonzero().flatten()
            levels = WEIGHT_SCHEMES[_NAMES[idx]].levels.to(w.device)
            out = out.index_copy(0, sel, fake_quant_rows(w[sel], self.w_scale[sel], levels))
        return out

    @torch.no_grad()
    def integer_weights(self) -> torch.Tensor:
        """The integer levels ``q`` of every weight (``w_q = w_scale[r] * q``)."""
        scale = self.w_scale.view(-1, *([1] * (self.weight.dim() - 1)))
        return torch.round(self.quantized_weight() / scale)

    @torch.no_grad()
    def export_weights(self) -> "tuple[np.ndarray, np.ndarray]":
        """The layer as exported and compiled: int8 levels (the sign of a negative, BN-folded
        scale moved into them) and float32 ``|w_scale|`` per row."""
        q = self.integer_weights().cpu().numpy()
        s = self.w_scale.detach().cpu().numpy().astype(np.float64)
        sign = np.where(s < 0, -1, 1).reshape((-1,) + (1,) * (q.ndim - 1))
        scale = np.abs(s).astype(np.float32)
        scale[scale == 0] = 1.0
        return (q * sign).astype(np.int8), scale


class QConv2d(_RowQuantMixin, nn.Conv2d):
    @classmethod
    def from_float(cls, conv: nn.Conv2d, schemes: "list[str]") -> "QConv2d":
        q = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                conv.dilation, conv.groups, conv.bias is not None, conv.padding_mode)
        q.load_state_dict(conv.state_dict())
        q._init_quant(schemes)
        return q.to(conv.weight.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.quantized_weight(), self.bias)


class QLinear(_RowQuantMixin, nn.Linear):
    @classmethod
    def from_float(cls, linear: nn.Linear, schemes: "list[str]") -> "QLinear":
        q = cls(linear.in_features, linear.out_features, linear.bias is not None)
        q.load_state_dict(linear.state_dict())
        q._init_quant(schemes)
        return q.to(linear.weight.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.quantized_weight(), self.bias)


class QAct(nn.Module):
    """Activation quantizer: unsigned ``bits`` with ReLU (replacing ``nn.ReLU``) or signed 8-bit.

    The clip ``alpha`` is initialised from the first training batch (MSE-optimal), then learned.
    The tensor's scale in the integer contract is ``alpha / (2^bits - 1)`` (or ``alpha / 127``).
    """

    def __init__(self, bits: int = 4, signed: bool = False) -> None:
        super().__init__()
        self.bits, self.signed = bits, signed
        self.alpha = nn.Parameter(torch.tensor(1.0))
        self.register_buffer("initialized", torch.tensor(False))

    @property
    def spec(self) -> ActSpec:
        """The contract's type of this quantizer's output (``s8`` or unsigned ``bits``)."""
        return act_spec(self.bits, self.signed)

    @property
    def scale(self) -> float:
        return abs(self.alpha.item()) / self.spec.hi

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not bool(self.initialized):
            with torch.no_grad():
                self.alpha.fill_(best_act_clip(x, self.bits, self.signed))
                self.initialized.fill_(True)
        return fake_quant_act(x, self.alpha, self.bits, self.signed)

    def extra_repr(self) -> str:
        return f"{'s' if self.signed else 'u'}{self.bits}, alpha={self.alpha.item():.4g}"

