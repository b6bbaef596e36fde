"""The command line under hostile use: every bad argument is one ``msp-pynq: error:`` line with
exit code 2, checked before the slow work; no command writes over one of its inputs; file and
class names are printed escaped."""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from msp_pynq import cli
from msp_pynq.bundle.container import read_container, write_container

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "models" / "resnet20-msp8-exact.pynq-z2.mspb"


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fails(capsys, argv: list, *fragments: str) -> str:
    """``msp-pynq ARGV`` ends with exit code 2 and exactly one error line holding the fragments."""
    with pytest.raises(SystemExit) as info:
        code = cli.main(argv)
        raise SystemExit(code)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert info.value.code == 2, err
    assert len(lines) == 1 and lines[0].startswith("msp-pynq: error: "), err
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])
    return lines[0]


BAD_NUMBERS = ["0", "-1", "nan", "inf", "-inf", "1e30", "abc", ""]
BAD_COUNTS = ["0", "-1", "nan", "1.5", "99999999999", "x"]
OPTIONS = [  # (argv before the option, option, bad values)
    (["run", "--model", str(BUNDLE)], "--timeout", BAD_NUMBERS),
    (["run", "--model", str(BUNDLE)], "--limit", BAD_COUNTS),
    (["camera", "--source", "pan"], "--timeout", BAD_NUMBERS),
    (["camera", "--source", "pan"], "--frames", BAD_COUNTS),
    (["camera", "--source", "pan"], "--seconds", ["0", "-1", "nan", "inf"]),
    (["eval", "--model", str(BUNDLE)], "--batch", BAD_COUNTS),
    (["eval", "--model", str(BUNDLE)], "--limit", BAD_COUNTS),
    (["train", "--out", "runs/x"], "--batch-size", BAD_COUNTS),
    (["train", "--out", "runs/x"], "--epochs", BAD_COUNTS),
    (["train", "--out", "runs/x"], "--lr", BAD_NUMBERS),
    (["train", "--out", "runs/x"], "--weight-decay", ["-1", "nan", "inf", "2"]),
    (["train", "--out", "runs/x"], "--share-8bit", ["-0.1", "1.5", "nan"]),
    (["quantize", "--onnx", "m.onnx", "--calib", "c", "--out", "m.mspb"], "--input-range", BAD_NUMBERS),
    (["quantize", "--onnx", "m.onnx", "--calib", "c", "--out", "m.mspb"], "--limit", BAD_COUNTS),
    (["quantize", "--onnx", "m.onnx", "--calib", "c", "--out", "m.mspb"], "--act-bits", ["3", "16", "x"]),
    (["bench"], "--batch", BAD_COUNTS),
    (["bench"], "--seconds", ["-1", "nan", "inf", "1e9"]),
    (["bench"], "--threads", BAD_COUNTS),
]


@pytest.mark.parametrize("before, option, values", OPTIONS, ids=[f"{o[0][0]}{o[1]}" for o in OPTIONS])
def test_bad_numbers_are_one_error_line(capsys, before, option, values):
    for value in values:
        fails(capsys, before + [option, value], option)


def test_unknown_board_and_split_are_refused(capsys):
    fails(capsys, ["run", "--model", str(BUNDLE), "--board", "zedboard"], "--board", "zedboard")
    fails(capsys, ["eval", "--model", str(BUNDLE), "--split", "holdout"], "--split", "holdout")


def test_error_line_escapes_control_characters(capsys, tmp_path):
    name = tmp_path / "evil\nname\x1b[2J.mspb"
    line = fails(capsys, ["run", "--model", str(name), "--emulate"], "evil")
    assert "\x1b" not in line and "\\x1b" in line


def test_missing_output_folder_refused_before_work(capsys, tmp_path):
    fails(capsys, ["export", "--checkpoint", str(tmp_path / "none.npz"), "--out", str(tmp_path / "no" / "m.onnx")],
          "does not exist")


def test_read_only_output_folder_refused(capsys, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        fails(capsys, ["compile", str(tmp_path / "m.onnx"), "--out", str(ro / "m.mspb")], "not writable")
        fails(capsys, ["bench", "--models", str(BUNDLE), "--report", str(ro / "r.md")], "not writable")
    finally:
        ro.chmod(0o755)


def test_export_over_its_checkpoint_refused(capsys, tmp_path):
    ckpt = tmp_path / "final.npz"
    ckpt.write_bytes(b"PK\x05\x06" + bytes(18))
    before = sha(ckpt)
    fails(capsys, ["export", "--checkpoint", str(ckpt), "--out", str(ckpt)], "overwrite the input")
    assert sha(ckpt) == before


def test_train_would_overwrite_init_refused(capsys, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    init = run / "final.npz"
    init.write_bytes(b"not read")
    fails(capsys, ["train", "--scheme", "msp", "--init", str(init), "--out", str(run)], "overwrite")
    assert init.read_bytes() == b"not read"
    fails(capsys, ["train", "--out", str(init)], "not a folder")


# -- quantize and compile never write over their inputs ---------------------------------------------

qonnx = pytest.importorskip("qonnx")
MNIST = Path(qonnx.__file__).parent / "data" / "onnx" / "mnist-conv" / "model.onnx"


@pytest.fixture(scope="module")
def calib(tmp_path_factory) -> Path:
    from PIL import Image
    folder = tmp_path_factory.mktemp("calib")
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.fixture()
def user_model(tmp_path) -> Path:
    path = tmp_path / "m.onnx"
    shutil.copy(MNIST, path)
    return path


def test_quantize_keeps_the_float_model(capsys, tmp_path, user_model, calib):
    before = sha(user_model)
    assert cli.main(["quantize", "--onnx", str(user_model), "--calib", str(calib), "--out",
                     str(tmp_path / "m.mspb"), "--input-range", "255", "--limit", "8"]) == 0
    assert sha(user_model) == before
    assert (tmp_path / "m.qdq.onnx").is_file() and (tmp_path / "m.mspb").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]      # no temporaries left
    # the quantized model given to quantize again is pointed at compile
    fails(capsys, ["quantize", "--onnx", str(tmp_path / "m.qdq.onnx"), "--calib", str(calib),
                   "--out", str(tmp_path / "again.mspb")], "already quantized", "msp-pynq compile")
    # compile over its own input, and quantize into the input, are refused
    qdq = tmp_path / "m.qdq.onnx"
    qdq_sha = sha(qdq)
    fails(capsys, ["compile", str(qdq), "--out", str(qdq)], "overwrite the input")
    assert sha(qdq) == qdq_sha
    fails(capsys, ["compile", str(user_model)], "float ONNX", "msp-pynq quantize")


def test_quantize_out_onto_its_input_refused(capsys, user_model, calib):
    before = sha(user_model)
    fails(capsys, ["quantize", "--onnx", str(user_model), "--calib", str(calib), "--out", str(user_model)],
          ".mspb")
    trap = user_model.with_name("m.qdq.onnx")          # the QDQ name of --out m.mspb
    shutil.copy(user_model, trap)
    fails(capsys, ["quantize", "--onnx", str(trap), "--calib", str(calib),
                   "--out", str(user_model.with_name("m.mspb"))], "overwrite the input")
    assert sha(user_model) == before and sha(trap) == before


# -- names printed escaped -------------------------------------------------------------------------

def test_hostile_file_and_class_names_print_escaped(tmp_path):
    from PIL import Image
    images = tmp_path / "imgs"
    images.mkdir()
    evil = os.fsencode(images) + b"/\xff\x1b[2Jcat.png"                 # not UTF-8, with an escape
    Image.new("RGB", (32, 32), (200, 30, 30)).save(os.fsdecode(evil))
    manifest, arrays = read_container(BUNDLE)
    manifest = dict(manifest, classes=[f"\ud800{name}\x07" for name in manifest["classes"]])
    bundle = tmp_path / "evil.mspb"
    write_container(bundle, manifest, arrays)
    proc = subprocess.run([sys.executable, "-m", "msp_pynq.cli", "run", "--model", str(bundle), "--images",
                           str(images), "--emulate"], capture_output=True, timeout=300,
                          env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    out = proc.stdout.decode("utf-8")                  # decodes: nothing unencodable was written
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert "\x1b" not in out and "\x07" not in out and "\\ud800" in out
    line = next(l for l in out.splitlines() if "cat.png" in l)
    assert line.startswith("'\\udcff\\x1b[2Jcat.png'") or line.startswith("'\\xff\\x1b[2Jcat.png'"), line
