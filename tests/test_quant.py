"""MSP quantizers, row assignment, QAT modules and BN folding."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from msp_pynq.boards import get_profile, sp2_row_share
from msp_pynq.errors import MSPError
from msp_pynq.models import build_model
from msp_pynq.numerics.schemes import Scheme
from msp_pynq.quant import (QAct, QConv2d, QLinear, calibrate, fixed_levels, fold_batch_norm,
                            pow2_levels, quantize, row_assignment, sp2_levels)
from msp_pynq.quant.assign import assign_rows
from msp_pynq.quant.fake_quant import fake_quant_act, fake_quant_rows, nearest_level


def test_level_sets_match_the_contract():
    assert sp2_levels(2, 1).int().tolist() == Scheme.SP2_4.levels.tolist()
    assert len(sp2_levels(2, 1)) == 13
    assert fixed_levels(4).int().tolist() == list(range(-7, 8))
    assert fixed_levels(8).int().tolist() == Scheme.FIXED8.levels.tolist()
    mags = sorted({abs(v) for v in pow2_levels(4).int().tolist()})
    assert mags == [0, 1, 2, 4, 8, 16, 32, 64]


def test_general_sp2_levels_are_sums_of_two_powers():
    # m1 = 3, m2 = 2: q1 in {0, 2^-1..2^-7}, q2 in {0, 2^-1..2^-3}, scaled by 2^7
    t1 = [0] + [2 ** (7 - i) for i in range(1, 8)]
    t2 = [0] + [2 ** (7 - i) for i in range(1, 4)]
    expected = sorted({s * (a + b) for a in t1 for b in t2 for s in (1, -1)})
    assert sp2_levels(3, 2).int().tolist() == expected


@pytest.mark.parametrize("bad", [(0, 1), (2, 3), (4, 1)])
def test_sp2_levels_reject_bad_indices(bad):
    with pytest.raises(MSPError, match="SP2"):
        sp2_levels(*bad)


@pytest.mark.parametrize("scheme", ["fixed4", "fixed8", "sp2_4", "pow2_4"])
def test_fake_quant_outputs_are_exactly_scaled_levels(scheme):
    from msp_pynq.quant.levels import WEIGHT_SCHEMES
    levels = WEIGHT_SCHEMES[scheme].levels
    w = torch.randn(6, 50) * torch.linspace(0.1, 3, 6)[:, None]
    scale = torch.rand(6) * 0.2 + 0.05
    q = fake_quant_rows(w, scale, levels)
    ints = q / scale[:, None]
    assert torch.allclose(ints, ints.round(), atol=1e-4)
    assert set(ints.round().int().unique().tolist()) <= set(levels.int().tolist())
    # nearest level: no other level is closer (ties allowed)
    v = (w / scale[:, None]).clamp(levels[0], levels[-1])
    err = (ints - v).abs()
    assert (err[..., None] <= (levels - v[..., None]).abs() + 1e-5).all()


def test_nearest_level_on_midpoints_and_outside():
    levels = sp2_levels(2, 1)
    v = torch.tensor([-100.0, -8.0, 3.0, 4.6, 7.0, 0.4, 100.0])
    assert nearest_level(v.clamp(-8, 8), levels).tolist() == [-8, -8, 2, 5, 6, 0, 8]


def test_ste_gradients_flow_inside_range_and_stop_outside():
    levels = fixed_levels(4)
    w = torch.tensor([[0.05, -0.2, 5.0, -5.0]], requires_grad=True)
    scale = torch.tensor([0.1], requires_grad=True)
    fake_quant_rows(w, scale, levels).sum().backward()
    assert w.grad.tolist()[0][:2] == [1.0, 1.0]          # straight through inside [-0.7, 0.7]
    assert w.grad.tolist()[0][2:] == [0.0, 0.0]          # clipped: no gradient
    assert scale.grad.item() != 0


def test_act_quant_levels_and_clip_gradient():
    alpha = torch.tensor(3.0, requires_grad=True)
    x = torch.tensor([-1.0, 0.1, 1.0, 2.9, 7.0], requires_grad=True)
    y = fake_quant_act(x, alpha, 4, signed=False)
    steps = y / (3.0 / 15)
    assert torch.allclose(steps, steps.round(), atol=1e-5) and y.min() == 0 and y.max() == 3.0
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    assert alpha.grad.item() != 0                         # 7.0 > alpha pushes the clip


def _peaked_and_uniform_rows(rows=16, k=288, seed=0):
    g = torch.Generator().manual_seed(seed)
    peaked = torch.distributions.Laplace(0.0, 1.0).sample((rows // 2, k))
    uniform = torch.rand(rows // 2, k, generator=g) * 2 - 1
    return torch.cat([peaked, uniform])


def test_assignment_gives_sp2_to_peaked_rows_and_8bit_to_outliers():
    torch.manual_seed(0)
    w = _peaked_and_uniform_rows()
    w[11, 0] = 40.0                                       # one uniform row with a huge outlier
    schemes = assign_rows(w, n_sp2=8, n_fixed8=1)
    assert schemes[11] == "fixed8"
    assert schemes.count("sp2_4") == 8 and schemes.count("fixed4") == 7
    assert all(s == "sp2_4" for s in schemes[:8])         # the Laplace rows


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_ratio_and_8bit_share_in_every_layer(board):
    q = quantize(build_model("resnet20"), board=board, share_8bit=0.05)
    share = sp2_row_share(get_profile(board), 0.05)
    assignment = row_assignment(q)
    names = list(assignment)
    assert len(names) == 22
    for name in names:
        counts, rows = assignment[name]["counts"], len(assignment[name]["schemes"])
        if name in (names[0], names[-1]):
            assert counts == {"fixed8": rows}
            continue
        n8 = counts.get("fixed8", 0)
        assert n8 == round(rows * 0.05)
        assert abs(counts.get("sp2_4", 0) - rows * share) <= 1       # up to rounding of one row
        assert sum(counts.values()) == rows


@pytest.mark.parametrize("scheme", ["fixed4", "sp2_4", "pow2_4"])
def test_single_scheme_baselines(scheme):
    q = quantize(build_model("resnet20"), scheme=scheme)
    inner = list(row_assignment(q).values())[1:-1]
    assert all(v["counts"] == {scheme: len(v["schemes"])} for v in inner)


def test_quantize_replaces_modules_and_keeps_float_model():
    model = build_model("resnet20")
    q = quantize(model)
    assert isinstance(model.conv1, nn.Conv2d) and not isinstance(model.conv1, QConv2d)
    assert isinstance(q.conv1, QConv2d) and isinstance(q.fc, QLinear)
    acts = [m for m in q.modules() if isinstance(m, QAct)]
    assert sum(m.signed for m in acts) == 9 + 2                   # 9 branches, 2 projections
    assert not any(isinstance(m, nn.ReLU) for m in q.modules())


@pytest.mark.parametrize("kwargs, match", [
    ({"board": "pynq-z9"}, "unknown board"),
    ({"sp2_share": 1.5}, r"sp2_share must lie in \[0, 1\]"),
    ({"sp2_share": -0.1}, r"sp2_share must lie in \[0, 1\]"),
    ({"share_8bit": 2.0}, r"share_8bit must lie in \[0, 1\]"),
    ({"act_bits": 3}, "act_bits must be one of"),
    ({"scheme": "ternary"}, "unknown scheme"),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(MSPError, match=match):
        quantize(build_model("resnet20"), **kwargs)


def _randomise_bn(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=g) * 2 - 1        # negative gammas too
            m.bias.data = torch.rand(n, generator=g) - 0.5
            m.running_mean = torch.rand(n, generator=g) - 0.5
            m.running_var = torch.rand(n, generator=g) + 0.5
    return model


@pytest.mark.parametrize("name", ["resnet20", "cnv"])
def test_folding_preserves_outputs_and_integer_levels(name):
    """Each folded layer reproduces conv + BN on the same input, and keeps its integer levels.

    (End to end, a value within float rounding of an activation's rounding boundary may land on
    the other level, so layers are compared one by one, on the unfolded model's own inputs.)
    """
    torch.manual_seed(0)
    q = quantize(_randomise_bn(build_model(name)))
    x = torch.rand(8, 3, 32, 32)
    calibrate(q, x)
    q.eval()
    folded = fold_batch_norm(q)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)) for m in folded.modules())
    pairs, inputs, outputs = _conv_bn_pairs(q), {}, {}
    hooks = [conv.register_forward_hook(lambda m, i, o, n=n: inputs.__setitem__(n, i[0]))
             for n, (conv, _) in pairs.items()]
    hooks += [bn.register_forward_hook(lambda m, i, o, n=n: outputs.__setitem__(n, o))
              for n, (_, bn) in pairs.items()]
    with torch.no_grad():
        q(x)
        for n in pairs:
            got = folded.get_submodule(n)(inputs[n])
            assert torch.allclose(got, outputs[n], atol=1e-4, rtol=1e-4), n
        agree = (folded(x).argmax(1) == q(x).argmax(1)).float().mean()
    assert agree == 1.0
    for h in hooks:
        h.remove()
    for (_, a), (_, b) in zip(q.named_modules(), folded.named_modules()):
        if isinstance(a, (QConv2d, QLinear)):      # levels relative to the (signed) folded scale
            assert torch.equal(a.integer_weights(), b.integer_weights())


def _conv_bn_pairs(model):
    pairs, prev = {}, None
    for name, mod in model.named_modules():
        if isinstance(mod, (QConv2d, QLinear)):
            prev = (name, mod)
        elif isinstance(mod, (nn.BatchNorm2d, nn.BatchNorm1d)):
            pairs[prev[0]] = (prev[1], mod)
    return pairs


def test_qat_gradients_reach_weights_scales_and_clips():
    torch.manual_seed(0)
    q = quantize(_randomise_bn(build_model("resnet20")))
    calibrate(q, torch.rand(8, 3, 32, 32))
    q.train()
    loss = nn.functional.cross_entropy(q(torch.rand(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert q.conv1.weight.grad.abs().sum() > 0
    assert q.layers[4].conv2.w_scale.grad.abs().sum() > 0
    assert q.layers[4].relu1.alpha.grad.abs() > 0


@pytest.mark.parametrize("signed", [False, True])
def test_fused_act_quant_matches_plain_autograd(signed):
    """The fused PACT function gives the same values and gradients as the textbook formula."""
    torch.manual_seed(0)
    n = 127 if signed else 15
    x = (torch.randn(2000) * 3).requires_grad_()
    alpha = torch.tensor(2.0, requires_grad=True)
    g = torch.randn(2000)
    (fake_quant_act(x, alpha, 4, signed) * g).sum().backward()
    x2, a2 = x.detach().clone().requires_grad_(), torch.tensor(2.0, requires_grad=True)
    lo = -a2 if signed else torch.zeros_like(a2)
    v = torch.minimum(torch.maximum(x2, lo), a2) * (n / a2)
    ((v + (torch.round(v) - v).detach()) * (a2 / n) * g).sum().backward()
    torch.testing.assert_close(x.grad, x2.grad)
    torch.testing.assert_close(alpha.grad, a2.grad, rtol=1e-5, atol=1e-4)
