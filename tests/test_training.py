"""The training loop on a tiny image folder: float, resume, QAT, checkpoints, torchrun (DDP)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from msp_pynq.errors import MSPError
from msp_pynq.models import build_model
from msp_pynq.quant import QConv2d, quantize, row_assignment
from msp_pynq.train.checkpoint import load_checkpoint, save_checkpoint
from msp_pynq.train.loop import TrainConfig, train

from fake_cifar import make_image_folder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    make_image_folder(root, train_per_class=12, val_per_class=4)
    os.environ["MSP_PYNQ_CACHE"] = str(root / "cache")
    return root


def _cfg(data, out, **kw):
    base = dict(model="resnet20", out=str(out), epochs=4, batch_size=30, lr=0.05, data=str(data),
                warmup_epochs=0.5, progress=False, threads=1)
    base.update(kw)
    return TrainConfig(**base)


def test_float_training_lowers_the_loss_and_writes_logs(data, tmp_path):
    summary = train(_cfg(data, tmp_path / "f"))
    log = (tmp_path / "f" / "log.csv").read_text().splitlines()
    assert log[0].startswith("epoch,lr,train_loss")
    losses = [float(row.split(",")[2]) for row in log[1:]]
    assert len(losses) == 4 and losses[-1] < losses[0] * 0.8
    assert json.loads((tmp_path / "f" / "summary.json").read_text())["val_acc"] == summary["val_acc"]
    assert summary["val_images"] == 40


def test_resume_continues_after_the_last_epoch(data, tmp_path):
    train(_cfg(data, tmp_path / "r", epochs=2))
    summary = train(_cfg(data, tmp_path / "r", epochs=3, resume=True))
    rows = (tmp_path / "r" / "log.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [1, 2, 3]
    assert summary["epochs"] == 3


def test_qat_from_a_float_checkpoint(data, tmp_path):
    train(_cfg(data, tmp_path / "float", epochs=2))
    quant = {"board": "pynq-z2", "scheme": "msp", "share_8bit": 0.05, "act_bits": 4}
    summary = train(_cfg(data, tmp_path / "qat", epochs=1, lr=0.01,
                         init=str(tmp_path / "float" / "final.npz"), quant=quant))
    assert np.isfinite(summary["val_loss"])
    q = quantize(build_model("resnet20"), **quant)
    meta = load_checkpoint(tmp_path / "qat" / "final.npz", q)
    assert meta["config"]["quant"] == quant
    assert all(m.scheme_ids.numel() for m in q.modules() if isinstance(m, QConv2d))
    assert row_assignment(q)["conv1"]["counts"] == {"fixed8": 16}


def test_checkpoint_round_trip_without_pickle(tmp_path):
    model = build_model("resnet20")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.rand(2, 3, 32, 32)).sum().backward()
    opt.step()
    save_checkpoint(tmp_path / "c.npz", model, {"epoch": 7}, opt)
    with np.load(tmp_path / "c.npz", allow_pickle=False) as npz:     # plain arrays only
        assert "header" in npz.files
    other = build_model("resnet20")
    opt2 = torch.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    assert load_checkpoint(tmp_path / "c.npz", other, opt2) == {"epoch": 7}
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)
    buf_a = opt.state_dict()["state"][0]["momentum_buffer"]
    assert torch.equal(buf_a, opt2.state_dict()["state"][0]["momentum_buffer"])


def test_checkpoint_errors(tmp_path):
    with pytest.raises(MSPError, match="not found"):
        load_checkpoint(tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(MSPError, match="not a readable .npz file"):
        load_checkpoint(tmp_path / "junk.npz")
    save_checkpoint(tmp_path / "c.npz", build_model("resnet20"), {})
    with pytest.raises(MSPError, match="does not fit the model"):
        load_checkpoint(tmp_path / "c.npz", build_model("cnv"))


def test_torchrun_two_processes(data, tmp_path):
    """The same CLI under torchrun: 2 gloo processes share each batch; rank 0 writes the run."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
           "--master-port", "29517", "-m", "msp_pynq.cli", "train", "--model", "resnet20",
           "--out", str(tmp_path / "ddp"), "--epochs", "1", "--batch-size", "30",
           "--data", str(data), "--no-progress", "--threads", "1"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["epochs"] == 1
    assert "final validation accuracy" in done.stdout


def test_exact_fine_tuning_from_a_qat_checkpoint(data, tmp_path):
    quant = {"board": "pynq-z2", "scheme": "msp", "share_8bit": 0.05, "act_bits": 4}
    with pytest.raises(MSPError, match="give its checkpoint with --init"):
        train(_cfg(data, tmp_path / "bad", epochs=1, quant=quant, exact=True))
    train(_cfg(data, tmp_path / "float", epochs=1))
    train(_cfg(data, tmp_path / "qat", epochs=1, lr=0.01, init=str(tmp_path / "float" / "final.npz"),
               quant=quant))
    summary = train(_cfg(data, tmp_path / "exact", epochs=1, lr=0.001, quant=quant, exact=True,
                         init=str(tmp_path / "qat" / "final.npz")))
    assert np.isfinite(summary["val_loss"])
    from msp_pynq.quant import IntegerExact
    from msp_pynq.train.loop import build
    cfg = _cfg(data, tmp_path / "exact", quant=quant, exact=True)
    model = build(cfg)
    assert isinstance(model, IntegerExact)
    load_checkpoint(tmp_path / "exact" / "final.npz", model)          # same structure: BN folded
