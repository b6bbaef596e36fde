"""The modules behind the notebooks: where a notebook runs, its files, figures, data, quick training."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from msp_pynq.errors import MSPError
from msp_pynq.jupyter import detect_board, find_file, host_packages, where

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "models" / "resnet20-msp8-exact.pynq-z2.mspb"


@pytest.mark.parametrize("env, board", [({}, "pynq-z2"), ({"BOARD": "ZCU104"}, "zcu104"),
                                        ({"BOARD": "Pynq-Z1"}, "pynq-z2"), ({"BOARD": "Ultra96"}, "pynq-z2"),
                                        ({"BOARD": "Pynq-Z2", "MSP_PYNQ_BOARD": "zcu104"}, "zcu104")])
def test_detect_board_reads_the_pynq_image_variable(monkeypatch, env, board):
    for var in ("BOARD", "MSP_PYNQ_BOARD"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert detect_board() == board


def test_where_says_emulated_and_why(monkeypatch):
    lines = []
    monkeypatch.delenv("MSP_PYNQ_EMULATE", raising=False)
    w = where("zcu104", log=lines.append)
    assert (w.board, w.mode, w.reason) == ("zcu104", "emulated", "no PYNQ board found") and w.emulated
    assert lines == [w.message] and "EMULATED" in w.message and "zcu104 overlay" in w.message
    monkeypatch.setenv("MSP_PYNQ_EMULATE", "1")
    assert where(log=None).reason == "MSP_PYNQ_EMULATE is set"


def test_find_file_and_its_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_file("models/resnet20-msp8-exact.pynq-z2.mspb") == BUNDLE
    (tmp_path / "mine.mspb").write_bytes(b"x")
    assert find_file("mine.mspb") == tmp_path / "mine.mspb"               # beside the notebook first
    with pytest.raises(FileNotFoundError, match=r"models/nothing.mspb: not found; looked in .*share/msp-pynq"):
        find_file("models/nothing.mspb")


def test_host_packages_reports_what_is_missing(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    lines = []
    assert host_packages(log=lines.append) is False
    assert lines and lines[0].startswith("host packages missing here: torch;")


def test_row_mix_figure_matches_the_bundle():
    pytest.importorskip("matplotlib")
    from msp_pynq.bundle.io import load_bundle
    from msp_pynq.viz import plot_row_mix, row_mix
    manifest = load_bundle(BUNDLE).manifest
    mix = row_mix(manifest)
    assert len(mix) == 22 and mix[0] == ("conv1", {"fixed4": 0, "fixed8": 16, "sp2_4": 0})
    fig = plot_row_mix(manifest)
    ax = fig.axes[0]
    widths = {}
    for container, label in zip(ax.containers, [t.get_text() for t in ax.get_legend().get_texts()]):
        widths[label] = [int(bar.get_width()) for bar in container]
    for i, (_, rows) in enumerate(mix):
        assert {s: widths[s][i] for s in widths} == {s: n for s, n in rows.items() if s in widths}
        assert set(widths) == {s for _, r in mix for s, n in r.items() if n}


def test_self_check_figure_colours_the_bad_layer():
    pytest.importorskip("matplotlib")
    from msp_pynq.runtime.selfcheck import LayerCheck, SelfCheckReport
    from msp_pynq.viz import plot_self_check
    report = SelfCheckReport("pynq-z2", "emulated", "7710d645", "b.mspb", ["a"], logits_equal=False,
                             layers=[LayerCheck("conv1", "conv2d", (4, 4, 8), 128, 0, 0, None),
                                     LayerCheck("fc", "linear", (10,), 10, 5, 3, (0, 2))])
    ax = plot_self_check(report).axes[0]
    heights = [bar.get_height() for bar in ax.containers[0]]
    assert heights == [0.0, 0.5] and "first differing layer fc" in ax.get_title()


def test_photo_crops_are_balanced_deterministic_and_from_the_photos():
    from PIL import Image

    from msp_pynq.data.crops import photo_crops
    from msp_pynq.data.images import sample_photos
    images, labels, classes = photo_crops(40, size=(16, 24), seed=3)
    assert images.shape == (40, 16, 24, 3) and np.bincount(labels).tolist() == [10, 10, 10, 10]
    again, labels2, _ = photo_crops(40, size=(16, 24), seed=3)
    assert np.array_equal(images, again) and np.array_equal(labels, labels2)
    assert not np.array_equal(images, photo_crops(40, size=(16, 24), seed=4)[0])
    # each crop's mean colour is close to its own photo's, on average nearer than to the others'
    means = []
    for f in sample_photos():
        with Image.open(f) as im:
            means.append(np.asarray(im.convert("RGB"), float).reshape(-1, 3).mean(0))
    dist = np.array([[np.abs(img.reshape(-1, 3).mean(0) - m).sum() for m in means] for img in images])
    assert (dist.argmin(1) == labels).mean() > 0.5 and classes[0] == "chelsea"
    with pytest.raises(MSPError, match="count must be an integer in 1..1,000,000, not 0"):
        photo_crops(0)


def test_quick_fit_learns_a_separable_task():
    torch = pytest.importorskip("torch")
    from torch import nn

    from msp_pynq.train.quick import accuracy, fit
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 256)
    images = np.where(labels[:, None, None, None] == 1, 200, 40).astype(np.int64)
    images = np.clip(images + rng.integers(-30, 31, (256, 4, 4, 3)), 0, 255).astype(np.uint8)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 2))
    losses = fit(model, images, labels, steps=60, batch_size=32, lr=0.05, progress=False)
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) and accuracy(model, images, labels) > 0.95
    with pytest.raises(MSPError, match="expected uint8 \\[N, H, W, C\\] images and N labels"):
        fit(model, images.astype(np.float32), labels, steps=1)
