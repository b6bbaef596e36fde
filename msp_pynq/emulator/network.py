"""A network as a program of layers over named tensors, run by the reference or fast path.

>>> import numpy as np
>>> from msp_pynq.emulator import Network, GlobalAvgPool, Linear
>>> from msp_pynq.numerics import U8
>>> net = Network([GlobalAvgPool(name="gap", multiplier=1, shift=2, in_spec=U8),
...                Linear(name="fc", inputs=("gap",), weights=np.eye(3, dtype=np.int8),
...                       schemes=["fixed8"] * 3, out_spec=None)])
>>> net.run(np.full((1, 2, 2, 3), 7, np.uint8)).tolist()   # mean of four 7s
[[7, 7, 7]]
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Sequence

import numpy as np

from ..errors import LayerError, MSPError
from ..numerics.activations import U8, ActSpec
from ..tensors import last_uses, release
from . import fast, reference
from .layers import Layer


class Network:
    """An ordered list of layers; each reads tensors produced before it (or the input).

    Args:
        layers: the program, in execution order.
        input_name: name of the network input tensor.
        input_spec: its integer type (uint8 pixels by default).
        output: the tensor returned by :meth:`run` (default: the last layer's).
    """

    def __init__(self, layers: Sequence[Layer], input_name: str = "input",
                 input_spec: ActSpec = U8, output: "str | None" = None) -> None:
        if not layers:
            raise MSPError("a network needs at least one layer")
        self.layers = list(layers)
        self.input_name, self.input_spec = input_name, input_spec
        self.output = output or self.layers[-1].output
        self._last_use = self._check_graph()

    def _check_graph(self) -> dict:
        known = {self.input_name}
        for layer in self.layers:
            for name in layer.inputs:
                if name not in known:
                    raise LayerError(layer.name, f"reads tensor {name!r}, which no earlier layer "
                                                 f"produces (known: {sorted(known)})")
            if layer.output in known:
                raise LayerError(layer.name, f"writes tensor {layer.output!r}, already produced")
            known.add(layer.output)
        if self.output not in known:
            raise MSPError(f"network output {self.output!r} is produced by no layer")
        return last_uses(layer.inputs for layer in self.layers)

    def run(self, x: np.ndarray, *, reference_path: bool = False, keep: Iterable[str] = (),
            threads: int = 1) -> "np.ndarray | dict":
        """Run the program on a batch ``x`` (NHWC ``input_spec`` integers).

        Returns the output tensor, or a dict of the tensors named in ``keep`` plus the output.
        ``reference_path=True`` uses the plain int64 reference instead of the fast path.
        ``threads > 1`` splits the batch over that many Python threads (numpy releases the
        GIL in its loops and BLAS calls); results are identical, images being independent.
        """
        self.input_spec.check(x, f"network input {self.input_name!r}")
        if threads > 1 and len(x) > 1 and not keep:
            parts = np.array_split(x, min(threads, len(x)))
            with ThreadPoolExecutor(len(parts)) as pool:
                outs = list(pool.map(lambda part: self.run(part, reference_path=reference_path), parts))
            return np.concatenate(outs)
        runner = reference.run_layer if reference_path else fast.run_layer
        keep = set(keep)
        unknown = keep - {self.input_name} - {layer.output for layer in self.layers}
        if unknown:
            raise MSPError(f"keep names unknown tensors {sorted(unknown)}")
        tensors, kept = {self.input_name: x}, keep | {self.output}
        for index, layer in enumerate(self.layers):
            tensors[layer.output] = runner(layer, *(tensors[n] for n in layer.inputs))
            release(tensors, layer.inputs, index, self._last_use, kept)
        if keep:
            return {name: tensors[name] for name in kept}
        return tensors[self.output]

    def summary(self) -> list:
        """One dict per layer: name, type, and for weight layers rows per scheme."""
        rows = []
        for layer in self.layers:
            row = {"name": layer.name, "type": type(layer).__name__, "inputs": layer.inputs}
            if hasattr(layer, "scheme_counts"):
                row.update(layer.scheme_counts(), k=layer.k)
            rows.append(row)
        return rows
