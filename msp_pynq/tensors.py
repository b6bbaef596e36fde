"""Programs over named tensors: each step reads tensors written before it, and a tensor is
dropped once its last reader has run (what keeps a ResNet's activations at a few tensors).

The emulator's :class:`~msp_pynq.emulator.network.Network` and the board runtime both run their
programs this way.

>>> last = last_uses([("x",), ("a",), ("a", "x")])
>>> last
{'x': 2, 'a': 2}
>>> tensors = {"x": 1, "a": 2, "b": 3}
>>> release(tensors, ("a", "x"), 2, last, keep={"x"})
>>> tensors
{'x': 1, 'b': 3}
"""
from __future__ import annotations

from typing import Collection, Iterable, Sequence


def last_uses(step_inputs: "Iterable[Sequence[str]]") -> "dict[str, int]":
    """For each tensor read, the index of the last step that reads it."""
    last: "dict[str, int]" = {}
    for index, inputs in enumerate(step_inputs):
        for name in inputs:
            last[name] = index
    return last


def release(tensors: dict, inputs: "Sequence[str]", index: int, last: "dict[str, int]",
            keep: "Collection[str]" = ()) -> None:
    """Drop from ``tensors`` the ``inputs`` of step ``index`` that no later step reads, except ``keep``."""
    for name in set(inputs):
        if last[name] == index and name not in keep:
            del tensors[name]
