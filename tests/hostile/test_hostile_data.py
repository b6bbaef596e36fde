"""Hostile data files: CIFAR-10 python batches that try to run code, a poisoned decode cache,
image bombs and special files given as images or camera sources."""
from __future__ import annotations

import io
import os
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from msp_pynq.data.cifar10 import CIFAR10_CLASSES, load_cifar10
from msp_pynq.data.images import image_files, load_images
from msp_pynq.errors import MSPError

from .bounded import assert_own_error, run_bounded


def global_call(module: str, name: str, *args) -> bytes:
    """A protocol-2 pickle calling ``module.name(*args)`` (string args) wrapped in a dict."""
    body = b"\x80\x02}q\x00(C\x04dataq\x01c" + f"{module}\n{name}\n".encode()
    body += b"(" + b"".join(b"X" + struct.pack("<I", len(a.encode())) + a.encode() for a in args) + b"tR"
    return body + b"u."


def payloads(marker: Path) -> "dict[str, bytes]":
    code = f"open({str(marker)!r}, 'w').write('ran')"
    npy = marker.with_name("evil.npy")
    return {
        "runstring": global_call("numpy.testing._private.utils", "runstring", code, "{}"),
        "builtins.eval": global_call("builtins", "eval", code),
        "builtins.exec": global_call("builtins", "exec", code),
        "os.system": global_call("os", "system", f"touch {marker}"),
        "subprocess": global_call("subprocess", "getoutput", f"touch {marker}"),
        "numpy.load": global_call("numpy", "load", str(npy)),
        "numpy.lib": global_call("numpy.lib.npyio", "load", str(npy)),
    }


@pytest.mark.parametrize("name", list(payloads(Path("/x"))))
def test_code_in_a_cifar_batch_is_refused_and_runs_nothing(tmp_path, name):
    marker = tmp_path / "ran.txt"
    np.save(tmp_path / "evil.npy", np.array([object()], dtype=object), allow_pickle=True)
    root = tmp_path / "cifar"
    root.mkdir()
    (root / "data_batch_1").write_bytes(payloads(marker)[name])
    with pytest.raises(MSPError, match="data_batch_1"):
        load_cifar10(root, "train")
    assert not marker.exists()


def test_object_dtype_array_in_a_batch_is_refused(tmp_path):
    marker = tmp_path / "ran.txt"
    root = tmp_path / "cifar"
    root.mkdir()
    evil = np.array([1, 2], dtype=object)
    (root / "data_batch_1").write_bytes(pickle.dumps({b"data": evil, b"labels": [0, 1]}, protocol=2))
    with pytest.raises(MSPError, match="data_batch_1"):
        load_cifar10(root, "train")
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
def test_genuine_batches_still_load(tmp_path, protocol):
    rng = np.random.default_rng(0)
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    want = []
    for i in range(1, 6):
        data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, 4)]
        want.append((data, labels))
        batch = {b"batch_label": b"training batch", b"labels": labels, b"data": data,
                 b"filenames": [b"a.png"] * 4}
        (root / f"data_batch_{i}").write_bytes(pickle.dumps(batch, protocol=protocol))
    images, labels = load_cifar10(tmp_path, "train")
    assert images.shape == (20, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[0], want[0][0][0].reshape(3, 32, 32).transpose(1, 2, 0))
    assert labels.tolist() == sum((l for _, l in want), [])


def test_batch_labels_out_of_range_are_refused(tmp_path):
    root = tmp_path / "cifar"
    root.mkdir()
    batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}
    for i in range(1, 6):
        (root / f"data_batch_{i}").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(MSPError, match="label"):
        load_cifar10(root, "train")


# -- the decoded-folder cache ---------------------------------------------------------------------

@pytest.fixture()
def tiny_folder(tmp_path, monkeypatch):
    from PIL import Image
    root = tmp_path / "cifar10"
    for c, name in enumerate(CIFAR10_CLASSES):
        (root / "train" / name).mkdir(parents=True)
        for idx in (0, 4500):
            Image.new("RGB", (32, 32), (c * 20, idx % 251, 7)).save(root / "train" / name / f"{idx:04d}.png")
    monkeypatch.setenv("MSP_PYNQ_CACHE", str(tmp_path / "cache"))
    return root


def poison(cache: Path, **arrays) -> None:
    np.savez(cache, **arrays)


@pytest.mark.parametrize("bad", ["shape", "labels", "missing", "truncated", "not-zip"])
def test_a_poisoned_cache_is_not_trusted(tiny_folder, tmp_path, bad):
    images, labels = load_cifar10(tiny_folder, "all", progress=False)
    cache = next((tmp_path / "cache").glob("cifar10-*.npz"))
    n = len(images)
    if bad == "shape":
        poison(cache, images=np.zeros((n, 16, 16, 3), np.uint8), labels=labels, index=np.zeros(n, np.int64))
    elif bad == "labels":
        poison(cache, images=images, labels=np.full(n, 99, np.int64), index=np.zeros(n, np.int64))
    elif bad == "missing":
        poison(cache, images=images)
    elif bad == "truncated":
        cache.write_bytes(cache.read_bytes()[:200])
    else:
        cache.write_bytes(b"hello")
    again, labels_again = load_cifar10(tiny_folder, "all", progress=False)
    np.testing.assert_array_equal(again, images)
    np.testing.assert_array_equal(labels_again, labels)


def test_a_zip_bomb_cache_is_refused_within_bounded_memory(tiny_folder, tmp_path):
    load_cifar10(tiny_folder, "all", progress=False)
    cache = next((tmp_path / "cache").glob("cifar10-*.npz"))
    import zipfile
    header = b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) + (
        "{'descr': '|u1', 'fortran_order': False, 'shape': (20000000, 32, 32, 3), }".ljust(117) + "\n").encode()
    with zipfile.ZipFile(cache, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("images.npy", "w", force_zip64=True) as fh:
            fh.write(header)
            chunk = bytes(1 << 20)
            for _ in range(1024):                       # 1 GiB of zeros, about 1 MB deflated
                fh.write(chunk)
    result = run_bounded(f"""
images, labels = load_cifar10({str(tiny_folder)!r}, "all", progress=False)
assert images.shape == (20, 32, 32, 3)
raise MSPError("decoded again")
""", prelude=f"import os; os.environ['MSP_PYNQ_CACHE'] = {str(tmp_path / 'cache')!r}\n"
             "from msp_pynq.data.cifar10 import load_cifar10\nfrom msp_pynq.errors import MSPError")
    assert_own_error(result, "decoded again")


# -- images ---------------------------------------------------------------------------------------

def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` grey pixels, all zero (tiny deflated)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    comp = zlib.compressobj(9)
    row = bytes(width + 1)
    raw = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def test_a_png_bomb_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(30000, 30000))
    assert bomb.stat().st_size < 2 << 20
    result = run_bounded(f"load_images({str(bomb)!r}, (32, 32))",
                         prelude="from msp_pynq.data.images import load_images")
    assert_own_error(result, "bomb.png")


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"not an image at all"])
def test_broken_images_are_named(tmp_path, content):
    bad = tmp_path / "broken.png"
    bad.write_bytes(content)
    with pytest.raises(MSPError, match="broken.png"):
        load_images(bad, (32, 32))


def test_a_truncated_photo_is_named(tmp_path):
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (200, 200), (10, 200, 30)).save(buf, "JPEG")
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(buf.getvalue()[:300])
    with pytest.raises(MSPError, match="cut.jpg"):
        load_images(bad, (32, 32))


def test_fifos_and_devices_are_refused_not_read(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    result = run_bounded(f"load_images({str(fifo)!r}, (32, 32))",
                         prelude="from msp_pynq.data.images import load_images", cpu_s=20, wall_s=120)
    assert_own_error(result, "pipe.png")
    folder = tmp_path / "imgs"
    folder.mkdir()
    os.mkfifo(folder / "x.png")
    result = run_bounded(f"load_images({str(folder)!r}, (32, 32))",
                         prelude="from msp_pynq.data.images import load_images", cpu_s=20, wall_s=120)
    assert_own_error(result, "x.png")
    with pytest.raises(MSPError):
        image_files("/dev/zero")


@pytest.mark.parametrize("size, channels, limit", [((0, 32), 3, None), ((32, -1), 3, None),
                                                   ((10**6, 10**6), 3, None), ((32, 32), 4, None),
                                                   ((32, 32), 3, 0), ((32, 32), 3, -5)])
def test_load_images_checks_its_arguments(size, channels, limit):
    from msp_pynq.data.images import sample_photos
    with pytest.raises(MSPError):
        load_images(sample_photos(), size, channels, limit)


# -- camera sources -------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["/dev/zero", "-1", "100000", "1.5"])
def test_camera_sources_refuse_special_files_and_odd_indices(spec):
    from msp_pynq.camera.sources import open_source
    with pytest.raises(MSPError):
        with open_source(spec):
            pass


def test_camera_refuses_a_fifo_source(tmp_path):
    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)
    result = run_bounded(f"open_source({str(fifo)!r})", prelude="from msp_pynq.camera.sources import open_source",
                         cpu_s=20, wall_s=120)
    assert_own_error(result, "clip.mp4")
