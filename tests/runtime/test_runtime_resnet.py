"""A compiled ResNet-20 through the runtime on the emulated overlays of both boards."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from msp_pynq.bundle.container import BundleError
from msp_pynq.bundle.io import load_bundle

from .runtime_helpers import images


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104"])
def test_resnet20_logits_equal_the_bundle_emulator_bit_for_bit(runtime, resnet_bundles, board):
    rt = runtime(board)
    bundle = rt.load(resnet_bundles[board])
    x = images(5, (32, 32, 3), seed=7)
    want = load_bundle(resnet_bundles[board], board=board).logits(x)     # same int32 accumulators
    got = rt.run(x)
    assert got.dtype == np.float64 and got.shape == (5, 10)
    assert np.array_equal(got, want)                                     # bit for bit
    assert np.array_equal(rt.run(x[:2]), want[:2])
    index, name, _ = rt.classify(x[4])
    assert (index, name) == (int(want[4].argmax()), bundle.classes[int(want[4].argmax())])
    report = rt.report()
    layers = report["last_run"]["layers"]
    assert len(layers) == len(bundle.network.layers) == 32
    assert all(layer["cycles"] > 0 for layer in layers)
    # the add layers' input a must fit the activation buffer: 32x32x16 bytes per image
    assert report["load"]["batch"] == (8 if board == "pynq-z2" else 16)
    assert rt.device.engine_model.stats["layers"] == 32 * 2 + 32 and rt.device.engine_model.stats["errors"] == 0


def test_resnet20_bundle_for_the_other_board_is_refused(runtime, resnet_bundles):
    rt = runtime("pynq-z2")
    with pytest.raises(BundleError, match="compiled for board 'zcu104', not 'pynq-z2'"):
        rt.load(resnet_bundles["zcu104"])
    rt.load(resnet_bundles["pynq-z2"])


def test_cli_run_on_image_files(resnet_bundles, tmp_path, capsys):
    """`msp-pynq run` on a folder of image files, emulated: one line per image, top class first."""
    from PIL import Image
    from msp_pynq.cli import main
    x = images(3, (32, 32, 3), seed=11)
    for i, img in enumerate(x):
        Image.fromarray(img).save(tmp_path / f"img{i}.png")
    assert main(["run", "--model", str(resnet_bundles["pynq-z2"]), "--images", str(tmp_path),
                 "--board", "pynq-z2", "--emulate"]) == 0
    out = capsys.readouterr().out.splitlines()
    want = load_bundle(resnet_bundles["pynq-z2"]).predict(x)[1]
    lines = [line for line in out if line.startswith("img")]
    assert len(lines) == 3
    classes = load_bundle(resnet_bundles["pynq-z2"]).classes
    for line, k in zip(lines, want):
        top = line.split(": ", 1)[1].split(",")[0].rsplit(" ", 1)[0]
        assert top == (classes[k] if classes else str(k))
    assert "(emulated)" in out[-1] and "ms/image" in out[-1]


ROOT = Path(__file__).resolve().parents[2]
COMMITTED = sorted((ROOT / "models").glob("*.mspb"))


@pytest.mark.parametrize("path", COMMITTED, ids=[p.name for p in COMMITTED])
def test_every_committed_bundle_runs_bit_exact_on_its_board(runtime, path):
    bundle = load_bundle(path)
    board = bundle.manifest["board"]
    rt = runtime(board)
    rt.load(path)
    x = images(3, bundle.input_shape, seed=5)
    assert np.array_equal(rt.run(x), bundle.logits(x))
    last = rt.report()["last_run"]
    assert 0 < last["emulator_s"] < last["device_model_s"] < last["wall_s"] and last["engine_s"] > 0


def test_cli_run_defaults_to_the_shipped_sample_photos(resnet_bundles, capsys):
    from msp_pynq.cli import main
    from msp_pynq.data.images import SAMPLE_PHOTOS
    assert main(["run", "--model", str(resnet_bundles["pynq-z2"]), "--emulate"]) == 0
    out = capsys.readouterr().out
    assert [line.split(":")[0] for line in out.splitlines() if ": " in line and "." in line.split(":")[0]] \
        == list(SAMPLE_PHOTOS)


def test_bench_takes_the_emulator_out_of_the_host_overhead(resnet_bundles, tmp_path, capsys):
    pytest.importorskip("threadpoolctl")
    from msp_pynq.cli import main
    from msp_pynq.perf.runtime_bench import bench_bundle
    row = bench_bundle(resnet_bundles["zcu104"], batch=2, seconds=0.0)
    s = row["stages_ms"]
    assert row["board"] == "zcu104" and row["images"] == 6                  # three timed runs of 2
    assert 0 < row["host_overhead_ms"] < row["host_with_models_ms"] < s["wall_s"]
    assert row["host_overhead_ms"] == pytest.approx(s["wall_s"] - s["device_model_s"])
    assert row["host_with_models_ms"] == pytest.approx(s["wall_s"] - s["emulator_s"])
    assert s["emulator_s"] < s["device_model_s"]
    assert row["modelled_fps"] == pytest.approx(1e3 / s["engine_s"])
    report = tmp_path / "bench.md"
    assert main(["bench", "--models", resnet_bundles["pynq-z2"], "--batch", "1", "--seconds", "0",
                 "--report", str(report)]) == 0
    text = report.read_text()
    assert "| pynq-z2 | 1 |" in text and "finn-examples CNV-W1A1" in text
    assert "modelled board fps" in capsys.readouterr().out
