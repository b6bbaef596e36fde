"""The one walk over a quantized model's torch.fx graph, shared by ONNX export and integer-exact mode.

:func:`trace_steps` traces the model with :class:`QuantTracer` (quantized modules
stay whole) and sorts each node into a :class:`Step` of a kind both users handle: ``input``
(the placeholder), ``module`` (a submodule call), ``add`` (``operator.add`` / ``torch.add``),
``flatten`` (``torch.flatten``), ``output``, or ``other`` (anything else: each user names it in
its own error). :func:`walk` runs the steps in order, each step's node arguments replaced by
the values the handler returned for them, and returns what the handler returns for ``output``.

>>> from torch import nn
>>> steps = trace_steps(nn.Sequential(nn.Flatten(), nn.Identity()))
>>> [(s.kind, s.target) for s in steps]
[('input', 'input'), ('module', '0'), ('module', '1'), ('output', 'output')]
>>> walk(steps, lambda step, args: "x" if step.kind == "input" else f"{step.target}({args[0]})")
'output(1(0(x)))'
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import fx, nn

from .modules import QAct, QConv2d, QLinear


class QuantTracer(fx.Tracer):
    """torch.fx tracer that keeps the quantized modules whole (export and integer-exact mode)."""

    def is_leaf_module(self, m: nn.Module, name: str) -> bool:
        return isinstance(m, (QConv2d, QLinear, QAct)) or super().is_leaf_module(m, name)


@dataclass(frozen=True)
class Ref:
    """A step's argument that is an earlier step's value (by the node's name)."""
    name: str


@dataclass(frozen=True)
class Step:
    """One node of the traced graph: its ``kind`` (see the module doc), fx ``op``, ``name``,
    ``target`` (a submodule path for ``module``) and ``args`` (:class:`Ref` or constants)."""
    kind: str
    op: str
    name: str
    target: Any
    args: tuple


def _kind(node: fx.Node) -> str:
    if node.op == "placeholder":
        return "input"
    if node.op == "call_module":
        return "module"
    if node.op == "call_function" and node.target in (operator.add, torch.add):
        return "add"
    if node.op == "call_function" and node.target is torch.flatten:
        return "flatten"
    if node.op == "output":
        return "output"
    return "other"


def trace_steps(model: nn.Module) -> "list[Step]":
    """The steps of ``model``'s fx graph (traced with :class:`QuantTracer`), in graph order."""
    graph = QuantTracer().trace(model)
    return [Step(_kind(n), n.op, n.name, n.target,
                 tuple(Ref(a.name) if isinstance(a, fx.Node) else a for a in n.args)) for n in graph.nodes]


def walk(steps: "list[Step]", handle: "Callable[[Step, list], Any]"):
    """Run ``steps`` in order: ``handle(step, args)`` gives each step's value, ``args`` being its
    arguments with every :class:`Ref` replaced by that step's value. Returns the handler's value
    for the ``output`` step (at which the walk stops), or None when there is none."""
    env: dict = {}
    for step in steps:
        args = [env[a.name] if isinstance(a, Ref) else a for a in step.args]
        value = handle(step, args)
        if step.kind == "output":
            return value
        env[step.name] = value
    return None
