"""Planning: a bundle's layers as engine jobs (descriptors, parameter packets, weight packets).

Built once per bundle from its manifest and arrays (the bytes exactly as stored): shapes are
inferred through the program, every conv2d/linear gets its parameter packet (8 bytes per row,
engine order) and its packed weights, and all packets are laid out in one parameter buffer at
64-byte offsets. A conv2d/linear layer that needs more of the engine's weight banks or row
staging than they hold (:mod:`.geometry`) is split into row tiles: jobs over consecutive engine-order rows that each fit, all
reading the same input, whose outputs the runtime interleaves back into the layer's channels. A
conv2d, max_pool or add whose input image exceeds the activation buffer is split into band tiles:
jobs over consecutive output rows, each reading the input rows it needs (halo included) with the
padding of the band's edges.
:meth:`JobPlan.batch_limit` checks that every job fits the engine's buffers and gives the largest
batch that does. Numpy only.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import BundleError
from ..numerics.packing import row_nbytes
from ..numerics.schemes import Scheme
from ..numerics.windows import window_out_len
from .geometry import EngineGeometry
from .rows import engine_row_order
from .registers import (OP_BY_NAME, ROW_PARAM_BYTES, Descriptor, Op, align, encode_act, pack_row_params,
                        weight_nbytes)

DMA_MAX_BYTES = (1 << 26) - 1      # c_sg_length_width = 26


@dataclass
class LayerJob:
    """One layer as the engine runs it (``descriptor`` for a batch of 1)."""

    name: str
    op: Op
    inputs: "tuple[str, ...]"
    output: str
    descriptor: Descriptor
    in_shapes: "list[tuple[int, ...]]"     # per image: (H, W, C) or (K,)
    out_shape: "tuple[int, ...]"           # per image
    row_order: "np.ndarray | None" = None  # engine position -> output channel
    params: "np.ndarray | None" = None     # parameter packet (uint8)
    weights: "np.ndarray | None" = None    # weight packet (uint8), as stored in the bundle
    param_offset: int = 0                  # offsets in the parameter buffer
    weight_offset: int = 0
    full_out_shape: "tuple[int, ...] | None" = None   # a tile's whole layer output
    tile: "tuple[int, int]" = (0, 1)       # (index, count) of a layer split into tiles
    in_rows: "tuple[int, int] | None" = None    # a band tile: the input rows it reads
    out_rows: "tuple[int, int] | None" = None   # ... and the output rows it writes

    def descriptor_for(self, batch: int) -> Descriptor:
        return replace(self.descriptor, batch=batch)

    @property
    def activation_packets(self) -> "list[int]":
        """Bytes per image of each activation packet (the inputs, in stream order)."""
        return [self.descriptor.image_nbytes for _ in self.inputs]

    @property
    def out_image_nbytes(self) -> int:
        return self.descriptor.output_nbytes      # batch 1


@dataclass
class JobPlan:
    """The engine jobs of a bundle and the size of their parameter buffer."""

    jobs: "list[LayerJob]"
    input_name: str
    output_name: str
    param_nbytes: int

    def batch_limit(self, buffers: EngineGeometry, max_batch: int, where: str = "") -> int:
        """Largest batch (<= ``max_batch``) every layer runs with; BundleError if a layer never fits."""
        limit = max_batch
        for job in self.jobs:
            info = buffers.overflow(job.descriptor.with_batch(1))
            if info is not None:
                raise BundleError(f"{where}: layer {job.name!r} does not fit the engine: it needs "
                                  f"{buffers.describe_overflow(info)}")
            if job.op == Op.ADD:                      # input a of every image stays in the buffer
                limit = min(limit, buffers.act_words * buffers.vector_width // job.descriptor.image_nbytes)
            per_image = max(job.descriptor.image_nbytes, job.out_image_nbytes)
            limit = min(limit, DMA_MAX_BYTES // per_image)
        return max(1, limit)

    def buffer_nbytes(self, batch: int) -> "tuple[int, int]":
        """``(input buffer, output buffer)`` bytes for ``batch`` images (packets 64-byte aligned)."""
        inp = max(sum(align(n * batch) for n in job.activation_packets) for job in self.jobs)
        out = max(align(job.out_image_nbytes * batch) for job in self.jobs)
        return inp, out


def _shape3(shape: "tuple[int, ...]") -> "tuple[int, int, int]":
    return shape if len(shape) == 3 else (1, 1, shape[0])


def _out_len(size: int, kernel: int, stride: int, pad_a: int, pad_b: int, layer: str, where: str) -> int:
    n = window_out_len(size, kernel, stride, pad_a, pad_b)
    if n == 0:
        raise BundleError(f"{where}: layer {layer!r}: kernel {kernel} exceeds the padded input {size}")
    return n


def _weight_job(entry: dict, arrays: dict, shape: tuple, where: str) -> "tuple[Descriptor, tuple, dict]":
    name, op = entry["name"], OP_BY_NAME[entry["op"]]
    schemes = np.asarray(arrays[f"{name}/schemes"], np.uint8)
    order = np.asarray(arrays[f"{name}/row_order"], np.int64)
    if not np.array_equal(order, engine_row_order(schemes)):
        raise BundleError(f"{where}: layer {name!r}: row_order is not the engine's order "
                          f"(SP2 rows, then fixed-4, then fixed-8, each by channel)")
    rows, k = len(schemes), int(entry["k"])
    counts = [int((schemes == s).sum()) for s in (Scheme.SP2_4, Scheme.FIXED4, Scheme.FIXED8)]
    weights = np.asarray(arrays[f"{name}/weights"], np.uint8)
    if weights.size != weight_nbytes(k, *counts):
        raise BundleError(f"{where}: layer {name!r}: {weights.size} weight bytes, the schemes need "
                          f"{weight_nbytes(k, *counts)}")
    raw = entry.get("out_spec") is None
    if op == Op.CONV2D:
        h, w, c = shape if len(shape) == 3 else (0, 0, 0)
        if len(shape) != 3 or c != entry["in_channels"]:
            raise BundleError(f"{where}: layer {name!r}: input of shape {shape}, expected (H, W, "
                              f"{entry['in_channels']})")
        (kh, kw), (sh, sw), pad = entry["kernel"], entry["stride"], entry["padding"]
        out_shape = (_out_len(h, kh, sh, pad[0], pad[2], name, where),
                     _out_len(w, kw, sw, pad[1], pad[3], name, where), rows)
        geometry = dict(kernel=(kh, kw), stride=(sh, sw), padding=tuple(pad))
    else:
        if int(np.prod(shape)) != k:
            raise BundleError(f"{where}: layer {name!r}: input of shape {shape}, expected {k} values")
        h, w, c = _shape3(shape)
        out_shape, geometry = (rows,), {}
    bias = np.asarray(arrays[f"{name}/bias"], np.int64)[order]
    mult = np.asarray(arrays[f"{name}/multiplier"], np.int64)[order]
    shift = np.asarray(arrays[f"{name}/shift"], np.int64)[order]
    if raw:                                   # ignored by the engine; sent as 0
        mult, shift = np.zeros_like(mult), np.zeros_like(shift)
    elif mult.min() < 0 or mult.max() > 0xFFFF or shift.min() < 0 or shift.max() > 0xFF:
        raise BundleError(f"{where}: layer {name!r}: multiplier/shift outside 16/8 bits")
    desc = Descriptor(op=op, in_h=h, in_w=w, in_c=c, out_c=rows, in_type=encode_act(entry["in_spec"]),
                      out_type=encode_act(entry.get("out_spec")), raw_out=raw, rows_sp2=counts[0],
                      rows_fixed4=counts[1], rows_fixed8=counts[2], **geometry)
    extra = dict(row_order=order.astype(np.int64), weights=weights,
                 params=pack_row_params(bias, mult, shift, schemes[order]))
    return desc, out_shape, extra


def split_rows(job: LayerJob, buffers: EngineGeometry, where: str = "") -> "list[LayerJob]":
    """``job`` as row tiles of consecutive engine-order rows that each fit the weight banks and the
    row staging (``[job]`` when it fits already). Greedy, so tiles are as few as the banks allow;
    BundleError when a single row does not fit."""
    d = job.descriptor
    if buffers.weight_overflow(d) is None:
        return [job]
    n4, n8 = d.rows_sp2 + d.rows_fixed4, d.rows_fixed8
    row_bytes = np.array([row_nbytes(Scheme.FIXED4, d.k)] * n4 + [row_nbytes(Scheme.FIXED8, d.k)] * n8, np.int64)

    def tile(r0: int, r1: int) -> Descriptor:
        def count(lo: int, hi: int) -> int:           # rows of [lo, hi) inside [r0, r1)
            return max(0, min(hi, r1) - max(lo, r0))
        return replace(d, batch=1, out_c=r1 - r0, rows_sp2=count(0, d.rows_sp2),
                       rows_fixed4=count(d.rows_sp2, n4), rows_fixed8=count(n4, n4 + n8))

    bounds = [0]
    while bounds[-1] < len(row_bytes):
        r0, r1 = bounds[-1], bounds[-1] + 1
        info = buffers.weight_overflow(tile(r0, r1))
        if info is not None:
            raise BundleError(f"{where}: layer {job.name!r}: one row needs {buffers.describe_overflow(info)}")
        while r1 < len(row_bytes) and buffers.weight_overflow(tile(r0, r1 + 1)) is None:
            r1 += 1
        bounds.append(r1)
    start = np.concatenate([[0], np.cumsum(row_bytes)])
    tiles = []
    for r0, r1 in zip(bounds[:-1], bounds[1:]):
        desc = replace(tile(r0, r1), batch=d.batch)
        tiles.append(replace(job, name=f"{job.name}[rows {r0}:{r1}]", descriptor=desc,
                             out_shape=job.out_shape[:-1] + (r1 - r0,), row_order=job.row_order[r0:r1],
                             params=job.params[ROW_PARAM_BYTES * r0:ROW_PARAM_BYTES * r1],
                             weights=job.weights[start[r0]:start[r1]]))
    return tiles


def split_bands(job: LayerJob, buffers: EngineGeometry, where: str = "") -> "list[LayerJob]":
    """``job`` as band tiles of consecutive output rows whose input rows fit the activation buffer
    (``[job]`` when the image fits). conv2d and max_pool bands read their halo rows and keep the
    layer's padding only at the image's top and bottom edges; add bands are plain row ranges."""
    d = job.descriptor.with_batch(1)
    if buffers.image_words(d) <= buffers.act_words:
        return [job]
    if d.op not in (Op.CONV2D, Op.MAX_POOL, Op.ADD):
        raise BundleError(f"{where}: layer {job.name!r} needs {buffers.image_words(d) * buffers.vector_width} "
                          f"bytes of activations per image (pixels padded to {buffers.vector_width}-byte words); "
                          f"the engine's activation buffer holds {buffers.act_words * buffers.vector_width}, "
                          f"and a {d.op_name} layer cannot be split into bands")
    (kh, _), (sh, _), (pt, pl, pb, pr) = ((1, 1), (1, 1), (0, 0, 0, 0)) if d.op == Op.ADD else \
        (d.kernel, d.stride, d.padding)
    row_words = buffers.image_words(replace(d, in_h=1))
    fit_rows = buffers.act_words // row_words if d.op != Op.ADD else \
        buffers.act_words * buffers.vector_width // (d.in_w * d.in_c)
    per_band = (fit_rows - kh) // sh + 1 if fit_rows >= kh else 0
    if per_band < 1:
        raise BundleError(f"{where}: layer {job.name!r}: one output row needs {kh} input rows of "
                          f"{row_words * buffers.vector_width} bytes; the engine's activation buffer holds "
                          f"{buffers.act_words * buffers.vector_width}")
    out_h = job.out_shape[0]
    bands = []
    for o0 in range(0, out_h, per_band):
        o1 = min(o0 + per_band, out_h)
        a, b = o0 * sh - pt, (o1 - 1) * sh + kh - pt          # input rows [a, b), padded coordinates
        r0, r1 = max(a, 0), min(b, d.in_h)
        desc = replace(d, in_h=r1 - r0)
        if d.op != Op.ADD:
            desc = replace(desc, padding=(r0 - a, pl, b - r1, pr))
        bands.append(replace(job, name=f"{job.name}[out rows {o0}:{o1}]", descriptor=desc,
                             in_shapes=[(r1 - r0,) + s[1:] for s in job.in_shapes],
                             out_shape=(o1 - o0,) + job.out_shape[1:], in_rows=(r0, r1), out_rows=(o0, o1)))
    return bands


def plan_jobs(manifest: dict, arrays: dict, where: str = "",
              buffers: "EngineGeometry | None" = None) -> JobPlan:
    """The engine jobs of a bundle (its manifest and arrays, as :func:`read_container` gives them);
    with the engine's ``buffers``, layers too large for them are split into row and band tiles."""
    inp = manifest["input"]
    shapes: "dict[str, tuple]" = {inp["name"]: (inp["height"], inp["width"], inp["channels"])}
    jobs, offset = [], 0
    for entry in manifest["layers"]:
        name, opname = entry["name"], entry["op"]
        if opname not in OP_BY_NAME:
            raise BundleError(f"{where}: layer {name!r}: operation {opname!r} has no engine op")
        op = OP_BY_NAME[opname]
        in_shapes = [shapes[n] for n in entry["inputs"]]
        shape = in_shapes[0]
        extra: dict = {}
        if op in (Op.CONV2D, Op.LINEAR):
            desc, out_shape, extra = _weight_job(entry, arrays, shape, where)
        elif op == Op.ADD:
            if in_shapes[0] != in_shapes[1]:
                raise BundleError(f"{where}: layer {name!r}: inputs of shapes {in_shapes}")
            h, w, c = _shape3(shape)
            a, b = entry["in_specs"]
            desc = Descriptor(op=op, in_h=h, in_w=w, in_c=c, in_type=encode_act(a), in_b_type=encode_act(b),
                              out_type=encode_act(entry["out_spec"]), mult_a=int(entry["multipliers"][0]),
                              mult_b=int(entry["multipliers"][1]), shift=int(entry["shift"]))
            out_shape = shape
        elif op == Op.MAX_POOL:
            if len(shape) != 3:
                raise BundleError(f"{where}: layer {name!r}: input of shape {shape}, expected (H, W, C)")
            (kh, kw), (sh, sw), pad = entry["kernel"], entry["stride"], entry["padding"]
            desc = Descriptor(op=op, in_h=shape[0], in_w=shape[1], in_c=shape[2], kernel=(kh, kw),
                              stride=(sh, sw), padding=tuple(pad), in_type=encode_act(entry["spec"]))
            out_shape = (_out_len(shape[0], kh, sh, pad[0], pad[2], name, where),
                         _out_len(shape[1], kw, sw, pad[1], pad[3], name, where), shape[2])
        else:                                               # global_avg_pool
            if len(shape) != 3:
                raise BundleError(f"{where}: layer {name!r}: input of shape {shape}, expected (H, W, C)")
            desc = Descriptor(op=op, in_h=shape[0], in_w=shape[1], in_c=shape[2],
                              in_type=encode_act(entry["in_spec"]), out_type=encode_act(entry["out_spec"]),
                              mult_a=int(entry["multiplier"]), shift=int(entry["shift"]))
            out_shape = (shape[2],)
        try:
            desc.registers()                                # every field fits its register
        except ValueError as exc:
            raise BundleError(f"{where}: layer {name!r}: {exc}") from None
        job = LayerJob(name=name, op=op, inputs=tuple(entry["inputs"]), output=entry["output"],
                       descriptor=desc, in_shapes=in_shapes, out_shape=tuple(out_shape), **extra)
        shapes[job.output] = job.out_shape
        tiles = [job]
        if buffers is not None:
            tiles = split_rows(job, buffers, where) if job.params is not None else tiles
            tiles = [band for tile in tiles for band in split_bands(tile, buffers, where)]
        if len(tiles) > 1:
            tiles = [replace(tile, tile=(i, len(tiles)), full_out_shape=job.out_shape) for i, tile in enumerate(tiles)]
        for tile in tiles:
            if tile.params is not None:
                tile.param_offset = offset
                tile.weight_offset = align(offset + tile.params.size)
                offset = align(tile.weight_offset + tile.weights.size)
            jobs.append(tile)
    return JobPlan(jobs=jobs, input_name=inp["name"], output_name=manifest["output"]["name"],
                   param_nbytes=max(offset, 64))
