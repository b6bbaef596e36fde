"""Performance of msp-pynq, as data and as figures (``notebooks/04_performance.ipynb``).

- :mod:`.measure`: throughput and latency of a loaded Runtime over batch sizes, host time per
  stage, engine time per layer;
- :mod:`.model`: a bundle's modelled engine time from the cycle model alone (no run);
- :mod:`.files`: the committed figures: peers (``docs/peers.json``), resources
  (``docs/resources.json``), accuracy (``docs/results/cifar10_agreement.json``);
- :mod:`.compare`: resource use per board, our images per second beside the peers';
- :mod:`.plots`: matplotlib figures of all that (imported on first use: matplotlib is optional).

>>> from msp_pynq import perf
>>> from msp_pynq.jupyter import find_file
>>> from msp_pynq.runtime import Runtime
>>> with Runtime.open("zcu104", emulate=True, log=None) as rt:
...     _ = rt.load(find_file("models/resnet20-msp8-exact.zcu104.mspb"))
...     t = perf.measure(rt, batches=(1,), seconds=0, min_runs=1)
...     layers = perf.layer_times(rt.report())
>>> fig = perf.plot_throughput(t)
>>> len(layers), layers[0].name
(32, 'conv1')
"""
from __future__ import annotations

from .compare import Bar, ResourceUse, engine_bars, host_bars, peer_bars, resource_use
from .files import FigureFileError, Peer, load_accuracy, load_peers, load_resources
from .measure import (BatchTiming, EnginePoint, LayerTime, Throughput, batch_images, layer_times, measure,
                      stage_table)
from .estimate import bundle_macs, model_bundle

_PLOTS = ("plot_throughput", "plot_stages", "plot_layers", "plot_resources", "plot_comparison")

__all__ = ["Bar", "BatchTiming", "EnginePoint", "FigureFileError", "LayerTime", "Peer", "ResourceUse",
           "Throughput", "batch_images", "bundle_macs", "engine_bars", "host_bars", "layer_times",
           "load_accuracy", "load_peers", "load_resources", "measure", "model_bundle", "peer_bars",
           "resource_use", "stage_table", *_PLOTS]


def __getattr__(name: str):
    # matplotlib loads only when a figure is asked for (a board without it still measures)
    if name in _PLOTS:
        from . import plots
        return getattr(plots, name)
    raise AttributeError(f"module 'msp_pynq.perf' has no attribute {name!r}")
