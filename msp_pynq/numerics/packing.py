"""Wire layout of weight rows: 4-bit codes two per byte, 8-bit codes one per byte.

A layer's weights travel row after row (output channel 0 first). A row of K
weights in kernel order (kh, kw, cin) takes ``ceil(K/2)`` bytes for a 4-bit
scheme (element 2i in bits 3..0, element 2i+1 in bits 7..4, a pad nibble 0
when K is odd) and K bytes for fixed8. docs/numerics.md, "Wire encoding".

>>> buf = pack_rows(np.array([[1, -1, 7]]), np.array([0], dtype=np.uint8))
>>> buf.tolist()      # codes 0x1, 0xF, 0x7 -> bytes 0xF1, 0x07
[241, 7]
>>> unpack_rows(buf, np.array([0], dtype=np.uint8), 3).tolist()
[[1, -1, 7]]
"""
from __future__ import annotations

import numpy as np

from ..errors import ContractError
from .schemes import Scheme, decode, encode, parse_schemes


def row_nbytes(scheme: Scheme, k: int) -> int:
    """Bytes one row of ``k`` weights takes on the wire."""
    return k if scheme is Scheme.FIXED8 else (k + 1) // 2


def pack_nibbles(codes: np.ndarray) -> np.ndarray:
    """Pack 4-bit codes along the last axis, low nibble first, padding odd lengths with 0."""
    c = np.asarray(codes, dtype=np.uint8)
    if c.shape[-1] % 2:
        c = np.concatenate([c, np.zeros(c.shape[:-1] + (1,), np.uint8)], axis=-1)
    return (c[..., 0::2] | (c[..., 1::2] << 4)).astype(np.uint8)


def unpack_nibbles(packed: np.ndarray, k: int) -> np.ndarray:
    """Inverse of :func:`pack_nibbles`: the first ``k`` 4-bit codes along the last axis."""
    p = np.asarray(packed, dtype=np.uint8)
    out = np.empty(p.shape[:-1] + (2 * p.shape[-1],), np.uint8)
    out[..., 0::2], out[..., 1::2] = p & 0xF, p >> 4
    return out[..., :k]


def pack_rows(values: np.ndarray, schemes: np.ndarray) -> np.ndarray:
    """Encode and pack a ``[rows, K]`` integer weight matrix into one ``uint8`` buffer."""
    v = np.asarray(values)
    schemes = parse_schemes(schemes)
    if v.ndim != 2 or v.shape[0] != schemes.size:
        raise ContractError(f"pack_rows: weights of shape {v.shape} do not match "
                            f"{schemes.size} row schemes (expected [rows, K])")
    parts = []
    for row, s in enumerate(schemes):
        scheme = Scheme(int(s))
        try:
            codes = encode(v[row], scheme)
        except ContractError as exc:
            raise ContractError(f"row {row}: {exc}") from None
        parts.append(codes if scheme is Scheme.FIXED8 else pack_nibbles(codes))
    return np.concatenate(parts) if parts else np.zeros(0, np.uint8)


def packed_nbytes(schemes: np.ndarray, k: int) -> int:
    """Total bytes of :func:`pack_rows` output for these row schemes."""
    return sum(row_nbytes(Scheme(int(s)), k) for s in parse_schemes(schemes))


def unpack_rows(buf: np.ndarray, schemes: np.ndarray, k: int) -> np.ndarray:
    """Unpack and decode a :func:`pack_rows` buffer back to an ``int8 [rows, K]`` matrix."""
    schemes = parse_schemes(schemes)
    b = np.asarray(buf)
    if b.dtype != np.uint8 or b.ndim != 1:
        raise ContractError(f"unpack_rows: expected a 1-D uint8 buffer, found {b.dtype} {b.shape}")
    need = packed_nbytes(schemes, k)
    if b.size != need:
        raise ContractError(f"unpack_rows: buffer holds {b.size} bytes, the {schemes.size} rows "
                            f"of K={k} need {need}")
    out = np.empty((schemes.size, k), np.int8)
    pos = 0
    for row, s in enumerate(schemes):
        scheme = Scheme(int(s))
        n = row_nbytes(scheme, k)
        chunk = b[pos:pos + n]
        if scheme is not Scheme.FIXED8 and k % 2 and chunk[-1] >> 4:
            raise ContractError(f"row {row}: pad nibble of the last byte is {int(chunk[-1] >> 4)}, "
                                f"expected 0")
        codes = chunk if scheme is Scheme.FIXED8 else unpack_nibbles(chunk, k)
        try:
            out[row] = decode(codes, scheme)
        except ContractError as exc:
            raise ContractError(f"row {row}: {exc}") from None
        pos += n
    return out
