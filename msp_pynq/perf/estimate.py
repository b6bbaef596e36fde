"""A bundle's modelled engine time without running it: the cycle model over its program.

The emulated engine reports :func:`msp_pynq.engine.cycles.modelled_cycles` for every job the
runtime sends it; summing that over the same program and batches gives the same CYCLES without
computing a single image, so the notebook can show the other board's modelled figures on a slow
ARM CPU too.

>>> from msp_pynq.jupyter import find_file
>>> p = model_bundle(find_file("models/resnet20-msp8-exact.zcu104.mspb"), batches=(1, 16))
>>> [(x.batch, round(x.engine_fps)) for x in p]
[(1, 1253), (16, 1445)]
>>> bundle_macs(find_file("models/resnet20-msp8-exact.zcu104.mspb"))
40813184

Needs numpy only (board side).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..boards.profiles import get_profile
from ..bundle.container import read_container
from ..engine.cycles import modelled_cycles
from ..engine.planning import plan_jobs
from ..engine.registers import Op
from ..runtime.runtime import DEFAULT_MAX_BATCH
from .measure import EnginePoint, check_batches


def model_bundle(path: "str | Path", batches: Sequence[int] = (1, 16),
                 max_batch: int = DEFAULT_MAX_BATCH) -> "list[EnginePoint]":
    """The modelled engine cycles of ``path`` on its board's profile, per batch size, as
    ``Runtime.run`` would split each batch (``max_batch``, as ``Runtime.open`` takes it)."""
    manifest, arrays = read_container(path)
    profile = get_profile(manifest.get("board", ""))
    buffers = profile.geometry
    program = plan_jobs(manifest, arrays, str(path), buffers)
    limit = program.batch_limit(buffers, max_batch, str(path))
    points = []
    for batch in check_batches(batches):
        chunks = [limit] * (batch // limit) + ([batch % limit] if batch % limit else [])
        cycles = sum(modelled_cycles(job.descriptor_for(n), buffers) for n in chunks for job in program.jobs)
        points.append(EnginePoint(batch=batch, engine_cycles=cycles, clock_mhz=profile.clock_mhz))
    return points


def bundle_macs(path: "str | Path") -> int:
    """Multiply-accumulates per image of a bundle's conv2d and linear layers (rows x K per
    output position): with a run's engine cycles, the MACs per cycle the engine achieves."""
    manifest, arrays = read_container(path)
    jobs = plan_jobs(manifest, arrays, str(path)).jobs
    return sum(j.descriptor.rows * j.descriptor.k * j.descriptor.out_hw[0] * j.descriptor.out_hw[1]
               for j in jobs if j.op in (Op.CONV2D, Op.LINEAR))
