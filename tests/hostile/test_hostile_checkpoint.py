"""Hostile checkpoints (``load_checkpoint``, used by ``export`` and ``train --init/--resume``):
every damaged, oversized or crafted file ends in MSPError, within bounded memory, and nothing in
it runs; ``save_checkpoint`` leaves the old file whole when it fails."""
from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from msp_pynq.errors import MSPError
from msp_pynq.train import checkpoint as ckpt
from msp_pynq.train.checkpoint import FORMAT, load_checkpoint, save_checkpoint

from .bounded import assert_own_error, run_bounded


# --- building zips by hand (what zipfile would refuse to write) -------------------------------

def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=arr.dtype.hasobject)
    return buf.getvalue()


def npy_header(descr: str, shape: tuple) -> bytes:
    """A version 1.0 .npy header declaring ``shape`` of ``descr``, and nothing after it."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def zeros_bomb(head: bytes, total: int) -> "tuple[bytes, int, int]":
    """``(deflated data, crc, size)`` of ``head`` then zeros up to ``total`` bytes, built without
    deflating them all: a fully flushed deflate block of 1 MiB of zeros is self-contained, so
    the same block repeated inflates to that many MiB."""
    mib = 1 << 20
    n = (total - len(head)) // mib
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(b"\0" * mib) + c.flush(zlib.Z_FULL_FLUSH)
    data = first + block * n + c.flush()
    crc = zlib.crc32(head)
    zero = b"\0" * mib
    for _ in range(n):
        crc = zlib.crc32(zero, crc)
    return data, crc, len(head) + n * mib


def write_zip(path, members) -> None:
    """A zip of ``members``: ``(name, data)`` (stored) or ``(name, data, crc, size, method)``,
    the sizes written as given (so they may lie)."""
    out, central = bytearray(), bytearray()
    for member in members:
        if len(member) == 2:
            name, data = member
            crc, size, method = zlib.crc32(data), len(data), 0
        else:
            name, data, crc, size, method = member
        raw = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(data), size,
                           len(raw), 0) + raw + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, crc,
                               len(data), size, len(raw), 0, 0, 0, 0, 0, offset) + raw
    out += central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members),
                                 len(central), len(out), 0)
    with open(path, "wb") as fh:
        fh.write(out)


def header_member(header) -> "tuple[str, bytes]":
    text = header if isinstance(header, str) else json.dumps(header)
    return ("header.npy", npy_bytes(np.frombuffer(text.encode(), np.uint8)))


GOOD_HEADER = {"format": FORMAT, "meta": {"epoch": 1}}


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def good(tmp_path):
    torch.manual_seed(0)
    model = Tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.fc(torch.ones(1, 3)).sum().backward()
    opt.step()
    path = tmp_path / "good.npz"
    save_checkpoint(path, model, {"epoch": 3, "history": []}, opt)
    return path


# --- files that are not checkpoints -----------------------------------------------------------

def test_genuine_checkpoint_still_loads(good):
    model = Tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    assert load_checkpoint(good, model, opt) == {"epoch": 3, "history": []}
    assert "momentum_buffer" in opt.state_dict()["state"][0]


@pytest.mark.parametrize("content, fragment", [
    (b"", "not a readable .npz file"),
    (b"not a zip at all" * 10, "not a readable .npz file"),
    (b"PK\x03\x04" + b"\0" * 40, "not a readable .npz file"),
])
def test_empty_and_non_zip_files(tmp_path, content, fragment):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    with pytest.raises(MSPError, match=fragment) as info:
        load_checkpoint(bad, Tiny())
    assert "bad.npz" in str(info.value)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_truncated_checkpoint(good, keep):
    data = good.read_bytes()
    good.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(MSPError, match="good.npz"):
        load_checkpoint(good, Tiny())


def test_fifo_folder_and_device_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "c.npz"
    os.mkfifo(fifo)
    # in a child with a CPU cap: a blocking open of the FIFO would hang it, not pass
    result = run_bounded(f"load_checkpoint({str(fifo)!r})",
                         "from msp_pynq.train.checkpoint import load_checkpoint", wall_s=120)
    assert_own_error(result, "c.npz", "FIFO")
    with pytest.raises(MSPError, match="is a folder"):
        load_checkpoint(tmp_path)
    with pytest.raises(MSPError, match="character device"):
        load_checkpoint("/dev/zero")
    with pytest.raises(MSPError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "none.npz")


# --- sizes: bombs and lying headers, in a child with memory capped at baseline + 256 MiB ------

PRELUDE = """
import torch
from msp_pynq.train.checkpoint import load_checkpoint
class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)
model = Tiny()
"""


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    total = ckpt.MAX_CHECKPOINT_BYTES + (256 << 20)
    head = npy_header("<f4", ((total - 128) // 4,))
    data, crc, size = zeros_bomb(head, total)
    assert len(data) < 2 << 20 and size > ckpt.MAX_CHECKPOINT_BYTES      # ~1 MB inflating to 1.25 GiB
    bomb = tmp_path / "bomb.npz"
    write_zip(bomb, [header_member(GOOD_HEADER), ("model/fc.weight.npy", data, crc, size, 8)])
    result = run_bounded(f"load_checkpoint({str(bomb)!r}, model)", PRELUDE)
    assert_own_error(result, "bomb.npz", "declares", "more than")


def test_member_declaring_less_than_it_inflates_to_stops_at_its_declared_size(tmp_path):
    """zipfile stops at the declared size and checks the CRC: a lie is an error, not a flood."""
    head = npy_header("<f4", (6,))
    data, crc, size = zeros_bomb(head, 512 << 20)
    liar = tmp_path / "liar.npz"
    write_zip(liar, [header_member(GOOD_HEADER), ("model/fc.weight.npy", data, crc, len(head) + 24, 8)])
    result = run_bounded(f"load_checkpoint({str(liar)!r}, model)", PRELUDE)
    assert_own_error(result, "liar.npz")


@pytest.mark.parametrize("shape", [(1 << 20, 1 << 20), (1 << 40,), (1 << 62, 4)])
def test_npy_header_shape_larger_than_its_data(tmp_path, shape):
    crafted = tmp_path / "shape.npz"
    write_zip(crafted, [header_member(GOOD_HEADER),
                        ("model/fc.weight.npy", npy_header("<f4", shape) + b"\0" * 64)])
    result = run_bounded(f"load_checkpoint({str(crafted)!r}, model)", PRELUDE)
    assert_own_error(result, "shape.npz", "fc.weight", "header says")


def test_negative_shape_is_refused(tmp_path):
    crafted = tmp_path / "neg.npz"
    write_zip(crafted, [header_member(GOOD_HEADER),
                        ("model/fc.weight.npy", npy_header("<f4", (-2, -2)) + b"\0" * 16)])
    with pytest.raises(MSPError, match="neg.npz"):
        load_checkpoint(crafted, Tiny())


def test_object_dtype_member_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "owned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    member = npy_bytes(np.array([Evil()], dtype=object))
    crafted = tmp_path / "obj.npz"
    write_zip(crafted, [header_member(GOOD_HEADER), ("model/fc.weight.npy", member)])
    with pytest.raises(MSPError, match=r"obj\.npz.*fc\.weight.*dtype object refused"):
        load_checkpoint(crafted, Tiny())
    assert not marker.exists()


@pytest.mark.parametrize("descr", ["|V8", "<U4", "|S4", "<M8[s]", [("a", "<f4")]])
def test_non_numeric_dtypes_are_refused(tmp_path, descr):
    head = npy_header(descr, (1,))
    crafted = tmp_path / "dt.npz"
    write_zip(crafted, [header_member(GOOD_HEADER), ("model/fc.weight.npy", head + b"\0" * 16)])
    with pytest.raises(MSPError, match="refused; only plain numeric"):
        load_checkpoint(crafted, Tiny())


def test_unsupported_compression_and_foreign_members(tmp_path):
    crafted = tmp_path / "bz.npz"
    write_zip(crafted, [header_member(GOOD_HEADER), ("model/fc.weight.npy", b"xx", 0, 2, 12)])
    with pytest.raises(MSPError, match="compressed with method 12"):
        load_checkpoint(crafted)
    crafted = tmp_path / "extra.npz"
    write_zip(crafted, [header_member(GOOD_HEADER), ("notes.txt", b"hello")])
    with pytest.raises(MSPError, match="not a .npy array"):
        load_checkpoint(crafted)
    write_zip(crafted, [header_member(GOOD_HEADER), ("other.npy", npy_bytes(np.zeros(2)))])
    with pytest.raises(MSPError, match="neither model/ nor optim/"):
        load_checkpoint(crafted)
    write_zip(crafted, [header_member(GOOD_HEADER), header_member(GOOD_HEADER)])
    with pytest.raises(MSPError, match="twice"):
        load_checkpoint(crafted)


# --- the JSON header --------------------------------------------------------------------------

@pytest.mark.parametrize("text, fragment", [
    ('{"format": "%s", "meta": {"loss": NaN}}' % FORMAT, "NaN"),
    ('{"format": "%s", "meta": {}, "meta": {}}' % FORMAT, "twice"),
    ('{"format": "%s", "meta": %s}' % (FORMAT, "[" * 100 + "]" * 100), "nested more than"),
    ('{"format": "%s", "meta": {' % FORMAT, "not valid JSON"),
    ('[1, 2]', "expected an object"),
    ('{"format": "other/9", "meta": {}}', "checkpoint format"),
    ('{"format": "%s"}' % FORMAT, "'meta' is NoneType"),
    ('{"format": "%s", "meta": [1]}' % FORMAT, "'meta' is list"),
    ('{"format": "%s", "meta": {}, "optimizer_groups": {}}' % FORMAT, "'optimizer_groups' is dict"),
    ('{"format": "%s", "meta": {}, "optimizer_scalars": []}' % FORMAT, "'optimizer_scalars' is list"),
    ('{"format": "%s", "meta": {}, "surprise": 1}' % FORMAT, "unknown fields"),
])
def test_bad_headers(tmp_path, text, fragment):
    crafted = tmp_path / "h.npz"
    write_zip(crafted, [header_member(text)])
    with pytest.raises(MSPError, match=fragment) as info:
        load_checkpoint(crafted, Tiny())
    assert "h.npz" in str(info.value)


def test_header_not_utf8_missing_or_not_bytes(tmp_path):
    crafted = tmp_path / "h.npz"
    write_zip(crafted, [("header.npy", npy_bytes(np.frombuffer(b"\xff\xfe{}", np.uint8)))])
    with pytest.raises(MSPError, match="not UTF-8"):
        load_checkpoint(crafted)
    write_zip(crafted, [("model/fc.bias.npy", npy_bytes(np.zeros(2, np.float32)))])
    with pytest.raises(MSPError, match="no uint8 'header' array"):
        load_checkpoint(crafted)
    write_zip(crafted, [("header.npy", npy_bytes(np.zeros(3, np.float32)))])
    with pytest.raises(MSPError, match="no uint8 'header' array"):
        load_checkpoint(crafted)


def test_state_that_does_not_fit(tmp_path):
    crafted = tmp_path / "fit.npz"
    write_zip(crafted, [header_member(GOOD_HEADER),
                        ("model/fc.weight.npy", npy_bytes(np.zeros((5, 5), np.float32))),
                        ("model/fc.bias.npy", npy_bytes(np.zeros(2, np.float32)))])
    with pytest.raises(MSPError, match="does not fit the model"):
        load_checkpoint(crafted, Tiny())
    write_zip(crafted, [header_member(GOOD_HEADER),
                        ("model/fc.weight.npy", npy_bytes(np.zeros((2, 3), np.uint16))),
                        ("model/fc.bias.npy", npy_bytes(np.zeros(2, np.float32)))])
    try:
        load_checkpoint(crafted, Tiny())              # a torch that holds uint16 loads it
    except MSPError as exc:
        assert "fit.npz" in str(exc)


@pytest.mark.parametrize("groups, fragment", [
    ([{"params": [0, 1]}, {"params": [2]}], "does not fit the optimizer"),
    ([{"params": "all"}], "'params' list of integers"),
    ([7], "'params' list of integers"),
])
def test_optimizer_state_that_does_not_fit(tmp_path, groups, fragment):
    crafted = tmp_path / "opt.npz"
    header = dict(GOOD_HEADER, optimizer_groups=groups)
    write_zip(crafted, [header_member(header)])
    model = Tiny()
    with pytest.raises(MSPError, match=fragment):
        load_checkpoint(crafted, None, torch.optim.SGD(model.parameters(), lr=0.1))


def test_bad_optimizer_entries(tmp_path, good):
    model = Tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    groups = opt.state_dict()["param_groups"]
    crafted = tmp_path / "opt.npz"
    write_zip(crafted, [header_member(dict(GOOD_HEADER, optimizer_groups=groups)),
                        ("optim/x/momentum_buffer.npy", npy_bytes(np.zeros(2, np.float32)))])
    with pytest.raises(MSPError, match="not <index>/<name>"):
        load_checkpoint(crafted, None, opt)
    write_zip(crafted, [header_member(dict(GOOD_HEADER, optimizer_groups=groups,
                                           optimizer_scalars={"0/step": {"a": 1}}))])
    with pytest.raises(MSPError, match="is not a number"):
        load_checkpoint(crafted, None, opt)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_damaged_checkpoints_end_in_msperror(tmp_path_factory, data):
    torch.manual_seed(0)
    model = Tiny()
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "c.npz"
    save_checkpoint(path, model, {"epoch": 1})
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path.write_bytes(bytes(raw[:data.draw(st.integers(1, len(raw)))]))
    try:
        load_checkpoint(path, Tiny())
    except MSPError as exc:
        assert "c.npz" in str(exc)


# --- saving -----------------------------------------------------------------------------------

def test_save_is_atomic_and_leaves_the_old_file_on_failure(good, monkeypatch):
    before = sha(good)

    def broken(fh, **arrays):
        fh.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(good, Tiny(), {"epoch": 9})
    assert sha(good) == before
    assert sorted(p.name for p in good.parent.iterdir()) == ["good.npz"]       # no temp left


def test_non_finite_meta_is_saved_as_null(tmp_path):
    path = tmp_path / "nan.npz"
    save_checkpoint(path, Tiny(), {"history": [{"val_loss": float("nan")}], "best": float("inf")})
    assert load_checkpoint(path) == {"history": [{"val_loss": None}], "best": None}
