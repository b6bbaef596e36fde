"""ONNX files a user hands to ``compile`` and ``quantize``, read safely.

:func:`load_onnx` reads a regular file of at most :data:`MAX_ONNX_BYTES` bytes, parses it
without following external data (a tensor stored outside the file could name ``/dev/zero`` or
any file on the machine; such a model is refused), and checks what both importers rely on: an
ONNX opset they read, nodes of the default domain only, and a graph whose nodes are in
topological order (no cycle, no input that nothing provides, no tensor produced twice), so that
no importer can loop or read a tensor before it exists. Every refusal is an :class:`MSPError`
(:class:`~.onnx_reader.CompileError`) naming the file.

>>> load_onnx("/dev/zero")
Traceback (most recent call last):
...
msp_pynq.compiler.onnx_reader.CompileError: /dev/zero: ONNX model is a character device, not a regular file
"""
from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

from ..errors import MSPError
from ..fileio import read_bounded, show
from .onnx_reader import OPSET_MAX, OPSET_MIN, CompileError

if TYPE_CHECKING:                      # onnx is imported when a model is read, not before
    import onnx

#: Largest ONNX file read (1 GiB): protobuf itself stops at 2 GiB, and a model this size is
#: far past what the engines hold; larger models store their weights as external data, which
#: msp-pynq refuses anyway.
MAX_ONNX_BYTES = 1 << 30
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "DynamicQuantizeLinear")


def load_onnx(path: "str | os.PathLike") -> "onnx.ModelProto":
    """The checked ``ModelProto`` of the ONNX file ``path``; :class:`CompileError` otherwise."""
    return read_onnx(path)[0]


def read_onnx(path: "str | os.PathLike") -> "tuple[onnx.ModelProto, str]":
    """``(model, sha256 of the file's bytes)``: the digest of exactly the bytes parsed."""
    try:
        data = read_bounded(path, MAX_ONNX_BYTES, "ONNX model")
    except MSPError as exc:
        raise CompileError(str(exc)) from None
    model = _parse(data, show(path))
    check_model(model, show(path))
    return model, hashlib.sha256(data).hexdigest()


def _parse(data: bytes, where: str):
    import onnx
    try:
        # from bytes: onnx.load(path) would also load external data files the model names
        model = onnx.load_model_from_string(data)
    except Exception as exc:       # google.protobuf DecodeError, RuntimeError of the C++ parser
        raise CompileError(f"{where}: cannot read ONNX: truncated, or not an ONNX model "
                           f"({type(exc).__name__})") from None
    if model.ir_version < 1 or not model.HasField("graph"):
        raise CompileError(f"{where}: cannot read ONNX: not an ONNX model (no IR version or no graph)")
    return model


def check_model(model, where: str = "ONNX model") -> None:
    """Refuse external data, opsets and domains the importers do not read, and a graph that is
    not a DAG in topological order."""
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    version = opsets.get("ai.onnx")
    # opsets define operators: a graph without nodes uses none (the importers then say what it lacks)
    if model.graph.node and (version is None or not OPSET_MIN <= version <= OPSET_MAX):
        raise CompileError(f"{where}: ONNX opset {version}, msp-pynq reads opsets {OPSET_MIN} to "
                           f"{OPSET_MAX}; re-export the model with one of them")
    for tensor, owner in _tensors(model.graph):
        if tensor.data_location == 1 or len(tensor.external_data):       # TensorProto.EXTERNAL
            raise CompileError(f"{where}: tensor {show(repr(tensor.name))} of {owner} is stored as "
                               f"external data; msp-pynq reads only self-contained ONNX files "
                               f"(save the model with its weights inside)")
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx"):
            raise CompileError(f"{where}: node {show(repr(node.name))} is {show(node.domain)}."
                               f"{show(node.op_type)}, outside the standard ONNX domain")
    check_graph(model.graph, where)


def _tensors(graph, owner: str = "the graph"):
    """Every TensorProto of ``graph``: initializers and node attributes, subgraphs included."""
    for t in graph.initializer:
        yield t, owner
    for sparse in graph.sparse_initializer:
        yield sparse.values, owner
        yield sparse.indices, owner
    for node in graph.node:
        for attr in node.attribute:
            where = f"node {show(repr(node.name))}"
            if attr.HasField("t"):
                yield attr.t, where
            yield from ((t, where) for t in attr.tensors)
            if attr.HasField("g"):
                yield from _tensors(attr.g, where)
            for g in attr.graphs:
                yield from _tensors(g, where)


def check_graph(graph, where: str = "ONNX model") -> None:
    """Nodes in topological order: each input provided before the node reads it, each tensor
    produced once, each graph output produced. A cycle (an Identity reading its own output, two
    nodes reading each other's) cannot be put in that order and is refused naming its node."""
    known = {t.name for t in graph.initializer} | {t.name for t in graph.input} | {""}
    producer = {}
    for node in graph.node:
        for out in node.output:
            if out in producer or (out and out in known):
                first = producer.get(out)
                raise CompileError(f"{where}: node {show(repr(node.name))} writes tensor "
                                   f"{show(repr(out))}, already produced by "
                                   f"{'node ' + show(repr(first.name)) if first else 'an initializer or graph input'}")
            if out:
                producer[out] = node
    done = set(known)
    for node in graph.node:
        for name in node.input:
            if name in done:
                continue
            src = producer.get(name)
            if src is None:
                raise CompileError(f"{where}: node {show(repr(node.name))} reads tensor {show(repr(name))}, "
                                   f"which no node, initializer or graph input provides")
            if src is node:
                raise CompileError(f"{where}: node {show(repr(node.name))} reads its own output "
                                   f"{show(repr(name))} (a cycle)")
            raise CompileError(f"{where}: node {show(repr(node.name))} reads tensor {show(repr(name))} "
                               f"before node {show(repr(src.name))} produces it (a cycle, or nodes "
                               f"out of topological order)")
        done.update(node.output)
    for out in graph.output:
        if out.name not in done:
            raise CompileError(f"{where}: graph output {show(repr(out.name))} is produced by no node")


def is_quantized(model) -> bool:
    """Whether ``model`` is already quantized: it holds QuantizeLinear/DequantizeLinear (or
    other quantized) nodes, or msp-pynq's metadata. Such a model goes to ``msp-pynq compile``."""
    if any(p.key.startswith("msp_pynq.") for p in model.metadata_props):
        return True
    return any(node.op_type in QDQ_OPS for node in model.graph.node)


__all__ = ["MAX_ONNX_BYTES", "load_onnx", "read_onnx", "check_model", "check_graph", "is_quantized"]
