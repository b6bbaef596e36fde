"""The engine's register model through the real pynq driver stack: results, errors, registers.

Layers are driven at register level (descriptor, START, DMA packets) as docs/registers.md says;
expected outputs come from the int64 reference emulator (the model computes with the fast path).
"""
from __future__ import annotations

import struct

import numpy as np
import pynq
import pytest

from msp_pynq.engine.rows import engine_row_order
from msp_pynq.emulator import reference
from msp_pynq.emulator.layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d
from msp_pynq.numerics.activations import S8, U4, U5, U8
from msp_pynq.numerics.packing import pack_rows
from msp_pynq.runtime import EngineError
from msp_pynq.runtime import dma as dmaops
from msp_pynq.engine.cycles import modelled_cycles
from msp_pynq.engine.registers import (CTRL_IRQ_ENABLE, CTRL_START, IRQ_DONE, IRQ_ERROR, ST_DONE, ST_ERROR,
                                        Descriptor, ErrorCode, Op, Reg, encode_act)

from .runtime_helpers import random_weights


class Rig:
    """An emulated overlay with the engine and DMA, driven one layer at a time."""

    def __init__(self, rt):
        self.rt, self.engine, self.dma, self.device = rt, rt.engine, rt.dma, rt.device

    def run(self, desc: Descriptor, packets, out_nbytes: "int | None" = None, timeout_s: float = 0.5) -> bytes:
        out_nbytes = desc.output_nbytes if out_nbytes is None else out_nbytes
        bufs = [pynq.allocate((max(len(p), 1),), np.uint8, target=self.device) for p in packets]
        out = pynq.allocate((out_nbytes,), np.uint8, target=self.device)
        try:
            names = [n for n, _ in desc.packet_sizes()]
            self.engine.program(desc)
            self.dma.recvchannel.transfer(out)
            self.engine.start()
            for buf, p in zip(bufs, packets):
                buf[:len(p)] = np.frombuffer(bytes(p), np.uint8)
                self.dma.sendchannel.transfer(buf[:len(p)])
                dmaops.wait_channel(self.dma, dmaops.MM2S, timeout_s, what="test")
            self.engine.wait("test", timeout_s, self.dma, names)
            dmaops.wait_channel(self.dma, dmaops.S2MM, timeout_s, what="test")
            return bytes(np.array(out))
        except Exception:
            self.rt.recover()
            raise
        finally:
            for b in bufs + [out]:
                b.freebuffer()


@pytest.fixture
def rig(runtime):
    return Rig(runtime("pynq-z2"))


def _acts(rng, spec, shape):
    return rng.integers(spec.lo, spec.hi + 1, shape).astype(spec.dtype)


def _weight_packets(layer):
    """Hand-built params (struct) and the packed weights, rows in engine order."""
    order = engine_row_order(layer.schemes)
    raw = layer.out_spec is None
    params = b"".join(struct.pack("<iHBB", int(layer.bias[r]), 0 if raw else int(layer.multiplier[r]),
                                  0 if raw else int(layer.shift[r]), int(layer.schemes[r])) for r in order)
    weights = pack_rows(layer.weights.reshape(layer.rows, -1)[order], layer.schemes[order]).tobytes()
    return order, params, weights


def _counts(schemes):
    return dict(rows_sp2=int((schemes == 2).sum()), rows_fixed4=int((schemes == 0).sum()),
                rows_fixed8=int((schemes == 1).sum()))


def _conv(rng, in_spec, out_spec, cin=3, rows=7, kernel=(3, 3), stride=(1, 1), padding=(1, 1, 1, 1)):
    schemes = rng.integers(0, 3, rows).astype(np.uint8)
    return Conv2d(name="c", weights=random_weights(rng, schemes, kernel + (cin,)), schemes=schemes,
                  bias=rng.integers(-2000, 2000, rows), multiplier=rng.integers(1 << 15, 1 << 16, rows),
                  shift=rng.integers(18, 22, rows), in_spec=in_spec, out_spec=out_spec, stride=stride,
                  padding=padding)


@pytest.mark.parametrize("out_spec", [U5, None], ids=["u5", "raw"])
def test_conv2d_matches_the_reference(rig, out_spec):
    rng = np.random.default_rng(3)
    layer = _conv(rng, U8, out_spec, stride=(2, 1), padding=(1, 0, 2, 1))      # K = 27: odd
    x = _acts(rng, U8, (3, 7, 6, 3))
    order, params, weights = _weight_packets(layer)
    desc = Descriptor(op=Op.CONV2D, batch=3, in_h=7, in_w=6, in_c=3, out_c=7, kernel=(3, 3), stride=(2, 1),
                      padding=(1, 0, 2, 1), in_type=encode_act(U8), out_type=encode_act(out_spec),
                      raw_out=out_spec is None, **_counts(layer.schemes))
    out = rig.run(desc, [params, weights, x.tobytes()])
    want = reference.run_layer(layer, x)[..., order]                    # engine row order
    assert np.array_equal(np.frombuffer(out, desc.output_dtype).reshape(want.shape), want)
    assert rig.engine.cycles() == modelled_cycles(desc, rig.rt.profile) > 0


@pytest.mark.parametrize("out_spec", [S8, None], ids=["s8", "raw"])
def test_linear_on_an_nhwc_input_matches_the_reference(rig, out_spec):
    rng = np.random.default_rng(4)
    schemes = np.array([1, 2, 0, 2, 1, 0], np.uint8)
    layer = Linear(name="fc", weights=random_weights(rng, schemes, (12,)), schemes=schemes,
                   bias=rng.integers(-100, 100, 6), multiplier=rng.integers(1 << 15, 1 << 16, 6),
                   shift=np.full(6, 22), in_spec=U4, out_spec=out_spec)
    x = _acts(rng, U4, (2, 2, 2, 3))                                      # K = 2 * 2 * 3
    order, params, weights = _weight_packets(layer)
    desc = Descriptor(op=Op.LINEAR, batch=2, in_h=2, in_w=2, in_c=3, out_c=6, in_type=encode_act(U4),
                      out_type=encode_act(out_spec), raw_out=out_spec is None, **_counts(schemes))
    out = rig.run(desc, [params, weights, x.tobytes()])
    want = reference.run_layer(layer, x)[:, order]
    assert np.array_equal(np.frombuffer(out, desc.output_dtype).reshape(2, 6), want)


def test_add_max_pool_and_global_avg_pool_match_the_reference(rig):
    rng = np.random.default_rng(5)
    a, b = _acts(rng, U4, (2, 5, 4, 6)), _acts(rng, S8, (2, 5, 4, 6))
    add = Add(name="add", inputs=("a", "b"), in_specs=(U4, S8), multipliers=(40000, 3000), shift=15, out_spec=U8)
    desc = Descriptor(op=Op.ADD, batch=2, in_h=5, in_w=4, in_c=6, in_type=0x04, in_b_type=0x88, out_type=0x08,
                      mult_a=40000, mult_b=3000, shift=15)
    out = rig.run(desc, [a.tobytes(), b.tobytes()])
    assert np.array_equal(np.frombuffer(out, np.uint8).reshape(a.shape), reference.run_layer(add, a, b))

    x = _acts(rng, S8, (2, 5, 4, 6))
    pool = MaxPool2d(name="p", kernel=3, stride=2, padding=1, spec=S8)
    desc = Descriptor(op=Op.MAX_POOL, batch=2, in_h=5, in_w=4, in_c=6, kernel=(3, 3), stride=(2, 2),
                      padding=(1, 1, 1, 1), in_type=0x88)
    want = reference.run_layer(pool, x)
    out = rig.run(desc, [x.tobytes()])
    assert np.array_equal(np.frombuffer(out, np.int8).reshape(want.shape), want)

    x = _acts(rng, U5, (3, 5, 4, 6))
    gap = GlobalAvgPool(name="g", multiplier=45000, shift=19, in_spec=U5, out_spec=U8)
    desc = Descriptor(op=Op.GLOBAL_AVG_POOL, batch=3, in_h=5, in_w=4, in_c=6, in_type=0x05, out_type=0x08,
                      mult_a=45000, shift=19)
    out = rig.run(desc, [x.tobytes()])
    assert np.array_equal(np.frombuffer(out, np.uint8).reshape(3, 6), reference.run_layer(gap, x))


def test_cycle_model_of_one_conv_by_hand(rig):
    from msp_pynq.engine.cycles import START_CYCLES, TAIL_CYCLES, WINDOW_SETUP_CYCLES, array_latency, writes
    p = rig.rt.profile                                  # pynq-z2: VW 16, 41 LUT units, 24 DSP slots
    desc = Descriptor(op=Op.CONV2D, batch=2, in_h=8, in_w=8, in_c=4, out_c=10, kernel=(3, 3), stride=(1, 1),
                      padding=(1, 1, 1, 1), in_type=8, out_type=4, rows_sp2=6, rows_fixed4=3, rows_fixed8=1)
    steps = 9                                           # 3x3 taps of one 16-byte word: one pass (10 rows fit)
    load = 80 // 8 + 10 * steps                         # params beats, then one bank word per row and step
    assert writes(4, 64, 16) == 64                      # a piece per 4-byte pixel (beat ends are pixel ends)
    drain = 10 // 2 + 1                                 # channels 0..9, two per cycle, then the pass ends
    position = max(steps, drain)
    assert array_latency(16) == 1 + 7 + 1               # input regs, the DSP pair (the slower unit), accumulate
    image = 64 + WINDOW_SETUP_CYCLES + 64 * position
    want = START_CYCLES + load + 2 * image + 10 // 2 + TAIL_CYCLES + array_latency(16) - 1
    assert modelled_cycles(desc, p) == want == 1682


def _good_gap(rig):
    x = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(1, 2, 2, 3)
    desc = Descriptor(op=Op.GLOBAL_AVG_POOL, in_h=2, in_w=2, in_c=3, in_type=8, out_type=8, mult_a=1, shift=2)
    return rig.run(desc, [x.tobytes()])


BASE = dict(op=Op.CONV2D, in_h=4, in_w=4, in_c=2, out_c=3, kernel=(3, 3), stride=(1, 1), padding=(1, 1, 1, 1),
            in_type=0x08, out_type=0x04, rows_sp2=1, rows_fixed4=1, rows_fixed8=1)


@pytest.mark.parametrize("fields, code, info, text", [
    (dict(op=9), ErrorCode.UNSUPPORTED_OP, 9, "UNSUPPORTED_OP .*OP = 9"),
    (dict(op=0), ErrorCode.UNSUPPORTED_OP, 0, "OP = 0"),
    (dict(batch=0), ErrorCode.BAD_DESCRIPTOR, Reg.BATCH, "register BATCH"),
    (dict(out_c=4), ErrorCode.BAD_DESCRIPTOR, Reg.ROWS_SP2, "register ROWS_SP2"),
    (dict(kernel=(7, 3)), ErrorCode.BAD_DESCRIPTOR, Reg.KERNEL, "register KERNEL"),
    (dict(stride=(1, 0)), ErrorCode.BAD_DESCRIPTOR, Reg.STRIDE, "register STRIDE"),
    (dict(out_type=0x06), ErrorCode.BAD_DESCRIPTOR, Reg.ACT_TYPES, "register ACT_TYPES"),
    (dict(op=Op.ADD, raw_out=True, in_b_type=4), ErrorCode.BAD_DESCRIPTOR, Reg.ACT_TYPES, "ACT_TYPES"),
    (dict(op=Op.MAX_POOL, kernel=(2, 2), padding=(0, 2, 0, 0)), ErrorCode.BAD_DESCRIPTOR, Reg.PADDING, "PADDING"),
    (dict(op=Op.GLOBAL_AVG_POOL, shift=48), ErrorCode.BAD_DESCRIPTOR, Reg.SHIFT, "register SHIFT"),
    (dict(in_c=1500, out_c=5, rows_sp2=0, rows_fixed4=0, rows_fixed8=5), ErrorCode.BUFFER_OVERFLOW,
     (1 << 31) | (9 * 94), "needs 846 words of each weight bank"),       # 3x3 taps of 94 words of 16
    (dict(out_c=1100, rows_sp2=0, rows_fixed4=0, rows_fixed8=1100), ErrorCode.BUFFER_OVERFLOW,
     (3 << 30) | 1100, "needs 1100 rows, more than the 1024"),                    # the row staging
    (dict(op=Op.GLOBAL_AVG_POOL, in_h=200, in_w=200, in_c=4), ErrorCode.BUFFER_OVERFLOW, 640000,
     "needs 640000 bytes of the activation buffer"),     # 40,000 pixels of one 16-byte word > 128 KiB
])
def test_descriptor_errors_are_raised_at_start(rig, fields, code, info, text):
    desc = Descriptor(**{**BASE, **fields})
    packets = [bytes(n) for _, n in desc.packet_sizes() if n]     # (a DMA transfer is never empty)
    with pytest.raises(EngineError, match=text) as err:
        rig.run(desc, packets, out_nbytes=64)
    assert (err.value.code, err.value.info) == (code, info) and err.value.layer == "test"
    assert rig.engine.status() == 0                          # recovered: idle, no error
    assert _good_gap(rig) == bytes([5, 6, 7])


def _small_conv(rng):
    schemes = np.array([2, 0, 1], np.uint8)                     # engine order = channel order
    return Conv2d(name="c", weights=random_weights(rng, schemes, (3, 3, 2)), schemes=schemes,
                  bias=rng.integers(-200, 200, 3), multiplier=rng.integers(1 << 15, 1 << 16, 3),
                  shift=np.full(3, 16), in_spec=U4, out_spec=U4, padding=1)


def test_stream_and_data_errors_name_the_packet(rig):
    rng = np.random.default_rng(6)
    layer = _small_conv(rng)
    _, params, weights = _weight_packets(layer)
    x = _acts(rng, U4, (1, 4, 4, 2))
    desc = Descriptor(**{**BASE, "in_type": 0x04})
    cases = [
        ([params[:-8], weights, x.tobytes()], ErrorCode.STREAM_LENGTH, 0, 24, "packet 0 \\(params\\): the "
                                                                          "descriptor expects 24 bytes"),
        ([params, weights + b"\0", x.tobytes()], ErrorCode.STREAM_LENGTH, 1, len(weights), "packet 1 \\(weights\\)"),
        ([params, weights, x.tobytes()[:-1]], ErrorCode.STREAM_LENGTH, 2, 32, "packet 2 \\(input\\)"),
        ([params[:8] + params[8:15] + b"\x02" + params[16:], weights, x.tobytes()], ErrorCode.BAD_DATA, 0, 1,
         "packet 0 \\(params\\): first offending row 1"),              # row 1 claims SP2
        ([params, weights[:-5] + b"\x80" + weights[-4:], x.tobytes()], ErrorCode.BAD_DATA, 1, 2,
         "first offending row 2"),                                    # fixed-8 code 0x80 is reserved
        ([params, weights, x.tobytes()[:5] + b"\x10" + x.tobytes()[6:]], ErrorCode.BAD_DATA, 2, 5,
         "packet 2 \\(input\\): first offending element 5"),          # 16 is not a u4
    ]
    assert len(weights) == 9 + 9 + 18
    for packets, code, packet, info, text in cases:
        with pytest.raises(EngineError, match=text) as err:
            rig.run(desc, packets)
        assert (err.value.code, err.value.packet, err.value.info) == (code, packet, info)
    out = rig.run(desc, [params, weights, x.tobytes()])
    assert np.array_equal(np.frombuffer(out, np.uint8).reshape(1, 4, 4, 3), reference.run_layer(layer, x))


def test_nonzero_pad_nibble_of_an_odd_row_is_bad_data(rig):
    rng = np.random.default_rng(7)
    schemes = np.array([0], np.uint8)                          # one fixed-4 row, K = 3: 2 bytes
    layer = Linear(name="fc", weights=random_weights(rng, schemes, (3,)), schemes=schemes, in_spec=U8, out_spec=None)
    _, params, weights = _weight_packets(layer)
    desc = Descriptor(op=Op.LINEAR, in_c=3, out_c=1, in_type=8, raw_out=True, rows_fixed4=1)
    with pytest.raises(EngineError, match="BAD_DATA.*packet 1 \\(weights\\): first offending row 0"):
        rig.run(desc, [params, weights[:1] + bytes([weights[1] | 0x10]), b"\1\2\3"])
    out = rig.run(desc, [params, weights, b"\1\2\3"])
    assert np.frombuffer(out, "<i4").tolist() == reference.run_layer(layer, np.array([[1, 2, 3]], np.uint8))[0].tolist()


def test_status_irq_and_soft_reset_registers(rig):
    eng, model = rig.engine, rig.device.engine_model
    assert eng.status() == 0 and eng.read(Reg.IRQ_STATUS) == 0
    _good_gap(rig)                                              # IRQ_STATUS is set whatever IRQ_ENABLE
    assert eng.status() & ST_DONE and eng.read(Reg.IRQ_STATUS) == IRQ_DONE and not model.irq
    eng.write(Reg.CONTROL, CTRL_IRQ_ENABLE)
    assert eng.read(Reg.CONTROL) == CTRL_IRQ_ENABLE and model.irq and eng.status() & ST_DONE
    eng.write(Reg.IRQ_STATUS, IRQ_DONE)                        # write 1 to clear
    assert eng.read(Reg.IRQ_STATUS) == 0 and not model.irq and eng.status() & ST_DONE
    eng.program(Descriptor(op=12))
    eng.write(Reg.CONTROL, CTRL_START | CTRL_IRQ_ENABLE)
    status = eng.status()
    assert status & ST_ERROR and not status & ST_DONE and (status >> 8) & 0xF == ErrorCode.UNSUPPORTED_OP
    assert eng.read(Reg.ERROR_INFO) == 12 and eng.read(Reg.IRQ_STATUS) == IRQ_ERROR
    eng.program(Descriptor(op=Op.GLOBAL_AVG_POOL, in_type=8, out_type=8))
    eng.start()                                                # ignored while ERROR is set
    assert eng.status() == status and not model.irq            # (and IRQ_ENABLE now 0)
    assert eng.read(Reg.OP) == Op.GLOBAL_AVG_POOL and eng.read(Reg.SHIFT) == 0
    eng.write(Reg.SHIFT, 0xFFFFFFFF)
    assert eng.read(Reg.SHIFT) == 0x3F                         # only the field's bits are stored
    eng.write(Reg.ID, 0)
    assert eng.read(Reg.ID) == 0x4D535045 and eng.read(0x0FC) == 0   # RO; reserved reads 0
    eng.soft_reset()
    assert eng.status() == 0 and eng.read(Reg.IRQ_STATUS) == 0 and eng.cycles() == 0
    assert eng.read(Reg.CONTROL) == 0
