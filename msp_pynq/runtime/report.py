"""What a run reports: host time per stage, the engine's cycles, and per-layer figures.

``Runtime.report()["last_run"]`` is :meth:`RunReport.as_dict` of the last run. The stages, in
order (:data:`RUN_STAGES`): ``preprocess_s`` (image checks), ``weights_s`` (MM2S of parameter
and weight packets), ``dma_s`` (programming, activation copies in and out of the DMA buffers,
MM2S of inputs, S2MM, channel reordering; in emulated mode it includes the emulator's compute,
which runs when the last input packet arrives), ``engine_wait_s`` (host time polling STATUS),
``postprocess_s`` (int32 to logits).

>>> r = RunReport(images=2, preprocess_s=0.5)
>>> list(r.stages()) == list(RUN_STAGES), r.as_dict()["images"]
(True, 2)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

RUN_STAGES = ("preprocess_s", "weights_s", "dma_s", "engine_wait_s", "postprocess_s")


@dataclass
class RunReport:
    """One run: images, engine calls per layer (``batches``), host seconds per stage, modelled
    engine time (CYCLES / CLOCK_KHZ), host wall time, and (emulated mode) host time inside the
    engine emulator (part of ``dma_s``) and inside every device model (``wall_s -
    device_model_s`` is the runtime's own host time); ``layers``: name, op, cycles, engine_s."""

    images: int = 0
    batches: int = 0
    preprocess_s: float = 0.0
    weights_s: float = 0.0
    dma_s: float = 0.0
    engine_wait_s: float = 0.0
    postprocess_s: float = 0.0
    engine_cycles: int = 0
    engine_s: float = 0.0
    wall_s: float = 0.0
    emulator_s: float = 0.0
    device_model_s: float = 0.0
    layers: "list[dict]" = field(default_factory=list)

    def stages(self) -> "dict[str, float]":
        """Host seconds per stage, in :data:`RUN_STAGES` order."""
        return {stage: getattr(self, stage) for stage in RUN_STAGES}

    def as_dict(self) -> dict:
        return asdict(self)


assert RUN_STAGES == tuple(f.name for f in fields(RunReport))[2:2 + len(RUN_STAGES)]
