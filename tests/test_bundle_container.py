"""The bundle container: round trips, every kind of damage, and a fuzzer."""
from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msp_pynq.bundle.container import MAGIC, BundleError, read_container, write_container


@pytest.fixture
def sample(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"w": rng.integers(0, 256, 1000, dtype=np.uint8),
              "bias": rng.integers(-2**31, 2**31 - 1, 16, dtype=np.int64).astype(np.int32),
              "scale": rng.random((4, 4)), "empty": np.zeros((0, 3), np.int8)}
    manifest = {"model": "test", "classes": ["a", "b"], "nested": {"k": [1, 2, 3]}}
    path = tmp_path / "m.mspb"
    size = write_container(path, manifest, arrays)
    return path, manifest, arrays, size


def test_round_trip(sample):
    path, manifest, arrays, size = sample
    assert path.stat().st_size == size
    got_manifest, got = read_container(path)
    assert got_manifest == manifest
    assert set(got) == set(arrays)
    for k, v in arrays.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape
        np.testing.assert_array_equal(got[k], v)


def test_truncated(sample):
    path, *_ = sample
    raw = path.read_bytes()
    for cut in (0, 10, 47, 60, len(raw) // 2, len(raw) - 1):
        with pytest.raises(BundleError, match="truncated|not an msp-pynq bundle|outside"):
            read_container(raw[:cut])


def test_flipped_data_byte_is_a_checksum_mismatch(sample):
    path, *_ = sample
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0x01
    with pytest.raises(BundleError, match="array 'scale'.*checksum mismatch"):
        read_container(bytes(raw))


def test_flipped_header_byte_is_a_header_checksum_mismatch(sample):
    path, *_ = sample
    raw = bytearray(path.read_bytes())
    raw[30] ^= 0x20
    with pytest.raises(BundleError, match="header checksum mismatch"):
        read_container(bytes(raw))


def test_newer_version_is_refused_clearly(sample):
    path, *_ = sample
    raw = bytearray(path.read_bytes())
    raw[8:12] = struct.pack("<I", 2)
    with pytest.raises(BundleError, match="version 2 is newer.*upgrade"):
        read_container(bytes(raw))


def test_not_a_bundle(tmp_path):
    (tmp_path / "x.onnx").write_bytes(b"\x08\x07" + b"\x00" * 100)
    with pytest.raises(BundleError, match="not an msp-pynq bundle"):
        read_container(tmp_path / "x.onnx")
    with pytest.raises(BundleError, match="cannot read"):
        read_container(tmp_path / "missing.mspb")


def test_unstorable_dtype(tmp_path):
    with pytest.raises(BundleError, match="not storable"):
        write_container(tmp_path / "o.mspb", {}, {"o": np.array(["a"], dtype=object)})


_MUTATIONS = st.lists(st.tuples(st.sampled_from(["flip", "set", "cut", "insert"]),
                                st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=4)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_MUTATIONS)
def test_fuzz_only_bundle_errors(sample, mutations):
    """Any damage gives a BundleError (or, for damage to padding, the intact data): never
    another exception, never a hang (the deadline)."""
    path, manifest, arrays, _ = sample
    raw = bytearray(path.read_bytes())
    for kind, pos, value in mutations:
        pos %= max(1, len(raw))
        if not raw and kind in ("flip", "set"):
            continue
        if kind == "flip":
            raw[pos] ^= 1 << (value % 8)
        elif kind == "set":
            raw[pos] = value
        elif kind == "cut":
            raw = raw[:pos]
        else:
            raw[pos:pos] = bytes([value])
    try:
        got_manifest, got = read_container(bytes(raw))
    except BundleError:
        return
    assert got_manifest == manifest
    for k, v in arrays.items():
        np.testing.assert_array_equal(got[k], v)


@settings(max_examples=100, deadline=2000)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes_after_magic(tail):
    with pytest.raises(BundleError):
        read_container(MAGIC + tail)
