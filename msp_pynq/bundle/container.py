"""The model-bundle container: one file holding a JSON header and checksummed integer arrays.

Layout (all integers little-endian; docs/formats.md):

    0   8 bytes   magic  b"MSPB\\r\\n\\x1a\\n"
    8   uint32    format version (this code writes and reads 1)
    12  uint32    header length H (at most 16 MiB)
    16  H bytes   header, UTF-8 JSON: {"manifest": {...}, "arrays": {name: {dtype, shape,
                  offset, nbytes, sha256}}}
    16+H 32 bytes SHA-256 of the header bytes
    ...           array data, each array at its 64-byte aligned offset

Reading needs numpy alone and never unpickles: every array is ``np.frombuffer`` of checked
bytes. Any damage — truncation, a flipped bit, a header that lies — raises :class:`BundleError`.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import struct
from pathlib import Path

import numpy as np

from ..errors import BundleError, MSPError  # noqa: F401  (BundleError: the bundle format's error)
from ..fileio import atomic_output, check_regular_file, show, strict_json

MAGIC = b"MSPB\r\n\x1a\n"
VERSION = 1
MAX_HEADER = 16 << 20
#: Largest bundle file read (1 GiB): far above any model the engines run (a ResNet-20 is
#: 190 KB), small enough that a damaged or hostile file cannot exhaust a board's memory.
MAX_BUNDLE = 1 << 30
MAX_NDIM = 8
ALIGN = 64
DTYPES = ("uint8", "int8", "int16", "int32", "int64", "float32", "float64")


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def write_container(path: "str | Path", manifest: dict, arrays: "dict[str, np.ndarray]") -> int:
    """Write ``manifest`` and ``arrays`` to ``path``; returns the file size in bytes."""
    table, blobs = {}, []
    # offsets depend on the header length, which depends on the offsets: fix the header size
    # by first laying arrays out relative to the data start, then shifting once.
    rel = 0
    for name, arr in arrays.items():
        a = np.ascontiguousarray(arr)
        if a.dtype.name not in DTYPES:
            raise BundleError(f"array {name!r}: dtype {a.dtype} not storable (allowed: {DTYPES})")
        data = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        table[name] = {"dtype": a.dtype.name, "shape": list(a.shape), "offset": rel,
                       "nbytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        blobs.append((rel, data))
        rel = _align(rel + len(data))
    for width in range(12, 22):        # digits reserved for offsets: grows until stable
        start = _align(16 + 32 + len(_header(manifest, table, 0, width)))
        header = _header(manifest, table, start, width)
        if _align(16 + 32 + len(header)) == start:
            break
    prefix = MAGIC + struct.pack("<II", VERSION, len(header)) + header + hashlib.sha256(header).digest()
    try:
        with atomic_output(path) as tmp:            # an interrupted write leaves the old file
            with open(tmp, "wb") as fh:
                _write_body(fh, prefix, start, blobs, start + rel)
    except OSError as exc:
        raise BundleError(f"{show(path)}: cannot write bundle ({exc.strerror or exc})") from None
    return start + rel


def _write_body(fh, prefix: bytes, start: int, blobs: list, size: int) -> None:
    fh.write(prefix)
    for offset, data in blobs:
        fh.seek(start + offset)
        fh.write(data)
    fh.truncate(size)                                 # the zero padding after the last array


def _header(manifest: dict, table: dict, start: int, width: int) -> bytes:
    shifted = {k: dict(v, offset=f"{start + v['offset']:0{width}d}") for k, v in table.items()}
    try:
        # allow_nan=False: the reader refuses NaN/Infinity, so the writer never emits them
        text = json.dumps({"manifest": manifest, "arrays": shifted}, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BundleError(f"manifest cannot be stored as JSON ({exc})") from None
    return text.encode()


def read_container(source: "str | Path | bytes") -> tuple[dict, "dict[str, np.ndarray]"]:
    """``(manifest, arrays)`` of a bundle file (or its bytes); raises BundleError on any damage.

    A file is checked to be a regular file of at most :data:`MAX_BUNDLE` bytes before anything
    is read, and only the header and the bytes its table names are read: every size is checked
    against the file's before it is allocated.
    """
    if isinstance(source, (bytes, bytearray)):
        raw = bytes(source)
        return _read(_BytesSource(raw), "<bytes>")
    name = show(source)
    try:
        path = check_regular_file(source, "bundle")
    except MSPError as exc:
        raise BundleError(f"cannot read bundle: {exc}") from None
    try:
        # O_NONBLOCK: a path swapped for a FIFO after the check does not block the open
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise BundleError(f"{name}: cannot read bundle ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise BundleError(f"{name}: cannot read bundle: not a regular file")
        if st.st_size > MAX_BUNDLE:
            raise BundleError(f"{name}: bundle of {st.st_size:,} bytes is larger than the "
                              f"{MAX_BUNDLE:,} a bundle may have (damaged, or not a bundle)")
        try:
            return _read(_FileSource(fh, st.st_size), name)
        except OSError as exc:
            raise BundleError(f"{name}: cannot read bundle ({exc.strerror or exc})") from None


class _BytesSource:
    def __init__(self, raw: bytes) -> None:
        self.raw, self.size = raw, len(raw)

    def read(self, offset: int, n: int) -> bytes:
        return self.raw[offset:offset + n]


class _FileSource:
    def __init__(self, fh, size: int) -> None:
        self.fh, self.size = fh, size

    def read(self, offset: int, n: int) -> bytes:
        # n <= size - offset was checked by the caller: a file that shrinks reads short
        self.fh.seek(offset)
        return self.fh.read(n)


def _read(src, name: str) -> tuple[dict, "dict[str, np.ndarray]"]:
    head = src.read(0, 16)
    if len(head) < 16 or src.size < 48 or head[:8] != MAGIC:
        raise BundleError(f"{name}: not an msp-pynq bundle (bad magic or shorter than 48 bytes)")
    version, hlen = struct.unpack("<II", head[8:16])
    if version > VERSION:
        raise BundleError(f"{name}: bundle format version {version} is newer than this msp-pynq "
                          f"reads ({VERSION}); upgrade msp-pynq")
    if version < 1:
        raise BundleError(f"{name}: invalid bundle format version {version}")
    if hlen > MAX_HEADER or 48 + hlen > src.size:
        raise BundleError(f"{name}: truncated bundle (header of {hlen} bytes, file of {src.size})")
    block = src.read(16, hlen + 32)
    header, digest = block[:hlen], block[hlen:]
    if hashlib.sha256(header).digest() != digest:
        raise BundleError(f"{name}: header checksum mismatch (the file is corrupted)")
    try:
        doc = strict_json(header, f"{name}: header")
    except MSPError as exc:
        raise BundleError(str(exc)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("manifest"), dict) \
            or not isinstance(doc.get("arrays"), dict):
        raise BundleError(f"{name}: header lacks a manifest or an array table")
    table = {key: _entry(name, key, spec, 48 + hlen, src.size) for key, spec in doc["arrays"].items()}
    _check_layout(name, table, 48 + hlen, src.size)
    arrays = {key: _array(name, key, entry, src) for key, entry in table.items()}
    return doc["manifest"], arrays


def _int_field(where: str, field: str, value) -> int:
    """A table integer: a JSON int, or for the offset the writer's fixed-width decimal string
    (a fixed width lets the writer size the header before it knows the offsets)."""
    if field == "offset" and isinstance(value, str) and value.isascii() and value.isdigit() \
            and len(value) <= 21:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise BundleError(f"{where}: {field} is {show(repr(value))}, expected a non-negative integer")


def _entry(name: str, key: str, spec, data_start: int, size: int) -> dict:
    """One array table entry, every field type-checked and the sizes against the file's."""
    where = f"{name}: array {show(repr(key))}"
    if not isinstance(spec, dict):
        raise BundleError(f"{where}: table entry is {type(spec).__name__}, expected an object")
    dtype, shape, sha = spec.get("dtype"), spec.get("shape"), spec.get("sha256")
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise BundleError(f"{where}: dtype {show(repr(dtype))} not allowed (allowed: {', '.join(DTYPES)})")
    if not isinstance(shape, list) or len(shape) > MAX_NDIM or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise BundleError(f"{where}: shape {show(repr(shape))}, expected a list of at most "
                          f"{MAX_NDIM} non-negative integers")
    if not isinstance(sha, str) or len(sha) != 64:
        raise BundleError(f"{where}: sha256 {show(repr(sha))}, expected 64 hex digits")
    offset = _int_field(where, "offset", spec.get("offset"))
    nbytes = _int_field(where, "nbytes", spec.get("nbytes"))
    want = math.prod(shape) * np.dtype(dtype).itemsize        # Python ints: no overflow
    if nbytes != want:
        raise BundleError(f"{where}: nbytes {nbytes} do not hold {dtype} {shape} ({want} bytes)")
    if offset < data_start or offset + nbytes > size or offset % ALIGN:
        raise BundleError(f"{where}: bytes {offset}..{offset + nbytes} outside the file's data "
                          f"{data_start}..{size} or not {ALIGN}-byte aligned (truncated or corrupted bundle)")
    return {"dtype": dtype, "shape": shape, "offset": offset, "nbytes": nbytes, "sha256": sha}


def _check_layout(name: str, table: dict, data_start: int, size: int) -> None:
    """Arrays may not share bytes (a table naming one array many times would multiply the memory
    a load takes), and the file ends where the writer ends it: no tail after the last array."""
    spans = sorted((e["offset"], e["offset"] + e["nbytes"], key) for key, e in table.items() if e["nbytes"])
    for (_, end_a, key_a), (start_b, _, key_b) in zip(spans, spans[1:]):
        if start_b < end_a:
            raise BundleError(f"{name}: arrays {show(repr(key_a))} and {show(repr(key_b))} overlap "
                              f"(bytes from {start_b} to {end_a}); each array needs its own bytes")
    end = _align(max([data_start] + [e for _, e, _ in spans]))
    if size > end:
        raise BundleError(f"{name}: {size - end:,} bytes after the last array (file of {size:,} "
                          f"bytes, the table ends at {end:,}); the file is damaged or was appended to")
    if size < end:
        raise BundleError(f"{name}: truncated bundle (file of {size:,} bytes, the table ends at {end:,})")


def _array(name: str, key: str, entry: dict, src) -> np.ndarray:
    where = f"{name}: array {show(repr(key))}"
    data = src.read(entry["offset"], entry["nbytes"])
    if len(data) != entry["nbytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise BundleError(f"{where}: checksum mismatch (the file is corrupted)")
    dtype = entry["dtype"]
    return np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<")).reshape(entry["shape"]).astype(dtype)
