"""The emulator takes only layers the engine can be given: sizes past the engine's descriptor
fields are refused when the layer is built (a LayerError naming it), instead of running for
minutes; the limits are the runtime's own (msp_pynq.engine.registers), not a copy."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msp_pynq.emulator import Conv2d, GlobalAvgPool, Linear, MaxPool2d, Network
from msp_pynq.engine.limits import engine_limits
from msp_pynq.errors import LayerError
from msp_pynq.numerics import U8
from msp_pynq.engine.registers import Descriptor, Op

from .bounded import assert_own_error, run_bounded

PRELUDE = """
import numpy as np
from msp_pynq.emulator import Conv2d, GlobalAvgPool, Linear, MaxPool2d, Network
from msp_pynq.numerics import U8
"""


def test_limits_are_the_descriptor_fields():
    """Each limit fits its register field, and one more does not: the same numbers as the engine."""
    lim = engine_limits()
    ok = Descriptor(op=Op.CONV2D, in_h=lim.size, in_w=lim.size, in_c=lim.channels, out_c=lim.rows,
                    kernel=(lim.kernel,) * 2, stride=(lim.stride,) * 2, padding=(lim.padding,) * 4)
    assert Descriptor.from_registers(dict(ok.registers())) == ok
    for field, value in (("in_h", lim.size + 1), ("in_w", lim.size + 1), ("in_c", lim.channels + 1),
                         ("out_c", lim.rows + 1), ("kernel", (lim.kernel + 1, 1)),
                         ("stride", (1, lim.stride + 1)), ("padding", (0, 0, lim.padding + 1, 0))):
        bad = Descriptor(**dict(ok.as_dict(), **{field: value}))
        try:      # refused, or (a packed field spilling into its neighbour) not read back
            assert Descriptor.from_registers(dict(bad.registers())) != bad, field
        except ValueError as exc:
            assert "does not fit its register" in str(exc)


@pytest.mark.parametrize("case, fragments", [
    ("Conv2d(name='c', weights=np.ones((1, 1, 1, 1), np.int8), schemes=['fixed8'], padding=20000)",
     ("layer 'c'", "padding (20000, 20000, 20000, 20000) exceeds the engine's limit of 255")),
    ("Conv2d(name='c', weights=np.ones((1, 1, 1, 1), np.int8), schemes=['fixed8'], padding=(0, 0, 0, 256))",
     ("layer 'c'", "padding", "255")),
    ("Conv2d(name='c', weights=np.ones((1, 1, 1, 1), np.int8), schemes=['fixed8'], stride=(1, 4001))",
     ("layer 'c'", "stride (1, 4001) exceeds the engine's limit of 255")),
    ("Conv2d(name='c', weights=np.ones((1, 300, 1, 1), np.int8), schemes=['fixed8'])",
     ("layer 'c'", "kernel (300, 1) exceeds the engine's limit of 255")),
    ("Conv2d(name='c', weights=np.ones((1, 1, 1, 70000), np.int8), schemes=['fixed8'])",
     ("layer 'c'", "input channels 70000 exceeds the engine's limit of 65535")),
    ("Linear(name='fc', weights=np.ones((70000, 1), np.int8), schemes=['fixed8'] * 70000, out_spec=None)",
     ("layer 'fc'", "rows 70000 exceeds the engine's limit of 65535")),
    ("MaxPool2d(name='p', kernel=4001)", ("layer 'p'", "kernel (4001, 4001) exceeds the engine's limit of 255")),
    ("MaxPool2d(name='p', kernel=2, stride=(300, 1))", ("layer 'p'", "stride (300, 1)")),
    ("MaxPool2d(name='p', kernel=(400, 400), padding=200)", ("layer 'p'", "kernel (400, 400)")),
])
def test_sizes_past_the_engine_are_refused_at_construction(case, fragments):
    result = run_bounded(case, PRELUDE, mem_mib=256, cpu_s=20)
    assert result["raised"] == "LayerError"
    assert_own_error(result, *fragments)


def test_the_pool_that_used_to_run_for_minutes():
    """A 4001 x 4001 pool over a 4001 x 4001 image: refused at once, in bounded CPU time."""
    case = """
pool = MaxPool2d(name='p', kernel=4001, stride=1, padding=2000)
Network([pool]).run(np.zeros((1, 4001, 4001, 1), np.uint8))
"""
    result = run_bounded(case, PRELUDE, mem_mib=512, cpu_s=20)
    assert_own_error(result, "layer 'p'", "kernel (4001, 4001)")


def test_images_larger_than_the_engine_takes():
    lim = engine_limits()
    gap = GlobalAvgPool(name="gap", multiplier=1, shift=0, in_spec=U8, out_spec=U8)
    x = np.broadcast_to(np.zeros(1, np.uint8), (1, 1, lim.size + 1, 1))     # no allocation
    with pytest.raises(LayerError, match=rf"layer 'gap': input has shape \(1, 1, {lim.size + 1}, 1\): "
                                         rf"images of at most {lim.size} x {lim.size} pixels"):
        gap_net = Network([gap, Linear(name="fc", inputs=("gap",), weights=np.ones((1, 1), np.int8),
                                       schemes=["fixed8"], out_spec=None)])
        gap_net.run(x)


def test_the_largest_legal_window_still_builds():
    lim = engine_limits()
    pool = MaxPool2d(name="p", kernel=lim.kernel, stride=lim.stride, padding=lim.kernel // 2)
    assert pool.kernel == (lim.kernel, lim.kernel) and pool.padding == (lim.kernel // 2,) * 4
    conv = Conv2d(name="c", weights=np.ones((1, 1, 1, 1), np.int8), schemes=["fixed8"],
                  padding=lim.padding, stride=lim.stride)
    assert conv.padding == (lim.padding,) * 4


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 600), st.integers(1, 600), st.integers(0, 600))
def test_fuzz_window_sizes(kernel, stride, padding):
    """Any window: built exactly when every size is within the engine's limits, else LayerError."""
    lim = engine_limits()
    try:
        MaxPool2d(name="p", kernel=(kernel, 1), stride=(stride, 1), padding=(min(padding, kernel // 2), 0))
        built_pool = True
    except LayerError as exc:
        assert "layer 'p'" in str(exc)
        built_pool = False
    assert built_pool == (kernel <= lim.kernel and stride <= lim.stride and min(padding, kernel // 2) <= lim.padding)
    try:
        Conv2d(name="c", weights=np.ones((1, 1, 1, 1), np.int8), schemes=["fixed8"],
               stride=(stride, 1), padding=(padding, 0))
        built_conv = True
    except LayerError as exc:
        assert "exceeds the engine's limit" in str(exc)
        built_conv = False
    assert built_conv == (stride <= lim.stride and padding <= lim.padding)
