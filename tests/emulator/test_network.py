"""Networks: the program runs correctly, deterministically, on any number of threads."""
from __future__ import annotations

import numpy as np
import pytest

from msp_pynq.emulator import reference
from msp_pynq.emulator.layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d
from msp_pynq.emulator.network import Network
from msp_pynq.emulator.synthetic import resnet20
from msp_pynq.errors import LayerError, MSPError
from msp_pynq.numerics.activations import S8, U4, U8

from conftest import random_weights
from .emulator_helpers import conv


def small_net():
    rng = np.random.default_rng(11)
    s1 = rng.integers(0, 3, 6).astype(np.uint8)
    layers = [
        Conv2d(name="c1", weights=random_weights(rng, s1, (3, 3, 3)), schemes=s1, bias=rng.integers(-9, 9, 6),
               multiplier=rng.integers(1, 65536, 6), shift=24, in_spec=U8, out_spec=U4, padding=1),
        MaxPool2d(name="mp", inputs=("c1",), kernel=2, spec=U4),
        Conv2d(name="c2", inputs=("mp",), weights=random_weights(rng, np.full(6, 1), (1, 1, 6)),
               schemes=[1] * 6, multiplier=3000, shift=18, in_spec=U4, out_spec=S8),
        Conv2d(name="c3", inputs=("mp",), weights=random_weights(rng, np.full(6, 2), (3, 3, 6)),
               schemes=[2] * 6, multiplier=5000, shift=18, in_spec=U4, out_spec=U4, padding=1),
        Add(name="add", inputs=("c2", "c3"), in_specs=(S8, U4), multipliers=(30000, 40000), shift=17,
            out_spec=U4),
        GlobalAvgPool(name="gap", inputs=("add",), multiplier=40000, shift=20, in_spec=U4, out_spec=U8),
        Linear(name="fc", inputs=("gap",), weights=random_weights(rng, np.full(5, 1), (6,)),
               schemes=[1] * 5, bias=rng.integers(-100, 100, 5), in_spec=U8, out_spec=None),
    ]
    return Network(layers)


def run_by_hand(net, x):
    """Execute the program layer by layer with the reference, keeping every tensor."""
    tensors = {net.input_name: x}
    for layer in net.layers:
        tensors[layer.output] = reference.run_layer(layer, *(tensors[n] for n in layer.inputs))
    return tensors


def test_network_unknown_tensor():
    with pytest.raises(LayerError, match=r"^layer 'c2': reads tensor 'nope', which no earlier layer produces"):
        Network([conv(name="c1", in_spec=U8), conv(name="c2", inputs=("nope",))])
    with pytest.raises(LayerError, match=r"^layer 'a': reads tensor 'later'"):
        Network([Add(name="a", inputs=("input", "later")), conv(name="later")])


def test_network_tensor_written_twice():
    with pytest.raises(LayerError, match=r"^layer 'c2': writes tensor 'c1', already produced"):
        Network([conv(name="c1"), conv(name="c2", inputs=("c1",), output="c1")])
    with pytest.raises(LayerError, match=r"^layer 'c1': writes tensor 'input', already produced"):
        Network([conv(name="c1", output="input")])


def test_network_construction_errors():
    with pytest.raises(MSPError, match="at least one layer"):
        Network([])
    with pytest.raises(MSPError, match="network output 'zzz' is produced by no layer"):
        Network([conv(name="c1")], output="zzz")


def test_network_runs_program_and_keep():
    net = small_net()
    x = np.random.default_rng(5).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    by_hand = run_by_hand(net, x)
    out = net.run(x)
    assert out.dtype == np.int32 and out.shape == (3, 5)
    np.testing.assert_array_equal(out, by_hand["fc"])
    np.testing.assert_array_equal(net.run(x, reference_path=True), by_hand["fc"])
    kept = net.run(x, keep=["c1", "mp", "add"])
    assert set(kept) == {"c1", "mp", "add", "fc"}
    for name, value in kept.items():
        assert value.dtype == by_hand[name].dtype
        np.testing.assert_array_equal(value, by_hand[name])
    kept = net.run(x, keep=["input", "c2"], reference_path=True)
    assert set(kept) == {"input", "c2", "fc"}
    np.testing.assert_array_equal(kept["input"], x)
    np.testing.assert_array_equal(kept["c2"], by_hand["c2"])


def test_network_input_checked():
    net = small_net()
    with pytest.raises(MSPError, match=r"network input 'input'.*dtype int8"):
        net.run(np.zeros((1, 8, 8, 3), np.int8))


def test_network_threads_identical(resnet, images):
    net = small_net()
    x = np.random.default_rng(6).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    np.testing.assert_array_equal(net.run(x, threads=2), net.run(x, threads=1))
    np.testing.assert_array_equal(net.run(x, threads=4, reference_path=True), net.run(x))
    one = resnet.run(images, threads=1)
    two = resnet.run(images, threads=2)
    assert one.dtype == two.dtype == np.int32
    np.testing.assert_array_equal(one, two)


def test_resnet20_reference_path_agrees(resnet, images):
    fast_out = resnet.run(images)
    ref_out = resnet.run(images, reference_path=True)
    assert fast_out.shape == (4, 10) and fast_out.dtype == ref_out.dtype == np.int32
    np.testing.assert_array_equal(fast_out, ref_out)
    # every intermediate tensor as well, against a layer-by-layer reference execution
    names = [layer.output for layer in resnet.layers]
    kept = resnet.run(images, keep=names)
    by_hand = run_by_hand(resnet, images)
    for name in names:
        assert kept[name].dtype == by_hand[name].dtype, name
        np.testing.assert_array_equal(kept[name], by_hand[name], err_msg=name)
    # the synthetic network is not degenerate: logits differ between images
    assert len({tuple(row) for row in fast_out.tolist()}) > 1


def test_network_deterministic(resnet, images):
    first = resnet.run(images)
    np.testing.assert_array_equal(resnet.run(images.copy()), first)
    np.testing.assert_array_equal(resnet.run(images[:2]), first[:2])
    again = resnet20(seed=3)
    np.testing.assert_array_equal(again.run(images), first)
