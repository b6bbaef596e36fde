"""``msp-pynq camera`` end to end, in a subprocess: a video file through the emulated PYNQ-Z2
runtime into an annotated video, and the errors it reports."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from msp_pynq.camera import gui_problem

ROOT = Path(__file__).resolve().parents[2]


def camera_cli(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MSP_PYNQ_EMULATE": "1"}
    return subprocess.run([sys.executable, "-m", "msp_pynq.cli", "camera", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_video_file_to_annotated_video(video, tmp_path):
    out = tmp_path / "annotated.avi"
    run = camera_cli("--source", str(video[0]), "--frames", "6", "--emulate", "--out", str(out))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "msp_pynq runtime: pynq-z2 emulated (as requested); engine 1.0, fingerprint 7710d645, 125 MHz"
    assert any(line.startswith(f"camera: {video[0].name} (10 fps, as fast as possible) -> "
                               "resnet20-msp8-exact.pynq-z2.mspb on pynq-z2 (emulated)") for line in lines)
    assert re.search(r"^captured 6, inferred 6, dropped 0, shown 6 in [\d.]+ s: [\d.]+ fps end to end; "
                     r"modelled board engine \d+ fps$", run.stdout, re.M)
    for stage in ("capture", "preprocess", "inference", "engine", "draw", "output", "latency"):
        assert re.search(rf"^{stage} +\d+\.\d\d  ", run.stdout, re.M), stage
    assert "6/6 frames" in run.stderr                               # the progress line
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape == (120, 160, 3)
    assert f"wrote {out}: 6 annotated frames at 10 fps" in run.stdout


def test_missing_source_is_a_clear_error(tmp_path):
    run = camera_cli("--source", str(tmp_path / "nope.mp4"), "--frames", "2")
    assert run.returncode == 2
    assert f"msp-pynq: error: {tmp_path / 'nope.mp4'}: no such file or folder" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.skipif(gui_problem() is None, reason="this OpenCV has a GUI and a display")
def test_show_without_gui_is_a_clear_error():
    run = camera_cli("--source", "pan", "--frames", "2", "--show")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert f"msp-pynq: error: --show: {gui_problem()}" in run.stderr
