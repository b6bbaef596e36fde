"""Figures side by side: resource use per board, and our images per second beside the peers'.

Every bar says what kind of figure it is: ``modelled`` (the Verilog engine's cycle model at the
board profile's clock, no board involved), ``measured`` (timed by this code on this machine or
on a board) or ``quoted`` (a peer's published figure, ``docs/peers.json``).

>>> from .files import load_peers, load_resources
>>> [(r.board, r.config, r.macs_per_cycle) for r in resource_use(load_resources())][:2]
[('pynq-z2', 'mixed', 752), ('pynq-z2', 'dsp-only', 384)]
>>> bars = peer_bars(load_peers())
>>> bars[0].label, bars[0].fps, bars[0].kind
('finn-examples CNV-W1A1, CIFAR-10 (Pynq-Z1)', 3020.0, 'quoted')

Numpy-free (board side).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from .files import Peer, percent_text
from .measure import EnginePoint, Throughput

KINDS = ("modelled", "measured", "quoted")
# resources.json summary key and device key of each resource the notebook shows
RESOURCES = {"LUT": ("lut", "luts"), "FF": ("ff", "ffs"), "DSP": ("dsp", "dsps"), "BRAM": ("bram36", "bram36")}


@dataclass(frozen=True)
class ResourceUse:
    """One synthesized engine configuration of a board (``docs/resources.json``)."""

    board: str
    config: str                     # "mixed" or "dsp-only"
    part: str
    used: "dict[str, float]"        # LUT, FF, DSP, BRAM (36 Kb equivalents)
    capacity: "dict[str, float]"
    macs_per_cycle: int             # 4-bit MACs per cycle, both cores
    generics: dict

    @property
    def percent(self) -> "dict[str, float]":
        return {k: 100.0 * self.used[k] / self.capacity[k] for k in self.used}

    @property
    def fits(self) -> bool:
        return all(v <= 100.0 for v in self.percent.values())


def resource_use(resources: dict) -> "list[ResourceUse]":
    """Per board, the mixed and the DSP-only engine's use of the device and their MACs per cycle."""
    rows = []
    for board, entry in resources.items():
        device = entry["device"]
        for config in ("mixed", "dsp-only"):
            run = entry["runs"][config]
            rows.append(ResourceUse(
                board=board, config=config, part=device.get("part", ""),
                used={k: float(run["summary"][s]) for k, (s, _) in RESOURCES.items()},
                capacity={k: float(device[d]) for k, (_, d) in RESOURCES.items()},
                macs_per_cycle=int(entry["macs_per_cycle"][config]["total4"]),
                generics=dict(run.get("generics", {}))))
    return rows


@dataclass(frozen=True)
class Bar:
    """One bar of the comparison: images per second, what kind of figure, and its accuracy."""

    label: str
    fps: float
    kind: str                       # modelled, measured, quoted
    accuracy_pct: "float | None" = None
    ours: bool = False
    note: str = ""
    approximate: bool = False       # a peer's "about" figure

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"bar {self.label!r}: kind {self.kind!r}, expected one of {', '.join(KINDS)}")
        if not self.fps > 0:
            raise ValueError(f"bar {self.label!r}: fps must be positive, got {self.fps!r}")

    @property
    def text(self) -> str:
        """The bar's annotation, e.g. ``578.1 img/s, 87.86%, modelled`` (four significant digits)."""
        acc = "" if self.accuracy_pct is None else f", {percent_text(self.accuracy_pct)}"
        return f"{'about ' if self.approximate else ''}{self.fps:,.4g} img/s{acc}, {self.kind}"


def engine_bars(points: "Iterable[EnginePoint]", board: str, kind: str = "modelled",
                model: str = "ResNet-20, CIFAR-10", accuracy_pct: "float | None" = None) -> "list[Bar]":
    """Our engine's images per second at each batch size (from :func:`.measure` points or
    :func:`.model_bundle`); ``kind`` is ``Throughput.engine_kind`` for measured points."""
    return [Bar(f"msp-pynq {model}, engine, batch {p.batch} ({board})", p.engine_fps, kind, accuracy_pct,
                ours=True, note=f"{p.engine_ms_per_image:.3f} ms/image at {p.clock_mhz:g} MHz")
            for p in points]


def host_bars(t: Throughput, model: str = "ResNet-20, CIFAR-10", accuracy_pct: "float | None" = None,
              batches: "Sequence[int] | None" = None) -> "list[Bar]":
    """Our end-to-end images per second (``Runtime.run`` wall time) at each measured batch size
    (or at ``batches``). Emulated, it is this PC computing the engine's work too: not a board figure."""
    where = "on the board" if t.mode == "board" else "emulated on this PC"
    return [Bar(f"msp-pynq {model}, end-to-end {where}, batch {p.batch} ({t.board})", p.host_fps, "measured",
                accuracy_pct, ours=True, note=f"{p.wall_ms_per_image:.2f} ms/image wall time")
            for p in (t.points if batches is None else [t.point(b) for b in batches])]


def peer_label(p: Peer) -> str:
    """``system[ model], dataset (board)``, e.g. ``Xilinx DPU 2xB4096 ResNet-50 (ZCU104)``."""
    model = f" {p.model}" if p.model and p.model not in p.system else ""
    dataset = f", {p.dataset}" if p.dataset else ""
    return f"{p.system}{model}{dataset} ({p.board})"


def peer_bars(peers: "Iterable[Peer]") -> "list[Bar]":
    """The peers with a throughput or latency figure, as bars (accuracy-only entries are left out)."""
    return [Bar(peer_label(p), p.fps, "quoted", p.accuracy_pct, note=p.note, approximate=p.approximate)
            for p in peers if p.fps is not None]
