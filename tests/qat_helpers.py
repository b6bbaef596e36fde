"""A calibrated QAT model with trained-looking batch norms, for export/compile/runtime tests."""
from __future__ import annotations


def random_qat_model(name: str = "resnet20", seed: int = 0, size: int = 32, **quantize_kwargs):
    """``quantize(build_model(name))`` with random BN statistics (not the zero init), calibrated on
    32 random images of ``size`` x ``size``, in eval mode."""
    import torch
    from torch import nn

    from msp_pynq.models import build_model
    from msp_pynq.quant import calibrate, quantize
    torch.manual_seed(seed)
    model = build_model(name)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            n = m.num_features
            m.weight.data = torch.rand(n) * 0.8 + 0.2
            m.bias.data = torch.rand(n) * 0.2 - 0.1
            m.running_mean = torch.rand(n) * 0.4 - 0.2
            m.running_var = torch.rand(n) + 0.5
    q = quantize(model, **quantize_kwargs)
    calibrate(q, torch.rand(32, 3, size, size))
    return q.eval()
