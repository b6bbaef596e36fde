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
import struct
from pathlib import Path

import numpy as np

from ..errors import MSPError

MAGIC = b"MSPB\r\n\x1a\n"
VERSION = 1
MAX_HEADER = 16 << 20
ALIGN = 64
DTYPES = ("uint8", "int8", "int16", "int32", "int64", "float32", "float64")


class BundleError(MSPError):
    """A bundle file is damaged, of an unsupported version, or does not fit this board/engine."""


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
    out = bytearray(start + rel)
    out[:16] = MAGIC + struct.pack("<II", VERSION, len(header))
    out[16:16 + len(header)] = header
    out[16 + len(header):48 + len(header)] = hashlib.sha256(header).digest()
    for offset, data in blobs:
        out[start + offset:start + offset + len(data)] = data
    Path(path).write_bytes(bytes(out))
    return len(out)


def _header(manifest: dict, table: dict, start: int, width: int) -> bytes:
    shifted = {k: dict(v, offset=f"{start + v['offset']:0{width}d}") for k, v in table.items()}
    text = json.dumps({"manifest": manifest, "arrays": shifted}, sort_keys=True)
    return text.encode()


def read_container(source: "str | Path | bytes") -> tuple[dict, "dict[str, np.ndarray]"]:
    """``(manifest, arrays)`` of a bundle file (or its bytes); raises BundleError on any damage."""
    name = "<bytes>" if isinstance(source, (bytes, bytearray)) else str(source)
    try:
        raw = bytes(source) if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    except OSError as exc:
        raise BundleError(f"{name}: cannot read bundle ({exc.strerror or exc})") from None
    if len(raw) < 48 or raw[:8] != MAGIC:
        raise BundleError(f"{name}: not an msp-pynq bundle (bad magic or shorter than 48 bytes)")
    version, hlen = struct.unpack("<II", raw[8:16])
    if version > VERSION:
        raise BundleError(f"{name}: bundle format version {version} is newer than this msp-pynq "
                          f"reads ({VERSION}); upgrade msp-pynq")
    if version < 1:
        raise BundleError(f"{name}: invalid bundle format version {version}")
    if hlen > MAX_HEADER or 48 + hlen > len(raw):
        raise BundleError(f"{name}: truncated bundle (header of {hlen} bytes, file of {len(raw)})")
    header = raw[16:16 + hlen]
    if hashlib.sha256(header).digest() != raw[16 + hlen:48 + hlen]:
        raise BundleError(f"{name}: header checksum mismatch (the file is corrupted)")
    try:
        doc = json.loads(header.decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"{name}: header is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("manifest"), dict) \
            or not isinstance(doc.get("arrays"), dict):
        raise BundleError(f"{name}: header lacks a manifest or an array table")
    arrays = {key: _array(name, key, spec, raw, 48 + hlen) for key, spec in doc["arrays"].items()}
    return doc["manifest"], arrays


def _array(name: str, key: str, spec, raw: bytes, data_start: int) -> np.ndarray:
    where = f"{name}: array {key!r}"
    if not isinstance(spec, dict):
        raise BundleError(f"{where}: malformed table entry")
    dtype, shape = spec.get("dtype"), spec.get("shape")
    if dtype not in DTYPES:
        raise BundleError(f"{where}: dtype {dtype!r} not allowed")
    if not isinstance(shape, list) or len(shape) > 8 or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 1 << 40 for d in shape):
        raise BundleError(f"{where}: malformed shape {shape!r}")
    try:
        offset, nbytes = int(spec.get("offset")), int(spec.get("nbytes"))
    except (TypeError, ValueError):
        raise BundleError(f"{where}: malformed offset or size") from None
    itemsize = np.dtype(dtype).itemsize
    if nbytes != int(np.prod(shape, dtype=object)) * itemsize:
        raise BundleError(f"{where}: {nbytes} bytes do not hold {dtype} {shape}")
    if offset < data_start or offset + nbytes > len(raw) or offset % ALIGN:
        raise BundleError(f"{where}: bytes {offset}..{offset + nbytes} outside the file's data "
                          f"(truncated or corrupted bundle)")
    data = raw[offset:offset + nbytes]
    if hashlib.sha256(data).hexdigest() != spec.get("sha256"):
        raise BundleError(f"{where}: checksum mismatch (the file is corrupted)")
    return np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape).astype(dtype)
