"""Bad input and bad layer fields raise LayerError naming the layer."""
from __future__ import annotations

import numpy as np
import pytest

from msp_pynq.emulator import fast, reference
from msp_pynq.emulator.layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d
from msp_pynq.errors import LayerError, MSPError
from msp_pynq.numerics.activations import S8, U4, U5, U8

from .emulator_helpers import BIAS_LIMIT, conv


BOTH = pytest.mark.parametrize("runner", [fast.run_layer, reference.run_layer], ids=["fast", "ref"])


@BOTH
@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.int8, np.int64])
def test_wrong_input_dtype(runner, dtype):
    with pytest.raises(LayerError, match=r"^layer 'bad': input: dtype .*expected uint8"):
        runner(conv(), np.zeros((1, 4, 4, 4), dtype))


@BOTH
def test_wrong_ndim(runner):
    with pytest.raises(LayerError, match=r"^layer 'bad': input has shape \(4, 4, 4\), expected 4 axes"):
        runner(conv(), np.zeros((4, 4, 4), np.uint8))


@BOTH
def test_wrong_channel_count(runner):
    with pytest.raises(LayerError, match=r"^layer 'bad': .*5 channels, expected 4"):
        runner(conv(), np.zeros((1, 4, 4, 5), np.uint8))


@BOTH
@pytest.mark.parametrize("spec,value", [(U4, 16), (U4, 255), (U5, 32)])
def test_activation_above_spec_max(runner, spec, value):
    x = np.zeros((1, 4, 4, 4), np.uint8)
    x[0, 2, 1, 3] = value
    with pytest.raises(LayerError, match=rf"^layer 'bad': input: value {value} exceeds the {spec} maximum"):
        runner(conv(in_spec=spec), x)


@BOTH
def test_linear_bad_inputs(runner):
    lin = Linear(name="fc", weights=np.ones((2, 12), np.int64), schemes=[1, 1], in_spec=S8)
    with pytest.raises(LayerError, match=r"^layer 'fc': input has shape \(1, 13\), expected \(N, 12\)"):
        runner(lin, np.zeros((1, 13), np.int8))
    with pytest.raises(LayerError, match=r"^layer 'fc': input has shape \(12,\)"):
        runner(lin, np.zeros(12, np.int8))
    with pytest.raises(LayerError, match=r"^layer 'fc': input: dtype uint8, expected int8"):
        runner(lin, np.zeros((1, 12), np.uint8))


@pytest.mark.parametrize("schemes,row,value,label", [
    ([0, 2], 1, 3, "sp2_4"), ([0, 2], 0, 8, "fixed4"), ([1, 1], 1, -128, "fixed8"),
    ([2, 0], 0, 7, "sp2_4"), ([0, 0], 1, -8, "fixed4"), ([2, 2], 1, 9, "sp2_4"),
])
def test_weight_outside_row_scheme(schemes, row, value, label):
    w = np.ones((2, 3, 3, 4), np.int64)
    w[row, 1, 2, 0] = value
    with pytest.raises(LayerError, match=rf"^layer 'bad': row {row} \({label}\) holds weight {value}, "
                                         rf"not a {label} level"):
        conv(weights=w, schemes=schemes)


def test_unknown_scheme_number_and_length_mismatch():
    with pytest.raises(LayerError, match=r"^layer 'bad': schemes: row 1 has unknown scheme number 3"):
        conv(schemes=[0, 3])
    with pytest.raises(LayerError, match=r"^layer 'bad': .*unknown weight scheme 'fixed5'"):
        conv(schemes=["fixed4", "fixed5"])
    with pytest.raises(LayerError, match=r"^layer 'bad': 3 row schemes for 2 weight rows"):
        conv(schemes=[0, 0, 0])
    with pytest.raises(LayerError, match=r"^layer 'bad': 1 row schemes for 2 weight rows"):
        conv(schemes=[0])


@pytest.mark.parametrize("kw,msg", [
    (dict(multiplier=65536), r"multiplier 65536 outside 0\.\.65535"),
    (dict(multiplier=[1, 1 << 16]), r"multiplier 65536"),
    (dict(multiplier=-1), r"multiplier -1"),
    (dict(shift=48), r"shift 48 outside 0\.\.47"),
    (dict(shift=[0, -1]), r"shift -1"),
    (dict(bias=[0, BIAS_LIMIT + 1]), r"bias 1073741825 exceeds \+-2\^30"),
    (dict(bias=-BIAS_LIMIT - 1), r"bias 1073741825 exceeds"),
    (dict(bias=[1.5, 2.0]), r"bias must hold integers"),
    (dict(multiplier=[1, 2, 3]), r"multiplier has shape \(3,\), expected \(2,\)"),
    (dict(weights=np.ones((2, 3, 3, 4), np.float32)), r"weights must be integer values"),
    (dict(weights=np.ones((2, 3, 4), np.int64)), r"weights have shape \(2, 3, 4\)"),
    (dict(stride=0), r"stride must be"),
    (dict(padding=-1), r"padding must be"),
    (dict(padding=(1, 1, 1)), r"padding must be"),
    (dict(in_spec="u4"), r"in_spec and out_spec must be ActSpec"),
])
def test_bad_layer_fields(kw, msg):
    with pytest.raises(LayerError, match=r"^layer 'bad': (requant: )?" + msg):
        conv(**kw)


def test_limits_are_inclusive():
    conv(multiplier=65535, shift=47, bias=[BIAS_LIMIT, -BIAS_LIMIT])
    Linear(name="kmax", weights=np.zeros((1, 1 << 15), np.int8), schemes=[0])
    # out_spec None ignores multiplier and shift
    conv(out_spec=None, multiplier=1 << 20, shift=99)


def test_k_above_max():
    with pytest.raises(LayerError, match=r"^layer 'wide': reduction length K=32769 exceeds"):
        Linear(name="wide", weights=np.zeros((1, (1 << 15) + 1), np.int8), schemes=[0])
    with pytest.raises(LayerError, match=r"^layer 'wconv': reduction length K=33275 exceeds"):
        Conv2d(name="wconv", weights=np.zeros((1, 5, 5, 1331), np.int8), schemes=[0])


@BOTH
def test_kernel_larger_than_padded_input(runner):
    with pytest.raises(LayerError, match=r"^layer 'bad': kernel 3 is larger than the padded input \(1 \+ 0 \+ 1\)"):
        runner(conv(padding=(0, 0, 1, 0)), np.zeros((1, 1, 5, 4), np.uint8))
    pool = MaxPool2d(name="p", kernel=(2, 4), spec=U8)
    with pytest.raises(LayerError, match=r"^layer 'p': kernel 4 is larger than the padded input \(3 \+ 0 \+ 0\)"):
        runner(pool, np.zeros((1, 5, 3, 1), np.uint8))


@BOTH
def test_add_bad_inputs(runner):
    layer = Add(name="sum", inputs=("a", "b"), in_specs=(U4, S8))
    with pytest.raises(LayerError, match=r"^layer 'sum': inputs have shapes \(1, 2, 2, 3\) and \(1, 2, 2, 4\)"):
        runner(layer, np.zeros((1, 2, 2, 3), np.uint8), np.zeros((1, 2, 2, 4), np.int8))
    with pytest.raises(LayerError, match=r"^layer 'sum': input b: dtype uint8, expected int8"):
        runner(layer, np.zeros((1, 2), np.uint8), np.zeros((1, 2), np.uint8))
    with pytest.raises(LayerError, match=r"^layer 'sum': input a: value 16 exceeds"):
        runner(layer, np.full((1, 2), 16, np.uint8), np.zeros((1, 2), np.int8))


def test_add_bad_fields():
    with pytest.raises(LayerError, match=r"^layer 'sum': requant: multiplier 65536 outside"):
        Add(name="sum", inputs=("a", "b"), multipliers=(1, 65536))
    with pytest.raises(LayerError, match=r"^layer 'sum': requant: shift 48 outside"):
        Add(name="sum", inputs=("a", "b"), shift=48)
    with pytest.raises(LayerError, match=r"^layer 'sum': Add takes exactly two inputs"):
        Add(name="sum", inputs=("a",))


@pytest.mark.parametrize("kernel,padding", [(2, 2), (3, 2), (3, (0, 0, 0, 2)), ((3, 2), (1, 2)),
                                            (1, 1), ((4, 1), (0, 1, 0, 0)), (3, (2, 0, 0, 0)),
                                            (3, (0, 0, 2, 0)), ((2, 5), (2, 1)), ((1, 4), (1, 0))])
def test_maxpool_padding_above_half_kernel(kernel, padding):
    with pytest.raises(LayerError, match=r"^layer 'mp': padding .* exceeds half the kernel"):
        MaxPool2d(name="mp", kernel=kernel, padding=padding)


def test_maxpool_padding_at_half_kernel_ok():
    MaxPool2d(name="mp", kernel=(4, 5), padding=(2, 2, 2, 2))
    MaxPool2d(name="mp", kernel=3, padding=1)


def test_gap_bad_fields_and_inputs():
    with pytest.raises(LayerError, match=r"^layer 'g': requant: multiplier 70000 outside"):
        GlobalAvgPool(name="g", multiplier=70000)
    with pytest.raises(LayerError, match=r"^layer 'g': requant: shift 48 outside"):
        GlobalAvgPool(name="g", shift=48)
    gap = GlobalAvgPool(name="g", in_spec=U4)
    for runner in (fast.run_layer, reference.run_layer):
        with pytest.raises(LayerError, match=r"^layer 'g': input has shape \(2, 3\), expected 4 axes"):
            runner(gap, np.zeros((2, 3), np.uint8))
        with pytest.raises(LayerError, match=r"^layer 'g': input: value 20 exceeds the u4 maximum 15"):
            runner(gap, np.full((1, 1, 1, 1), 20, np.uint8))


@pytest.mark.parametrize("make", [
    lambda: Add(name="odd", inputs=("a", "b"), in_specs=("u4", "u4")),
    lambda: Add(name="odd", inputs=("a", "b"), out_spec="u8"),
    lambda: MaxPool2d(name="odd", spec="u4"),
    lambda: GlobalAvgPool(name="odd", in_spec="u4"),
    lambda: GlobalAvgPool(name="odd", out_spec="u8"),
], ids=["add-in", "add-out", "pool", "gap-in", "gap-out"])
def test_non_actspec_fields_raise_layer_error(make):
    """Conv2d/Linear reject a non-ActSpec spec with LayerError; Add, MaxPool2d and
    GlobalAvgPool must as well (at construction, at the latest when run), not crash with
    AttributeError."""
    x = np.zeros((1, 2, 2, 1), np.uint8)
    with pytest.raises(LayerError, match=r"^layer 'odd': "):
        layer = make()
        for runner in (reference.run_layer, fast.run_layer):
            runner(layer, *([x] * len(layer.inputs)))


def test_conv_rejects_non_actspec_and_fractional_params():
    with pytest.raises(LayerError, match=r"^layer 'frac': multiplier must hold integers"):
        conv(name="frac", multiplier=1.5)
    with pytest.raises(LayerError, match=r"^layer 'frac': shift must hold integers"):
        conv(name="frac", shift=2.5)


@pytest.mark.parametrize("make", [
    lambda: Add(name="frac", inputs=("a", "b"), multipliers=(1.5, 1)),
    lambda: Add(name="frac", inputs=("a", "b"), shift=2.5),
    lambda: GlobalAvgPool(name="frac", multiplier=1.9),
    lambda: GlobalAvgPool(name="frac", shift=0.5),
], ids=["add-m", "add-s", "gap-m", "gap-s"])
def test_fractional_requant_params_raise_layer_error(make):
    """m and s are integers in the contract; Add and GlobalAvgPool must not truncate 1.5 to 1
    (Conv2d and Linear reject such values with LayerError)."""
    with pytest.raises(LayerError, match=r"^layer 'frac': "):
        make()


def test_layer_error_is_msp_error():
    err = LayerError("x", "boom")
    assert isinstance(err, MSPError) and isinstance(err, ValueError)
    assert str(err) == "layer 'x': boom" and err.layer == "x"
