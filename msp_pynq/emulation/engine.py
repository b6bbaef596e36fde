"""Register model of the msp_engine for the emulated device (docs/registers.md, exactly).

The model validates the descriptor at START, consumes the MM2S packets in the documented
order (checking each packet's length and contents), runs the layer with the bit-exact fast
emulator (:func:`msp_pynq.emulator.fast.run_layer`) on the decoded data, pushes the output
packet to S2MM and sets DONE (once S2MM has taken the packet) or ERROR. Everything it knows
about the layer comes from the registers and the stream, never from the bundle.

CYCLES_LO/HI report :func:`msp_pynq.engine.cycles.modelled_cycles`, the RTL's schedule checked against
its simulated counts. A layer that ends in an error reports the stream cycles of the packets
consumed until then.

Emulation only (not hardware behaviour): decoded conv2d/linear layers are cached by their
parameter and weight bytes, so repeated runs skip the decoding.
"""
from __future__ import annotations

import collections
import hashlib
import time

import numpy as np

from ..boards.profiles import BoardProfile, get_profile
from ..emulator import fast
from ..emulator.layers import Add, Conv2d, GlobalAvgPool, Linear, MaxPool2d
from ..errors import MSPError
from ..numerics.bounds import BIAS_MAX, ceil_div
from ..numerics.packing import row_nbytes, unpack_rows
from ..numerics.requant import SHIFT_MAX
from ..numerics.schemes import Scheme
from ..engine.checks import check_descriptor
from ..engine.cycles import modelled_cycles
from ..engine.rows import engine_schemes
from ..engine.geometry import identity_registers
from ..engine.registers import (CTRL_IRQ_ENABLE, CTRL_SOFT_RESET, CTRL_START, DESCRIPTOR_MASKS, ENGINE_ID,
                        ENGINE_VERSION, IRQ_DONE, IRQ_ERROR, STREAM_BYTES,
                        ST_BUSY, ST_DONE, ST_ERR_CODE_SHIFT, ST_ERR_PACKET_SHIFT, ST_ERROR,
                        ST_PACKETS_SHIFT, WINDOW_BYTES, Descriptor, ErrorCode, Op, Reg, decode_act,
                        unpack_row_params)
from .bus import AxisFifo, RegisterModel
from .faults import OutputFault

CACHE_LAYERS = 128


class EngineModel(RegisterModel):
    """The engine's registers and behaviour (docs/registers.md).

    ``device`` supplies the board ``profile`` (for the geometry registers and the cycle
    model) unless ``profile`` is given. ``ident``, ``version`` and ``fingerprint`` override
    what the ID, VERSION and FINGERPRINT registers report (to test the runtime's refusals).
    Set ``hang = True`` to make the engine stop consuming packets (a hung engine).
    The input stream is a FIFO of one packet (``inp``), the output one of any (``out``).
    """

    def __init__(self, device=None, description: "dict | None" = None, *,
                 profile: "BoardProfile | str | None" = None, ident: int = ENGINE_ID,
                 version: int = ENGINE_VERSION, fingerprint: "int | None" = None) -> None:
        super().__init__(WINDOW_BYTES)
        self.profile = get_profile(profile if profile is not None else device.profile)
        p = self.profile
        self.readonly = {Reg.ID: ident, Reg.VERSION: version, **identity_registers(p)}
        if fingerprint is not None:
            self.readonly[Reg.FINGERPRINT] = fingerprint
        self.descriptor_regs = {int(r): 0 for r in DESCRIPTOR_MASKS}
        self.inp = AxisFifo(maxlen=1)
        self.out = AxisFifo()
        self.irq_enable = False
        self.hang = False
        self.output_fault: "OutputFault | None" = None   # see inject_output_fault
        self.stats: "collections.Counter[str]" = collections.Counter()
        self.compute_s = 0.0          # host seconds in the emulator (benchmarks take it out)
        self._layers: "collections.OrderedDict[tuple, object]" = collections.OrderedDict()
        self._clear()

    # ---- state ------------------------------------------------------------------------
    def _clear(self) -> None:
        """Soft-reset state: idle, no error, counters 0, stream FIFOs empty."""
        self.busy = self.done = self.error = False
        self.code, self.err_packet, self.info = ErrorCode.NONE, 0, 0
        self.irq_status = 0
        self.cycles = 0
        self.draining = False
        self.output_pending = False
        self.desc: "Descriptor | None" = None
        self.expected: "list[tuple[str, int]]" = []
        self.received: "list[bytes]" = []
        self._decoded: dict = {}
        self.inp.clear()
        self.out.clear()

    @property
    def status(self) -> int:
        return (int(self.busy) * ST_BUSY | int(self.done) * ST_DONE | int(self.error) * ST_ERROR
                | int(self.code) << ST_ERR_CODE_SHIFT | self.err_packet << ST_ERR_PACKET_SHIFT
                | min(len(self.received), 15) << ST_PACKETS_SHIFT)

    @property
    def irq(self) -> bool:
        """The interrupt output: IRQ_ENABLE and any IRQ_STATUS bit."""
        return self.irq_enable and self.irq_status != 0

    # ---- bus --------------------------------------------------------------------------
    def read(self, offset: int) -> int:
        if offset in self.readonly:
            return self.readonly[offset] & 0xFFFFFFFF
        if offset in self.descriptor_regs:
            return self.descriptor_regs[offset]
        return {Reg.CONTROL: CTRL_IRQ_ENABLE if self.irq_enable else 0, Reg.STATUS: self.status,
                Reg.IRQ_STATUS: self.irq_status, Reg.CYCLES_LO: self.cycles & 0xFFFFFFFF,
                Reg.CYCLES_HI: self.cycles >> 32 & 0xFFFFFFFF, Reg.ERROR_INFO: self.info,
                }.get(offset, 0)                      # reserved addresses read as 0

    def write(self, offset: int, value: int) -> None:
        if offset in self.descriptor_regs:
            self.descriptor_regs[offset] = value & DESCRIPTOR_MASKS[Reg(offset)]
        elif offset == Reg.CONTROL:
            self.irq_enable = bool(value & CTRL_IRQ_ENABLE)
            if value & CTRL_SOFT_RESET:
                self._clear()
                self.stats["soft_resets"] += 1
            elif value & CTRL_START:
                self._start()
        elif offset == Reg.IRQ_STATUS:
            self.irq_status &= ~value & (IRQ_DONE | IRQ_ERROR)
        # read-only and reserved addresses ignore writes

    # ---- behaviour --------------------------------------------------------------------
    def _start(self) -> None:
        if self.busy or self.error:
            return                                    # ignored while busy or after an error
        self.done, self.cycles, self.received, self._decoded = False, 0, [], {}
        desc = Descriptor.from_registers(self.descriptor_regs)
        self.stats["starts"] += 1
        failed = check_descriptor(desc, self.profile.geometry)
        if failed:
            self._fail(failed[0], failed[1], 0)
            return
        self.desc, self.expected, self.busy = desc, desc.packet_sizes(), True

    def _fail(self, code: ErrorCode, info: int, packet: int) -> None:
        self.busy, self.done, self.error, self.output_pending = False, False, True, False
        self.code, self.info, self.err_packet = code, info & 0xFFFFFFFF, packet
        self.irq_status |= IRQ_ERROR
        self.draining = True                          # discard the rest of the layer's stream
        self.cycles = sum(ceil_div(len(p), STREAM_BYTES) for p in self.received)
        self.stats["errors"] += 1

    def tick(self, new_cycle: bool) -> bool:
        if self.hang:
            return False
        progress = False
        if len(self.inp) and (self.draining or (self.busy and not self.output_pending)):
            packet = self.inp.pop()
            if not self.draining:
                self._accept(packet)
            progress = True
        if self.output_pending and not len(self.out):  # S2MM took the last beat
            self.output_pending, self.busy, self.done = False, False, True
            self.irq_status |= IRQ_DONE
            progress = True
        return progress

    def _accept(self, packet: bytes) -> None:
        index = len(self.received)
        name, nbytes = self.expected[index]
        if len(packet) != nbytes:
            self._fail(ErrorCode.STREAM_LENGTH, nbytes, index)
            return
        bad = self._check_packet(index, packet)
        if bad is not None:
            self._fail(ErrorCode.BAD_DATA, bad, index)
            return
        self.received.append(packet)
        if len(self.received) == len(self.expected):
            t0 = time.perf_counter()
            try:
                out = self._compute()
            except MSPError:                          # contract violation the checks missed
                self._fail(ErrorCode.BAD_DATA, 0xFFFFFFFF, index)
                return
            finally:                                  # host time spent emulating the engine
                self.compute_s += time.perf_counter() - t0
            self.cycles = modelled_cycles(self.desc, self.profile)
            self.out.push(self._apply_output_fault(out))
            self.output_pending = True
            self.stats["layers"] += 1

    def inject_output_fault(self, layer: int = 0, byte: "int | None" = None, mask: int = 0x01) -> None:
        """XOR ``mask`` into byte ``byte`` (default: the middle one) of the output packet of the
        ``layer``-th layer computed from now on (0: the next): a bit flipped in the fabric, for
        the self-check. One fault at a time; it fires once (:class:`.faults.OutputFault`)."""
        self.output_fault = OutputFault(layer, byte, mask)

    def _apply_output_fault(self, out: bytes) -> bytes:
        if self.output_fault is None:
            return out
        out, fired = self.output_fault.apply(out)
        if fired:
            self.output_fault = None
        return out

    def _check_packet(self, index: int, packet: bytes) -> "int | None":
        desc = self.desc
        weighted = desc.op in (Op.CONV2D, Op.LINEAR)
        if weighted and index == 0:
            return self._check_params(packet)
        if weighted and index == 1:
            return self._check_weights(packet)
        if desc.op == Op.ADD and index == 1:
            return _first_out_of_range(packet, desc.in_b_type)
        return _first_out_of_range(packet, desc.in_type)

    def _check_params(self, packet: bytes) -> "int | None":
        rec = unpack_row_params(packet)
        bad = rec["scheme"] != engine_schemes(self.desc)
        bad |= np.abs(rec["bias"].astype(np.int64)) > BIAS_MAX
        if not self.desc.raw_out:
            bad |= rec["shift"] > SHIFT_MAX
        return int(np.flatnonzero(bad)[0]) if bad.any() else None

    def _check_weights(self, packet: bytes) -> "int | None":
        key = (self.desc.with_batch(0), hashlib.blake2b(self.received[0] + packet, digest_size=16).digest())
        self._decoded["key"] = key
        if key in self._layers:
            self._layers.move_to_end(key)
            return None
        schemes, k = engine_schemes(self.desc), self.desc.k
        buf = np.frombuffer(packet, np.uint8)
        try:
            self._decoded["weights"] = unpack_rows(buf, schemes, k)
            return None
        except MSPError:
            pass
        pos = 0                                       # find the offending row
        for row, s in enumerate(schemes):
            n = row_nbytes(Scheme(int(s)), k)
            try:
                unpack_rows(buf[pos:pos + n], schemes[row:row + 1], k)
            except MSPError:
                return row
            pos += n
        return 0

    # ---- compute ----------------------------------------------------------------------
    def _weight_layer(self):
        key = self._decoded["key"]
        layer = self._layers.get(key)
        if layer is not None:
            return layer
        d = self.desc
        rec = unpack_row_params(self.received[0])
        weights = self._decoded["weights"]
        raw = d.raw_out
        kw = dict(name=f"msp_engine:{d.op_name}", schemes=rec["scheme"], bias=rec["bias"].astype(np.int64),
                  multiplier=np.zeros(d.rows, np.int64) if raw else rec["multiplier"].astype(np.int64),
                  shift=np.zeros(d.rows, np.int64) if raw else rec["shift"].astype(np.int64),
                  in_spec=decode_act(d.in_type), out_spec=None if raw else decode_act(d.out_type))
        if d.op == Op.CONV2D:
            layer = Conv2d(weights=weights.reshape(d.rows, d.kernel[0], d.kernel[1], d.in_c),
                           stride=d.stride, padding=d.padding, **kw)
        else:
            layer = Linear(weights=weights, **kw)
        self._layers[key] = layer
        if len(self._layers) > CACHE_LAYERS:
            self._layers.popitem(last=False)
        return layer

    def _compute(self) -> bytes:
        d = self.desc
        shape = (d.batch, d.in_h, d.in_w, d.in_c)

        def tensor(packet: bytes, type_byte: int) -> np.ndarray:
            return np.frombuffer(packet, decode_act(type_byte).dtype).reshape(shape)

        name = f"msp_engine:{d.op_name}"
        if d.op == Op.CONV2D:
            out = fast.run_layer(self._weight_layer(), tensor(self.received[2], d.in_type))
        elif d.op == Op.LINEAR:
            x = tensor(self.received[2], d.in_type).reshape(d.batch, d.k)
            out = fast.run_layer(self._weight_layer(), x)
        elif d.op == Op.ADD:
            layer = Add(name=name, inputs=("a", "b"),
                        in_specs=(decode_act(d.in_type), decode_act(d.in_b_type)),
                        multipliers=(d.mult_a, d.mult_b), shift=d.shift, out_spec=decode_act(d.out_type))
            out = fast.run_layer(layer, tensor(self.received[0], d.in_type),
                                 tensor(self.received[1], d.in_b_type))
        elif d.op == Op.MAX_POOL:
            layer = MaxPool2d(name=name, kernel=d.kernel, stride=d.stride, padding=d.padding,
                              spec=decode_act(d.in_type))
            out = fast.run_layer(layer, tensor(self.received[0], d.in_type))
        else:
            layer = GlobalAvgPool(name=name, multiplier=d.mult_a, shift=d.shift,
                                  in_spec=decode_act(d.in_type), out_spec=decode_act(d.out_type))
            out = fast.run_layer(layer, tensor(self.received[0], d.in_type))
        data = np.ascontiguousarray(out, dtype=d.output_dtype).tobytes()
        assert len(data) == d.output_nbytes, (len(data), d.output_nbytes)
        return data


def _first_out_of_range(packet: bytes, type_byte: int) -> "int | None":
    """Index of the first byte above an unsigned type's maximum (u4: 15, u5: 31), or None."""
    spec = decode_act(type_byte)
    if spec.signed or spec.bits == 8:
        return None
    over = np.frombuffer(packet, np.uint8) > spec.hi
    return int(np.argmax(over)) if over.any() else None
